"""Activity session lifecycle (the Session Server API): start, pause, resume, end; duration counts active time only.

Rules: pause only when active, resume only when paused, end when active or paused, nothing after end
(409). A client `time` may not be before the session's last event (409) nor further ahead of the
server clock than `analytics.max_future_seconds` (422).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update

import settings
from errors import ApiError, conflict, not_found
from extensions import db
from models import ActivitySession, PageRollup, PageVisit, SessionEvent
from services import clock, partitions, rollups

# event type -> (statuses it may follow, status it leads to)
TRANSITIONS = {
    "pause": (("active",), "paused"),
    "resume": (("paused",), "active"),
    "end": (("active", "paused"), "ended"),
}


def event_time(value: datetime | None) -> datetime:
    """The client's time as naive UTC (default: now); refused when too far in the future."""
    now = clock.now()
    if value is None:
        return now
    at = clock.to_naive_utc(value)
    ahead = settings.get("analytics.max_future_seconds")
    if at > now + timedelta(seconds=ahead):
        raise ApiError(422, "time is in the future", {"field": "time", "max_ahead_seconds": ahead,
                                                        "server_time": now.isoformat() + "Z"})
    return at


def start_session(app: str, user: str, at: datetime | None = None) -> ActivitySession:
    """A new active session starting at `at`."""
    started = event_time(at)
    session = ActivitySession(app=app, user=user, status="active", started_at=started, active_seconds=0.0,
                              last_resumed_at=started, last_event_at=started)
    db.session.add(session)
    db.session.flush()
    db.session.add(SessionEvent(session_id=session.id, type="start", at=started))
    rollups.session_started(app, started)
    db.session.commit()
    return session


def find_session(app: str, user: str, session_id: str) -> ActivitySession:
    """The session of this (app, user), or 404 (a malformed id is simply not found)."""
    try:
        key = uuid.UUID(str(session_id))
    except ValueError:
        raise not_found("Session") from None
    query = db.select(ActivitySession).where(ActivitySession.id == key, ActivitySession.app == app,
                                             ActivitySession.user == user)
    session = db.session.execute(query).scalar_one_or_none()
    if session is None:
        raise not_found("Session")
    return session


def _check(session: ActivitySession, kind: str, when: datetime) -> None:
    allowed_from = TRANSITIONS[kind][0]
    if session.status not in allowed_from:
        raise conflict(f"Cannot {kind} a session that is {session.status}",
                       {"status": session.status, "allowed_from": list(allowed_from)})
    if when < session.last_event_at:
        raise conflict("time is before the session's last event",
                       {"time": when.isoformat() + "Z", "last_event_at": session.last_event_at.isoformat() + "Z"})


def apply_event(app: str, user: str, session_id: str, kind: str, at: datetime | None = None) -> ActivitySession:
    """Pause, resume or end a session, accumulating its active time."""
    new_status = TRANSITIONS[kind][1]
    when = event_time(at)
    session = find_session(app, user, session_id)
    _check(session, kind, when)
    values: dict = {"status": new_status, "last_event_at": when,
                    "last_resumed_at": when if new_status == "active" else None}
    if session.status == "active":
        values["active_seconds"] = session.active_seconds + (when - session.last_resumed_at).total_seconds()
    if new_status == "ended":
        values["ended_at"] = when
    # compare-and-set on the state just read: of concurrent events exactly one applies, on SQLite too
    changed = db.session.execute(
        update(ActivitySession)
        .where(ActivitySession.id == session.id, ActivitySession.status == session.status,
               ActivitySession.last_event_at == session.last_event_at)
        .values(**values).execution_options(synchronize_session=False)).rowcount
    if not changed:
        db.session.rollback()
        _check(find_session(app, user, session_id), kind, when)
        raise conflict("The session changed at the same time; retry")
    db.session.add(SessionEvent(session_id=session.id, type=kind, at=when))
    if new_status == "ended":
        rollups.session_ended(app, session.started_at, values.get("active_seconds", session.active_seconds))
    db.session.commit()  # expires `session`: its attributes are read back as stored
    return session


# ---------------------------------------------------------------- data lifecycle: retention and erasure

def _delete_sessions(where) -> int:
    """Delete sessions matching `where` and their events (explicitly: SQLite may not enforce cascades)."""
    ids = db.select(ActivitySession.id).where(*where)
    db.session.execute(db.delete(SessionEvent).where(SessionEvent.session_id.in_(ids)))
    return db.session.execute(db.delete(ActivitySession).where(*where)).rowcount


def erase_user_data(app: str, user: str) -> dict[str, int]:
    """Erasure request: every session, event and page visit of one tracked user of one app, and their
    share of the rollups (the buckets they touched are summed again from what remains)."""
    def work() -> dict[str, int]:
        session_buckets = rollups.buckets_of(rollups.SESSIONS, ActivitySession.app == app,
                                             ActivitySession.user == user).get(app, [])
        visit_buckets = rollups.buckets_of(rollups.PAGES, PageVisit.app == app, PageVisit.user == user).get(app, [])
        sessions = _delete_sessions([ActivitySession.app == app, ActivitySession.user == user])
        visits = db.session.execute(db.delete(PageVisit).where(PageVisit.app == app, PageVisit.user == user)).rowcount
        rollups.recompute(rollups.SESSIONS, app, session_buckets)
        rollups.recompute(rollups.PAGES, app, visit_buckets)
        return {"sessions": sessions, "page_visits": visits}
    return rollups.in_one_snapshot(work)


def purge_expired() -> dict[str, int]:
    """Retention job: delete data older than `analytics.retention_days` (0 keeps everything).

    PostgreSQL drops whole months of page visits (services/partitions.py) before deleting the rest."""
    days = settings.get("analytics.retention_days")
    if not days:
        return {"sessions": 0, "page_visits": 0}
    cutoff = clock.now() - timedelta(days=days)
    dropped = partitions.drop_before(cutoff)
    edge = rollups.floor(cutoff, rollups.PAGE_GRAIN)

    def work() -> dict[str, int]:
        # a session is old once its last event is; a long-running one is kept while it is still used
        old = [ActivitySession.last_event_at < cutoff]
        session_buckets = rollups.buckets_of(rollups.SESSIONS, *old)
        sessions = _delete_sessions(old)
        visits = db.session.execute(db.delete(PageVisit).where(PageVisit.visited_at < cutoff)).rowcount
        for app, buckets in session_buckets.items():
            rollups.recompute(rollups.SESSIONS, app, buckets)
        edge_apps = db.session.scalars(select(PageRollup.app).where(PageRollup.bucket <= edge).distinct()).all()
        db.session.execute(db.delete(PageRollup).where(PageRollup.bucket < edge))
        for app in edge_apps:
            rollups.recompute(rollups.PAGES, app, [edge])
        return {"sessions": sessions, "page_visits": dropped + visits}
    return rollups.in_one_snapshot(work)
