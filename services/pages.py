"""Page tracking (the Session Server API): one visit or a bounded batch, stored all-or-nothing with its rollup deltas.

One path on both databases: the session's INSERT, committed before the answer. On PostgreSQL the commit
may skip the wait for the WAL flush (`analytics.track_async_commit`, applied in `_relax_commit` only):
a crash of the database server (not of a worker) can lose the visits acknowledged in its last ~0.6 s
(three `wal_writer_delay`s); nothing is ever corrupted or half-stored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, text

import settings
from errors import ApiError
from extensions import db
from models import PageVisit
from services import clock, rollups
from services.activity import event_time


@dataclass(frozen=True)
class Visit:
    app: str
    user: str
    page: str
    seconds: float
    at: datetime | None = None
    session_id: uuid.UUID | None = None


def track(visits: list[Visit]) -> list[dict]:
    """Store every visit or none; returns the stored rows as plain dicts (visited_at is naive UTC)."""
    if not visits:
        raise ApiError(422, "Empty batch", {"min": 1})
    if len(visits) > 1 and len(visits) > (limit := settings.get("analytics.track_batch_max")):
        raise ApiError(422, "Too many page visits in one batch", {"max": limit, "got": len(visits)})
    now = clock.now()
    rows = []
    for index, visit in enumerate(visits):
        try:
            at = event_time(visit.at) if visit.at is not None else now
        except ApiError as exc:
            raise ApiError(exc.status, exc.message, {"index": index, **exc.details}) from None
        rows.append({"app": visit.app, "user": visit.user, "page": visit.page, "seconds": visit.seconds,
                     "visited_at": at, "session_id": visit.session_id})
    _relax_commit()
    db.session.execute(insert(PageVisit), rows)
    rollups.add_page_visits(rows)  # the whole-app totals move in the same transaction
    db.session.commit()
    return rows


def _relax_commit() -> None:
    """The one place page tracking trades durability for speed (PostgreSQL, this transaction only)."""
    if settings.static("analytics.track_async_commit") and db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL synchronous_commit = off"))
