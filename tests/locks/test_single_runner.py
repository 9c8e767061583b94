"""Single-runner proof: two gunicorn instances x 2 workers on one PostgreSQL; exactly one process runs jobs."""

import os
import secrets
import signal
import subprocess
import time

import pytest
import requests
from sqlalchemy import select

from extensions import db
from models import JobRun
from tests.conftest import LANE, PROJECT_ROOT, free_port

pytestmark = pytest.mark.skipif(LANE != "postgres", reason="leader election across processes needs PostgreSQL "
                                "(SQLite deployments are one process)")

GUNICORN = PROJECT_ROOT / ".venv" / "bin" / "gunicorn"


def _env(base_settings, instance, port, scheduler_enabled="true"):
    return {**os.environ, "DATABASE_URI": base_settings["database.uri"], "CONCIERGE_ENV": "testing",
            "CONCIERGE_INSTANCE": str(instance), "CONCIERGE_CONFIG": str(instance / "config.json"),
            "JWT_SECRET_KEY": secrets.token_urlsafe(48), "SCHEDULER_ENABLED": scheduler_enabled,
            "SCHEDULER_INTERVAL_SECONDS": "1", "SCHEDULER_STANDBY_POLL_SECONDS": "0.2", "FLASK_APP": "app",
            "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2", "ACCESS_LOG": "false",
            "LOG_JSON": "false",
            # shared limits: in-memory ones would make gunicorn run a single worker
            "RATELIMIT_STORAGE_URI": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")}


def _start_instance(base_settings, tmp_path, name, scheduler_enabled="true"):
    port = free_port()
    instance = tmp_path / name
    instance.mkdir()
    env = _env(base_settings, instance, port, scheduler_enabled)
    proc = subprocess.Popen([str(GUNICORN), "-c", "deploy/gunicorn.conf.py", "app:app"], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                return proc
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"gunicorn {name} did not start")


def _runs() -> list[tuple[int, object]]:
    db.session.rollback()  # a fresh snapshot each time
    return [(r.pid, r.started_at) for r in db.session.scalars(select(JobRun).order_by(JobRun.id))]


def _wait_for(predicate, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        runs = _runs()
        if predicate(runs):
            return runs
        time.sleep(0.25)
    return _runs()


def test_one_process_of_four_runs_the_jobs_and_a_standby_takes_over(app, base_settings, tmp_path):
    instances = [_start_instance(base_settings, tmp_path, name) for name in ("a", "b")]
    try:
        runs = _wait_for(lambda rs: len(rs) >= 9)
        pids = {pid for pid, _ in runs}
        assert len(runs) >= 9 and len(pids) == 1, runs
        leader = pids.pop()
        workers = {int(p) for inst in instances for p in subprocess.run(
            ["pgrep", "-P", str(inst.pid)], capture_output=True, text=True).stdout.split()}
        assert leader in workers and len(workers) == 4

        os.kill(leader, signal.SIGKILL)  # the leader dies; its PostgreSQL session (and the lock) goes with it
        before = len(runs)
        runs = _wait_for(lambda rs: len({pid for pid, _ in rs[before:]} - {leader}) >= 1
                         and len(rs) - before >= 6)
        later = [pid for pid, _ in runs[before:] if pid != leader]
        assert later and len(set(later)) == 1, runs[before:]
        # Never two runners at once: the run history is one block per leader, in order.
        blocks = [pid for i, (pid, _) in enumerate(runs) if i == 0 or runs[i - 1][0] != pid]
        assert blocks == [leader, later[0]], blocks
    finally:
        for proc in instances:
            proc.terminate()
        for proc in instances:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_scheduler_disabled_in_web_workers_and_run_by_a_dedicated_process(app, base_settings, tmp_path):
    web = _start_instance(base_settings, tmp_path, "web", scheduler_enabled="false")
    (tmp_path / "sched").mkdir()
    dedicated = subprocess.Popen([str(PROJECT_ROOT / ".venv" / "bin" / "flask"), "scheduler", "run"],
                                 cwd=PROJECT_ROOT, env=_env(base_settings, tmp_path / "sched", 0, "false"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        runs = _wait_for(lambda rs: len(rs) >= 6)
        assert len(runs) >= 6 and {pid for pid, _ in runs} == {dedicated.pid}, runs
    finally:
        for proc in (web, dedicated):
            proc.terminate()
        for proc in (web, dedicated):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
