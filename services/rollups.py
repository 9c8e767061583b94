"""Rollups of page visits and activity sessions, kept exact as data arrives, is erased and expires.

- `page_rollups`: visits and seconds per (app, UTC hour, page). Page reports need no local time, so an
  hour is fine-grained enough: a range that cuts through hours reads raw rows for its partial hours only.
- `session_rollups`: sessions per (app, 15-minute UTC bucket of their start). Every IANA zone's offset
  since 1986 (Kathmandu +05:45) is a multiple of 15 minutes and changes on a quarter hour, so a bucket
  lies in one local day, weekday and hour in any zone; `zone_exact` checks it for the range a report
  reads, and a report falls back to raw rows where it does not hold.

Freshness: immediate. Tracking and session start/end add a `pending` delta row in their own transaction
(append-only: concurrent requests never wait on one hot row). The `compact_rollups` job sums each key's
rows into one every minute; readers always sum, so compaction changes speed, never an answer.
Erasure and retention recompute the buckets they touched from the remaining raw rows.

Compaction and recomputation each run in one REPEATABLE READ transaction on PostgreSQL (SQLite
serializes writers anyway): every statement sees the same snapshot, so a delta committed meanwhile is
neither summed nor deleted, and two of them touching the same rows fail one with a serialization error
(retried) instead of counting a key twice.
"""

from __future__ import annotations

import calendar
import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Integer, case, cast, delete, false, func, insert, literal, or_, select, tuple_
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import type_coerce
from sqlalchemy.sql.elements import ColumnElement

from extensions import db
from models import ActivitySession, PageRollup, PageVisit, SessionRollup
from services.sqltime import offset_segments

log = logging.getLogger("concierge.rollups")

PAGE_GRAIN = 3600
SESSION_GRAIN = 900
CHUNK = 400  # buckets per recompute statement (an OR of index ranges)


# ---------------------------------------------------------------- buckets

def floor(at: datetime, grain: int) -> datetime:
    epoch = calendar.timegm(at.timetuple())
    return at.replace(microsecond=0) - timedelta(seconds=epoch % grain)


def ceil(at: datetime, grain: int) -> datetime:
    low = floor(at, grain)
    return low if low == at else low + timedelta(seconds=grain)


