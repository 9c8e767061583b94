"""Page tracking (seed 003): one visit or a bounded batch, stored all-or-nothing in one INSERT.

The hot path of the server: a visit without a client `time` reads no setting. On PostgreSQL the rows
of concurrent requests of a process share one INSERT (services/group_commit.py): one round trip per
group, each request answered once its own rows are committed. That commit does not wait for the WAL
flush when `analytics.track_async_commit` is on: a database crash may lose the last fraction of a second
of page visits (never corrupts anything), the usual trade for analytics ingestion. With
`analytics.track_buffer_ms` > 0 visits go through a per-process write-behind buffer instead
(services/track_buffer.py), answered before they are stored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert

import settings
from errors import ApiError
from extensions import db
from models import PageVisit
from services import clock, group_commit, prepared, track_buffer
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
    if buffer_ms := settings.static("analytics.track_buffer_ms"):
        track_buffer.buffer.add(rows, buffer_ms)
        return rows
    if prepared.available():  # the thread's own raw cursor of _insert_postgresql
        group_commit.of_app("track", _track_group).run(rows)
    else:
        db.session.execute(insert(PageVisit), rows)
        db.session.commit()
    return rows


COLUMNS = ("app", "user", "page", "seconds", "visited_at", "session_id")
INSERT_SQL = 'INSERT INTO page_visits (app, "user", page, seconds, visited_at, session_id) VALUES '  # = COLUMNS


def _track_group() -> group_commit.Group:
    return group_commit.Group(_insert_requests, _insert_postgresql)


def _insert_requests(requests_rows: list[list[dict]]) -> list[None]:
    """The rows of several requests in one INSERT (each request's rows stay all-or-nothing with it)."""
    _insert_postgresql([row for rows in requests_rows for row in rows])
    return [None] * len(requests_rows)


def _insert_postgresql(rows: list[dict]) -> None:
    """One round trip: a multi-statement string runs as one implicit transaction (all-or-nothing)."""
    prefix = f"{prepared.ASYNC_COMMIT}; " if settings.static("analytics.track_async_commit") else ""
    with prepared.autocommit_cursor() as (_, cursor):
        values = b",".join(cursor.mogrify("(%s,%s,%s,%s,%s,%s)", [
            *(row[c] for c in COLUMNS[:5]), str(row["session_id"]) if row["session_id"] else None])
            for row in rows)
        cursor.execute(prefix.encode() + INSERT_SQL.encode() + values)
