"""Page tracking (seed 003): one visit or a bounded batch, stored all-or-nothing in one INSERT.

The hot path of the server: a visit without a client `time` reads no setting. On PostgreSQL the rows
of concurrent requests of a process share one INSERT (GroupInsert, group commit): one round trip per
group, each request answered once its own rows are committed. That commit does not wait for the WAL
flush when `analytics.track_async_commit` is on: a database crash may lose the last fraction of a second
of page visits (never corrupts anything), the usual trade for analytics ingestion. With
`analytics.track_buffer_ms` > 0 visits go through a per-process write-behind buffer instead
(services/track_buffer.py), answered before they are stored.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import insert

import settings
from errors import ApiError
from extensions import db
from models import PageVisit
from services import clock, prepared, track_buffer
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
    if db.engine.dialect.name == "postgresql":
        current_app.extensions.setdefault("concierge.track_group", GroupInsert()).insert(rows)
    else:
        db.session.execute(insert(PageVisit), rows)
        db.session.commit()
    return rows


COLUMNS = ("app", "user", "page", "seconds", "visited_at", "session_id")
INSERT_SQL = 'INSERT INTO page_visits (app, "user", page, seconds, visited_at, session_id) VALUES '  # = COLUMNS


def _insert_postgresql(rows: list[dict]) -> None:
    """One round trip: a multi-statement string runs as one implicit transaction (all-or-nothing)."""
    prefix = f"{prepared.ASYNC_COMMIT}; " if settings.static("analytics.track_async_commit") else ""
    with prepared.autocommit_cursor() as (_, cursor):
        values = b",".join(cursor.mogrify("(%s,%s,%s,%s,%s,%s)", [
            *(row[c] for c in COLUMNS[:5]), str(row["session_id"]) if row["session_id"] else None])
            for row in rows)
        cursor.execute(prefix.encode() + INSERT_SQL.encode() + values)


class _Waiting:
    """One request's rows in a group insert."""

    __slots__ = ("rows", "done", "error")

    def __init__(self, rows: list[dict]) -> None:
        self.rows: list[dict] = rows
        self.done = False
        self.error: BaseException | None = None


class GroupInsert:
    """Group commit: concurrent track requests of one process share one INSERT.

    A request is still answered only after its own rows are committed. One that finds no insert under
    way stores the rows of every request waiting so far in one statement (a lone request stores at
    once: nothing waits for company); requests arriving meanwhile wait and form the next group. Under
    load a group costs the database one round trip where each visit cost one before."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.waiting: list[_Waiting] = []
        self.inserting = False

    def insert(self, rows: list[dict]) -> None:
        mine = _Waiting(rows)
        with self.changed:
            self.waiting.append(mine)
            while self.inserting and not mine.done:
                self.changed.wait()
            leader = not mine.done
            if leader:
                self.inserting = True
                group, self.waiting = self.waiting, []
        if leader:
            try:
                _store_group(group)
            except BaseException as failure:  # e.g. the worker's timeout: no request may wait forever
                for waiting in group:
                    waiting.error = waiting.error or failure
                raise
            finally:
                with self.changed:
                    for waiting in group:
                        waiting.done = True
                    self.inserting = False
                    self.changed.notify_all()
        if mine.error is not None:
            raise mine.error


def _store_group(group: list[_Waiting]) -> None:
    """Every request's rows in one INSERT; if that fails, each request's on its own, so a request fails
    only for its own rows (and a batch stays all-or-nothing)."""
    try:
        _insert_postgresql([row for waiting in group for row in waiting.rows])
    except Exception as failure:
        if len(group) == 1:
            group[0].error = failure
            return
        for waiting in group:
            try:
                _insert_postgresql(waiting.rows)
            except Exception as own:
                waiting.error = own
