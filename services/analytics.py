"""The Session Server API's reports, each computed in SQL (GROUP BY over local-time buckets) on SQLite and PostgreSQL.

Every report takes a `ReportFilter`: app, tracked user (or "all"), IANA zone, optional [from, to).
Sessions are selected by their start time, page visits by their visit time. A session's duration is
its active time; an open active session counts at most `analytics.idle_cap_minutes` past its last
start/resume (the idle rule), so an abandoned tab does not inflate totals.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Select, case, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

import settings
from envelope import hhmmss, iso_z
from extensions import db
from models import ActivitySession as S
from models import PageRollup as PR
from models import PageVisit as P
from models import SessionEvent as E
from models import SessionRollup as R
from services import clock, rollups
from services.sqltime import LocalTime, greatest, least, seconds_between

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class ReportFilter:
    app: str
    user: str  # a tracked user, or "all"
    tz: str = "UTC"
    start: datetime | None = None  # naive UTC, inclusive
    end: datetime | None = None  # naive UTC, exclusive


def _dialect() -> str:
    return db.engine.dialect.name


def _where(f: ReportFilter, app_col, user_col, time_col) -> list[ColumnElement]:
    where = [app_col == f.app]
    if f.user != "all" and user_col is not None:
        where.append(user_col == f.user)
    if f.start is not None:
        where.append(time_col >= f.start)
    if f.end is not None:
        where.append(time_col < f.end)
    return where


def session_where(f: ReportFilter) -> list[ColumnElement]:
    return _where(f, S.app, S.user, S.started_at)


def visit_where(f: ReportFilter) -> list[ColumnElement]:
    return _where(f, P.app, P.user, P.visited_at)


def local_time(f: ReportFilter, column, where: list[ColumnElement]) -> LocalTime:
    """Bucket builder; SQLite needs the data's time range to lay out the zone's offset segments."""
    dialect = _dialect()
    if dialect == "postgresql":
        return LocalTime(dialect, f.tz)
    # the data's own range (an index lookup) bounds the offset walk, whatever from/to a client sends
    low, high = db.session.execute(select(func.min(column), func.max(column)).where(*where)).one()
    return LocalTime(dialect, f.tz, low, high)


def duration_seconds(now: datetime | None = None) -> ColumnElement:
    """Active time of a session; the running stretch of an open one is capped by the idle rule."""
    dialect = _dialect()
    now_sql = literal(now or clock.now(), DateTime)
    cap_sql = literal(settings.get("analytics.idle_cap_minutes") * 60.0)
    running = seconds_between(dialect, now_sql, S.last_resumed_at)
    capped = least(dialect, greatest(dialect, running, literal(0.0)), cap_sql)
    return S.active_seconds + case((S.status == "active", capped), else_=literal(0.0))


# ---------------------------------------------------------------- plan: rollups for whole buckets, raw edges

@dataclass(frozen=True)
class Plan:
    raw: tuple[ReportFilter, ...]  # ranges read from the raw rows
    rolled: ReportFilter | None  # whole buckets read from the rollup (start/end on bucket bounds or None)


def plan(f: ReportFilter, grain: int, use_rollups: bool = True) -> Plan:
    """Rollups hold whole-app totals: one user's reports read that user's raw rows (an index range)."""
    if not use_rollups or f.user != "all":
        return Plan((f,), None)
    whole_start = rollups.ceil(f.start, grain) if f.start is not None else None
    whole_end = rollups.floor(f.end, grain) if f.end is not None else None
    if whole_start is not None and whole_end is not None and whole_start >= whole_end:
        return Plan((f,), None)  # inside one bucket
    edges = []
    if f.start is not None and f.start < whole_start:
        edges.append(replace(f, end=whole_start))
    if f.end is not None and whole_end < f.end:
        edges.append(replace(f, start=whole_end))
    return Plan(tuple(edges), replace(f, start=whole_start, end=whole_end))


def _rolled_where(f: ReportFilter, table) -> list[ColumnElement]:
    return _where(replace(f, user="all"), table.app, None, table.bucket)


def _session_plan(f: ReportFilter, use_rollups: bool, zoned: bool) -> Plan:
    p = plan(f, rollups.SESSION_GRAIN, use_rollups)
    if p.rolled is None or not zoned:
        return p
    # a zone whose offsets are not whole quarter hours over the data read cannot use 15-minute buckets
    low, high = db.session.execute(select(func.min(R.bucket), func.max(R.bucket))
                                   .where(*_rolled_where(p.rolled, R))).one()
    if low is not None and not rollups.zone_exact(f.tz, _as_datetime(low), _as_datetime(high)):
        return Plan((f,), None)
    return p


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


# ---------------------------------------------------------------- statements (also used by the bench)
# Each report reads partial aggregates: ("raw", rows of a raw range), ("open", open sessions inside the
# rolled buckets: their duration still grows) and ("rolled", rollup rows), merged in Python.

Tagged = list[tuple[str, Select]]


def _session_partials(f: ReportFilter, use_rollups: bool, shape: str) -> Tagged:
    """shape: "day" (day, n, seconds), "total" (n, seconds, max, min), "daily" (day, n), "weekly" (wd, h, n)."""
    p = _session_plan(f, use_rollups, zoned=shape != "total")
    pieces = [("raw", r, []) for r in p.raw]
    if p.rolled is not None and shape in ("day", "total"):
        pieces.append(("open", p.rolled, [S.status != "ended"]))
    out: Tagged = []
    for tag, piece, extra in pieces:
        where = [*session_where(piece), *extra]
        dur = duration_seconds()
        if shape == "total":
            out.append((tag, select(func.count(), func.sum(dur), func.max(dur), func.min(dur)).where(*where)))
            continue
        lt = local_time(piece, S.started_at, where)
        out.append((tag, _grouped(shape, lt, S.started_at, func.count(), func.sum(dur)).where(*where)))
    if p.rolled is not None:
        where = _rolled_where(p.rolled, R)
        if shape == "total":
            out.append(("rolled", select(func.sum(R.started), func.sum(R.ended_seconds), func.max(R.ended_max),
                                         func.min(R.ended_min)).where(*where)))
        else:
            lt = local_time(p.rolled, R.bucket, where)
            out.append(("rolled", _grouped(shape, lt, R.bucket, func.sum(R.started), func.sum(R.ended_seconds))
                        .where(*where)))
    return out


def _grouped(shape: str, lt: LocalTime, column, n: ColumnElement, seconds: ColumnElement) -> Select:
    if shape == "weekly":
        weekday, hour = lt.weekday(column).label("weekday"), lt.hour(column).label("hour")
        return select(weekday, hour, n).group_by(weekday, hour)
    day = lt.date(column).label("day")
    return select(day, n, seconds).group_by(day) if shape == "day" else select(day, n).group_by(day)


def _page_partials(f: ReportFilter, use_rollups: bool) -> Tagged:
    p = plan(f, rollups.PAGE_GRAIN, use_rollups)
    out: Tagged = [("raw", select(P.page, func.count(), func.sum(P.seconds)).where(*visit_where(r)).group_by(P.page))
                   for r in p.raw]
    if p.rolled is not None:
        out.append(("rolled", select(PR.page, func.sum(PR.visits), func.sum(PR.seconds))
                    .where(*_rolled_where(p.rolled, PR)).group_by(PR.page)))
    return out


SHAPES = {"heatmap": ("daily", "weekly"), "most-active": ("weekly",), "stats": ("day",), "summary": ("total",),
          "daily-time-spent": ("day",)}


def tagged_statements(report: str, f: ReportFilter, use_rollups: bool = True) -> list[Tagged]:
    """Per part of a report, its tagged SELECTs."""
    if report in SHAPES:
        return [_session_partials(f, use_rollups, shape) for shape in SHAPES[report]]
    if report in ("time-by-page", "page-stats"):
        return [_page_partials(f, use_rollups)]
    sw = session_where(f)
    if report == "timeline":
        return [[("raw", select(S.id, S.started_at, S.ended_at, duration_seconds()).where(*sw)
                  .order_by(S.started_at.desc(), S.id).limit(settings.get("analytics.report_row_limit")))]]
    if report == "session-timeline-detail":
        newest = statements_newest(f).subquery()
        return [[("raw", select(newest.c.id, E.type, E.at).join(E, E.session_id == newest.c.id)
                  .order_by(newest.c.started_at.desc(), newest.c.id, E.at, E.id))]]
    raise KeyError(report)


def statements(report: str, f: ReportFilter) -> list[Select]:
    """Every SELECT a report runs (the bench runs the same SQL directly)."""
    return [statement for part in tagged_statements(report, f) for _, statement in part]


def statements_newest(f: ReportFilter) -> Select:
    """The sessions `session-timeline-detail` lists: the newest analytics.report_row_limit."""
    return (select(S.id, S.started_at).where(*session_where(f)).order_by(S.started_at.desc(), S.id)
            .limit(settings.get("analytics.report_row_limit")))


def _parts(report: str, f: ReportFilter, use_rollups: bool) -> list[list[tuple[str, list]]]:
    return [[(tag, db.session.execute(statement).all()) for tag, statement in part]
            for part in tagged_statements(report, f, use_rollups)]


def _by_key(part: list[tuple[str, list]], width: int) -> dict[tuple, list[float]]:
    """Sum partial rows by their first `width` columns; "open" rows add durations but no sessions."""
    merged: dict[tuple, list[float]] = {}
    for tag, rows in part:
        for row in rows:
            key, values = tuple(str(k) for k in row[:width]), row[width:]
            total = merged.setdefault(key, [0.0] * len(values))
            for i, value in enumerate(values):
                if not (tag == "open" and i == 0):
                    total[i] += _num(value)
    return merged


# ---------------------------------------------------------------- reports (the Session Server API's shapes)

def heatmap(f: ReportFilter, use_rollups: bool = True) -> dict:
    daily_part, weekly_part = _parts("heatmap", f, use_rollups)
    daily = {day: int(n) for (day,), (n,) in sorted(_by_key(daily_part, 1).items()) if n}
    weekly: dict[str, dict[str, int]] = {}
    for (weekday, hour), (n,) in sorted(_by_key(weekly_part, 2).items(), key=lambda kv: (int(kv[0][0]), int(kv[0][1]))):
        if n:
            weekly.setdefault(weekday, {})[hour] = int(n)
    days = sorted(daily)
    return {
        "daily_sessions": daily,
        "weekly_hourly": weekly,
        "total_sessions": sum(daily.values()),
        "total_days_with_activity": len(days),
        "date_range": {"start_date": days[0] if days else None, "end_date": days[-1] if days else None},
    }


def most_active(f: ReportFilter, use_rollups: bool = True) -> dict:
    """Busiest weekday and hour of day by sessions started; peak_sessions: the busiest weekday x hour slot."""
    (weekly_part,) = _parts("most-active", f, use_rollups)
    slots = {(int(wd), int(h)): int(n) for (wd, h), (n,) in _by_key(weekly_part, 2).items() if n}
    if not slots:
        return {"most_active_day": None, "most_active_hour": None, "peak_sessions": 0}
    by_day: dict[int, int] = {}
    by_hour: dict[int, int] = {}
    for (weekday, hour), n in slots.items():
        by_day[weekday] = by_day.get(weekday, 0) + n
        by_hour[hour] = by_hour.get(hour, 0) + n
    day = min(by_day, key=lambda d: (-by_day[d], d))
    hour = min(by_hour, key=lambda h: (-by_hour[h], h))
    return {"most_active_day": WEEKDAYS[day], "most_active_hour": hour, "peak_sessions": max(slots.values())}


def _per_day(report: str, f: ReportFilter, use_rollups: bool) -> dict[str, tuple[int, float]]:
    """Local day -> (sessions started, their duration), days with sessions only."""
    (part,) = _parts(report, f, use_rollups)
    return {day: (int(n), seconds) for (day,), (n, seconds) in sorted(_by_key(part, 1).items()) if n}


def stats(f: ReportFilter, use_rollups: bool = True) -> dict:
    days = _per_day("stats", f, use_rollups)
    n, total = sum(n for n, _ in days.values()), sum(s for _, s in days.values())
    return {"total_sessions": n, "average_session_duration": hhmmss(total / n if n else 0),
            "total_time_spent": hhmmss(total), "active_days": len(days)}


def summary(f: ReportFilter, use_rollups: bool = True) -> dict:
    (part,) = _parts("summary", f, use_rollups)
    n, total, longest, shortest = 0, 0.0, None, None
    for tag, ((count, seconds, high, low),) in part:
        n += int(count or 0) if tag != "open" else 0
        total += _num(seconds)
        longest = high if longest is None or (high is not None and high > longest) else longest
        shortest = low if shortest is None or (low is not None and low < shortest) else shortest
    return {"total_sessions": n, "total_duration": hhmmss(total), "average_duration": hhmmss(total / n if n else 0),
            "longest_session": hhmmss(_num(longest)), "shortest_session": hhmmss(_num(shortest))}


def timeline(f: ReportFilter, use_rollups: bool = True) -> dict:
    (((_, rows),),) = _parts("timeline", f, use_rollups)
    return {"timeline": [{"session_id": str(sid), "start_time": iso_z(started), "end_time": iso_z(ended),
                          "duration": hhmmss(_num(seconds))} for sid, started, ended, seconds in rows]}


def daily_time_spent(f: ReportFilter, use_rollups: bool = True) -> dict:
    return {"daily_time": {day: hhmmss(seconds) for day, (_, seconds) in _per_day("daily-time-spent", f,
                                                                                   use_rollups).items()}}


def _pages(report: str, f: ReportFilter, use_rollups: bool) -> list[tuple[str, int, float]]:
    """(page, visits, seconds), most time first, then by page."""
    (part,) = _parts(report, f, use_rollups)
    pages = [(page, int(n), seconds) for (page,), (n, seconds) in _by_key(part, 1).items() if n]
    return sorted(pages, key=lambda p: (-p[2], p[0]))


def time_by_page(f: ReportFilter, use_rollups: bool = True) -> dict:
    return {"page_time": {page: hhmmss(total) for page, _n, total in _pages("time-by-page", f, use_rollups)}}


def page_stats(f: ReportFilter, use_rollups: bool = True) -> dict:
    return {"page_stats": {page: {"visits": n, "total_time": hhmmss(total), "average_time": hhmmss(total / n)}
                           for page, n, total in _pages("page-stats", f, use_rollups)}}


def session_timeline_detail(f: ReportFilter, use_rollups: bool = True) -> dict:
    (((_, rows),),) = _parts("session-timeline-detail", f, use_rollups)
    sessions: dict[str, list[dict]] = {}
    for sid, kind, at in rows:  # rows arrive grouped by session, newest session first
        sessions.setdefault(str(sid), []).append({"type": kind, "timestamp": iso_z(at)})
    return {"detailed_timeline": [{"session_id": sid, "events": events} for sid, events in sessions.items()]}


def _num(value: Any) -> float:
    return float(value) if value is not None else 0.0


REPORTS = {
    "heatmap": heatmap,
    "most-active": most_active,
    "stats": stats,
    "summary": summary,
    "timeline": timeline,
    "daily-time-spent": daily_time_spent,
    "time-by-page": time_by_page,
    "session-timeline-detail": session_timeline_detail,
    "page-stats": page_stats,
}


def run(report: str, f: ReportFilter, use_rollups: bool = True) -> dict:
    """A report; `use_rollups=False` computes it from raw rows only (the property test's reference)."""
    return REPORTS[report](f, use_rollups)