def bucket_sql(column: ColumnElement, grain: int) -> ColumnElement:
    """The bucket of a timestamp column in SQL, in the column's own storage format (SQLite: text)."""
    if db.engine.dialect.name == "postgresql":
        hour = func.date_trunc("hour", column)
        if grain == 3600:
            return hour
        minutes = cast(func.floor(func.extract("minute", column) / 15) * 15, Integer)
        return type_coerce(hour + func.make_interval(0, 0, 0, 0, 0, minutes), DateTime)
    if grain == 3600:
        return type_coerce(func.strftime("%Y-%m-%d %H:00:00.000000", column), DateTime)
    quarter = func.printf("%02d:00.000000", cast(func.strftime("%M", column), Integer) // 15 * 15)
    return type_coerce(func.strftime("%Y-%m-%d %H:", column).op("||")(quarter), DateTime)


def zone_exact(tz: str, start: datetime, end: datetime) -> bool:
    """True when every local day/weekday/hour boundary of `tz` in [start, end] is a quarter-hour boundary."""
    return _zone_exact(tz, start.date(), end.date())


@functools.lru_cache(maxsize=512)
def _zone_exact(tz: str, first, last) -> bool:
    segments = offset_segments(ZoneInfo(tz), datetime.combine(first, datetime.min.time()) - timedelta(days=1),
                               datetime.combine(last, datetime.min.time()) + timedelta(days=2))
    return all(offset % SESSION_GRAIN == 0 and (at is None or calendar.timegm(at.timetuple()) % SESSION_GRAIN == 0)
               for at, offset in segments)


# ---------------------------------------------------------------- what each rollup sums

@dataclass(frozen=True)
class Rollup:
    table: type
    raw: type
    raw_time: ColumnElement
    grain: int
    keys: tuple[str, ...]  # besides app and bucket
    sums: Callable[[], dict[str, ColumnElement]]  # rollup column -> aggregate over raw rows
    merges: dict[str, Callable]  # rollup column -> how rows of one key combine

    def key_columns(self, source) -> list[ColumnElement]:
        return [source.app, source.bucket, *(getattr(source, k) for k in self.keys)]


def _page_sums() -> dict[str, ColumnElement]:
    return {"page": PageVisit.page, "visits": func.count(), "seconds": func.sum(PageVisit.seconds)}


def _session_sums() -> dict[str, ColumnElement]:
    ended = ActivitySession.status == "ended"
    seconds = case((ended, ActivitySession.active_seconds))  # an ended session's duration is its active time
    return {"started": func.count(), "ended": func.sum(case((ended, 1), else_=0)),
            "ended_seconds": func.coalesce(func.sum(seconds), 0.0), "ended_max": func.max(seconds),
            "ended_min": func.min(seconds)}


PAGES = Rollup(PageRollup, PageVisit, PageVisit.visited_at, PAGE_GRAIN, ("page",), _page_sums,
               {"visits": func.sum, "seconds": func.sum})
SESSIONS = Rollup(SessionRollup, ActivitySession, ActivitySession.started_at, SESSION_GRAIN, (), _session_sums,
                  {"started": func.sum, "ended": func.sum, "ended_seconds": func.sum, "ended_max": func.max,
                   "ended_min": func.min})


# ---------------------------------------------------------------- deltas (in the caller's transaction)

def add_page_visits(rows: list[dict]) -> None:
    """Delta rows for visits being inserted (dicts with app, page, seconds, visited_at)."""
    deltas: dict[tuple, list] = {}
    for row in rows:
        key = (row["app"], floor(row["visited_at"], PAGE_GRAIN), row["page"])
        total = deltas.setdefault(key, [0, 0.0])
        total[0] += 1
        total[1] += row["seconds"]
    db.session.execute(insert(PageRollup), [
        {"app": app, "bucket": bucket, "page": page, "visits": n, "seconds": seconds, "pending": True}
        for (app, bucket, page), (n, seconds) in deltas.items()])


def session_started(app: str, started_at: datetime) -> None:
    db.session.add(SessionRollup(app=app, bucket=floor(started_at, SESSION_GRAIN), started=1, ended=0,
                                 ended_seconds=0.0, pending=True))


def session_ended(app: str, started_at: datetime, seconds: float) -> None:
    db.session.add(SessionRollup(app=app, bucket=floor(started_at, SESSION_GRAIN), started=0, ended=1,
                                 ended_seconds=seconds, ended_max=seconds, ended_min=seconds, pending=True))


# ---------------------------------------------------------------- compaction, recomputation, rebuild

def _snapshot() -> None:
    """Start the session's transaction as one snapshot (PostgreSQL; SQLite's writers are serialized)."""
    db.session.commit()  # a fresh transaction (a request's authentication may have read already)
    if db.engine.dialect.name == "postgresql":
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _retrying(work: Callable[[], int], attempts: int = 5) -> int:
    for attempt in range(attempts):
        try:
            _snapshot()
            done = work()
            db.session.commit()
            return done
        except DBAPIError as exc:
            db.session.rollback()
            if getattr(exc.orig, "pgcode", None) != "40001" or attempt == attempts - 1:
                raise
            log.info("rollup transaction met a concurrent one; retrying")
    return 0


def compact() -> dict[str, int]:
    """Job: sum each key that has pending deltas into one row. Returns the rows removed per rollup."""
    return {rollup.table.__tablename__: _retrying(functools.partial(_compact, rollup)) for rollup in (PAGES, SESSIONS)}


def _compact(rollup: Rollup) -> int:
    table = rollup.table
    newest = db.session.execute(select(func.max(table.id))).scalar()
    if newest is None:
        return 0
    keys = tuple_(*rollup.key_columns(table))
    pending = select(*rollup.key_columns(table)).where(table.pending, table.id <= newest)
    combined = [merge(getattr(table, column)) for column, merge in rollup.merges.items()]
    summed = (select(*rollup.key_columns(table), *combined, false())
              .where(table.id <= newest, keys.in_(pending)).group_by(*rollup.key_columns(table)))
    names = ["app", "bucket", *rollup.keys, *rollup.merges, "pending"]
    db.session.execute(insert(table).from_select(names, summed))
    # the rows just inserted have ids above `newest`: only the summed ones go
    return db.session.execute(delete(table).where(table.id <= newest, keys.in_(pending))).rowcount


def recompute(rollup: Rollup, app: str, buckets: Iterable[datetime]) -> None:
    """Replace the rollup rows of these buckets of one app by sums of the raw rows (caller's transaction,
    started by `_snapshot`). Each chunk is one OR of index ranges, so only the touched buckets are read."""
    ordered = sorted(set(buckets))
    step = timedelta(seconds=rollup.grain)
    for index in range(0, len(ordered), CHUNK):
        chunk = ordered[index:index + CHUNK]
        table, time = rollup.table, rollup.raw_time
        db.session.execute(delete(table).where(table.app == app, table.bucket.in_(chunk)))
        ranges = or_(*((time >= b) & (time < b + step) for b in chunk))
        _insert_sums(rollup, rollup.raw.app == app, ranges)


def _insert_sums(rollup: Rollup, *where: ColumnElement) -> None:
    bucket = bucket_sql(rollup.raw_time, rollup.grain)
    sums = rollup.sums()
    extra = [c for c in sums if c in rollup.keys]
    select_sums = (select(rollup.raw.app, bucket, *sums.values(), literal(False)).where(*where)
                   .group_by(rollup.raw.app, bucket, *(sums[c] for c in extra)))
    names = ["app", "bucket", *sums, "pending"]
    db.session.execute(insert(rollup.table).from_select(names, select_sums))


def buckets_of(rollup: Rollup, *where: ColumnElement) -> dict[str, list[datetime]]:
    """app -> the buckets raw rows matching `where` fall in (before they are deleted)."""
    bucket = bucket_sql(rollup.raw_time, rollup.grain)
    found: dict[str, list[datetime]] = {}
    for app, at in db.session.execute(select(rollup.raw.app, bucket).where(*where).distinct()):
        found.setdefault(app, []).append(at if isinstance(at, datetime) else datetime.fromisoformat(at))
    return found


def in_one_snapshot(work: Callable[[], int | dict]) -> int | dict:
    """Run `work` (which ends by committing nothing itself) in one snapshot, retried on a conflict."""
    return _retrying(work)


def rebuild() -> None:
    """Every rollup from the raw rows (migration of existing data, bulk loads such as the bench)."""
    def work() -> int:
        for rollup in (PAGES, SESSIONS):
            db.session.execute(delete(rollup.table))
            _insert_sums(rollup)
        return 0
    _retrying(work)
