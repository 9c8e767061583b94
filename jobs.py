"""Scheduled jobs: one list with stable ids, run by exactly one process of a deployment.

Every web process calls `start_scheduler(app)` (gunicorn's post_worker_init, `flask scheduler run`).
Each one tries to become the leader: on PostgreSQL by `pg_try_advisory_lock` on a connection it keeps
open, elsewhere by an exclusive file lock in `instance/`. The leader starts APScheduler (job store in
the main database); the others stand by and retry, so a leader that dies is replaced within one
poll interval. Jobs are idempotent and set-based, so a run that overlaps a takeover does no harm.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import text

import settings
from extensions import db
from services import clock

log = logging.getLogger("concierge.jobs")

ADVISORY_LOCK_KEY = 0x436F6E63  # "Conc": one key per database, shared by every process


@dataclass(frozen=True)
class Job:
    id: str
    target: str  # "module:function", called inside an app context with no arguments
    seconds: int
    description: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def function(self) -> Callable[..., Any]:
        module, _, name = self.target.partition(":")
        return getattr(import_module(module), name)


JOBS: list[Job] = [
    Job("purge_revoked_tokens", "services.tokens:purge_expired_revocations", 3600,
        "delete revocation rows of tokens that have expired anyway"),
    Job("purge_job_runs", "jobs:purge_job_runs", 86400, "keep 30 days of job run history"),
    Job("deliver_mail", "services.mail:deliver_due", 30, "send queued e-mails that are due (retries with backoff)"),
    Job("release_expired_locks", "services.locks:release_expired_locks", 3600,
        "release locks older than auto_release.hours when auto_release.enabled"),
    Job("expire_checkins", "services.checkin:expire_passes", 300,
        "mark expired vibe passes inactive (tidiness only: expiry is exact without it)"),
    Job("purge_app_sessions", "services.app_sessions:purge_expired_sessions", 300,
        "delete expired app sessions, their file rows and workspace folders"),
    Job("purge_api_interactions", "services.alohomora:purge_old_interactions", 86400,
        "keep 30 days of the API interaction log"),
    Job("purge_activity_data", "services.activity:purge_expired", 3600,
        "delete activity sessions and page visits older than analytics.retention_days"),
    Job("compact_rollups", "services.rollups:compact", 60,
        "sum each analytics rollup key's delta rows into one (reports are exact either way)"),
    Job("maintain_partitions", "services.partitions:maintain", 86400,
        "PostgreSQL: create page_visits' monthly partitions ahead of their first visit"),
]


def job_by_id(job_id: str) -> Job:
    for job in JOBS:
        if job.id == job_id:
            return job
    raise KeyError(job_id)


_app: Flask | None = None  # the app whose context jobs run in (one per process)


def run_job(job_id: str) -> Any:
    """APScheduler's entry point (stored by reference in the job store): run one job and record it."""
    assert _app is not None, "start_scheduler() binds the app first"
    with _app.app_context():
        return execute(job_id)


def execute(job_id: str) -> Any:
    """Run a job now, inside the current app context, writing a `job_runs` row."""
    from models import JobRun

    job = job_by_id(job_id)
    run = JobRun(job_id=job.id, host=socket.gethostname(), pid=os.getpid(), started_at=clock.now())
    db.session.add(run)
    db.session.commit()
    try:
        result = job.function()(**job.kwargs)
        run.result = str(result)[:200]
        run.ok = True
    except Exception as exc:  # noqa: BLE001 - a failing job must not kill the scheduler
        db.session.rollback()
        log.exception("job %s failed", job.id)
        run = db.session.merge(run)
        run.result, run.ok = repr(exc)[:200], False
        result = None
    run.finished_at = clock.now()
    db.session.commit()
    return result


def purge_job_runs(days: int = 30) -> int:
    from datetime import timedelta

    from models import JobRun

    deleted = JobRun.query.filter(JobRun.started_at < clock.now() - timedelta(days=days)).delete()
    db.session.commit()
    return deleted


class LeaderLock:
    """Exactly one holder per database: a PostgreSQL advisory lock, or a file lock for SQLite."""

    def __init__(self, app: Flask):
        self.app = app
        self._conn = None
        self._file = None

    def try_acquire(self) -> bool:
        with self.app.app_context():
            if db.engine.dialect.name == "postgresql":
                return self._try_advisory()
        return self._try_file()

    def _try_advisory(self) -> bool:
        conn = db.engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}).scalar()
        conn.commit()
        if got:
            # The lock lives as long as this session: keep the connection, out of the pool, so a
            # pooled reuse can never inherit leadership and closing it really ends the session.
            conn.detach()
            self._conn = conn
            return True
        conn.close()
        return False

    def _try_file(self) -> bool:
        path = Path(self.app.instance_path) / "scheduler.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "w")  # noqa: SIM115 - held open for the life of the process
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def still_held(self) -> bool:
        if self._conn is None:
            return self._file is not None
        try:
            self._conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - a dropped connection means the lock is gone
            return False

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
            except Exception:  # noqa: BLE001 - a dead connection released the lock already
                pass
            finally:
                self._conn.close()
                self._conn = None
        if self._file is not None:
            self._file.close()
            self._file = None


def build_scheduler(app: Flask):
    """APScheduler with its job store in the main database and every job of JOBS (re)declared."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    with app.app_context():
        store = SQLAlchemyJobStore(engine=db.engine, tablename="apscheduler_jobs")
        override = settings.static("scheduler.interval_override_seconds")
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone="UTC",
                                    job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300})
    for job in JOBS:
        scheduler.add_job("jobs:run_job", trigger="interval", seconds=override or job.seconds, id=job.id,
                          name=job.description, args=[job.id], replace_existing=True)
    return scheduler


def _lead(app: Flask, lock: LeaderLock, stop: threading.Event) -> None:
    """Stand by until this process holds the leader lock, run the scheduler while it does, repeat."""
    with app.app_context():
        poll = settings.static("scheduler.standby_poll_seconds")
    while not stop.is_set():
        if not lock.try_acquire():
            stop.wait(poll)
            continue
        log.info("scheduler leader: pid %s", os.getpid())
        scheduler = build_scheduler(app)
        scheduler.start()
        while not stop.wait(poll) and lock.still_held():
            pass
        scheduler.shutdown(wait=False)
        lock.release()
        log.info("scheduler leadership released: pid %s", os.getpid())


_stop = threading.Event()


def start_scheduler(app: Flask, *, block: bool = False) -> threading.Thread | None:
    """Join the leader election (in a daemon thread, or in this thread with `block`)."""
    global _app
    with app.app_context():
        if not settings.static("scheduler.enabled") and not block:
            log.info("scheduler disabled in this process (SCHEDULER_ENABLED=false)")
            return None
    _app = app
    _stop.clear()
    lock = LeaderLock(app)
    if block:
        _lead(app, lock, _stop)
        return None
    thread = threading.Thread(target=_lead, args=(app, lock, _stop), name="scheduler-leader", daemon=True)
    thread.start()
    return thread


def stop_scheduler() -> None:
    _stop.set()


