"""Seed 003's reports, each computed in SQL (GROUP BY over local-time buckets) on SQLite and PostgreSQL.

Every report takes a `ReportFilter`: app, tracked user (or "all"), IANA zone, optional [from, to).
Sessions are selected by their start time, page visits by their visit time. A session's duration is
its active time; an open active session counts at most `analytics.idle_cap_minutes` past its last
start/resume (the idle rule), so an abandoned tab does not inflate totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Select, case, func, literal, null, select, tuple_
from sqlalchemy.sql.elements import ColumnElement

import settings
from envelope import hhmmss, iso_z
from extensions import db
from models import ActivitySession as S
from models import PageVisit as P
from models import SessionEvent as E
from services import clock
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
    if f.user != "all":
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


# ---------------------------------------------------------------- statements (also used by the bench)

def statements(report: str, f: ReportFilter) -> list[Select]:
    """The SQL of a report: one or more SELECTs whose rows the report shapes without re-aggregating."""
    sw, vw = session_where(f), visit_where(f)
    limit = settings.get("analytics.report_row_limit")
    if report in ("heatmap", "most-active"):
        lt = local_time(f, S.started_at, sw)
        weekday, hour = lt.weekday(S.started_at).label("weekday"), lt.hour(S.started_at).label("hour")
        weekly = select(weekday, hour, func.count().label("n")).where(*sw).group_by(weekday, hour)
        if report == "most-active":
            return [weekly]
        day = lt.date(S.started_at).label("day")
        if _dialect() == "postgresql":
            # one scan for both groupings: rows with a day are daily, rows without are weekday x hour
            return [select(day, weekday, hour, func.count().label("n")).where(*sw)
                    .group_by(func.grouping_sets(tuple_(day.element), tuple_(weekday.element, hour.element)))]
        return [select(day, null(), null(), func.count().label("n")).where(*sw).group_by(day),
                weekly.with_only_columns(null(), weekday, hour, func.count())]
    if report == "summary":
        dur = duration_seconds()
        return [select(func.count().label("n"), func.sum(dur), func.avg(dur), func.max(dur), func.min(dur))
                .where(*sw)]
    if report == "stats":
        # per local day first (a hash aggregate in one scan), then totals and the number of days
        day = local_time(f, S.started_at, sw).date(S.started_at).label("day")
        per_day = (select(day, func.count().label("n"), func.sum(duration_seconds()).label("seconds"))
                   .where(*sw).group_by(day).subquery())
        return [select(func.sum(per_day.c.n), func.sum(per_day.c.seconds), func.count())]
    if report == "daily-time-spent":
        day = local_time(f, S.started_at, sw).date(S.started_at).label("day")
        return [select(day, func.sum(duration_seconds())).where(*sw).group_by(day).order_by(day)]
    if report == "timeline":
        return [select(S.id, S.started_at, S.ended_at, duration_seconds()).where(*sw)
                .order_by(S.started_at.desc(), S.id).limit(limit)]
    if report == "session-timeline-detail":
        newest = statements_newest(f).subquery()
        return [select(newest.c.id, E.type, E.at).join(E, E.session_id == newest.c.id)
                .order_by(newest.c.started_at.desc(), newest.c.id, E.at, E.id)]
    if report in ("time-by-page", "page-stats"):
        return [select(P.page, func.count(), func.sum(P.seconds), func.avg(P.seconds)).where(*vw)
                .group_by(P.page).order_by(func.sum(P.seconds).desc(), P.page)]
    raise KeyError(report)


def statements_newest(f: ReportFilter) -> Select:
    """The sessions `session-timeline-detail` lists: the newest analytics.report_row_limit."""
    return (select(S.id, S.started_at).where(*session_where(f)).order_by(S.started_at.desc(), S.id)
            .limit(settings.get("analytics.report_row_limit")))


def _rows(report: str, f: ReportFilter) -> list[list[Any]]:
    return [db.session.execute(statement).all() for statement in statements(report, f)]


# ---------------------------------------------------------------- reports (seed 003 shapes)

def heatmap(f: ReportFilter) -> dict:
    daily: dict[str, int] = {}
    weekly: dict[str, dict[str, int]] = {}
    for rows in _rows("heatmap", f):
        for day, weekday, hour, n in rows:
            if day is not None:
                daily[str(day)] = n
            else:
                weekly.setdefault(str(weekday), {})[str(hour)] = n
    days = sorted(daily)
    return {
        "daily_sessions": daily,
        "weekly_hourly": weekly,
        "total_sessions": sum(daily.values()),
        "total_days_with_activity": len(days),
        "date_range": {"start_date": days[0] if days else None, "end_date": days[-1] if days else None},
    }


def most_active(f: ReportFilter) -> dict:
    """Busiest weekday and hour of day by sessions started; peak_sessions: the busiest weekday x hour slot."""
    (weekly_rows,) = _rows("most-active", f)
    by_day: dict[int, int] = {}
    by_hour: dict[int, int] = {}
    for weekday, hour, n in weekly_rows:
        by_day[weekday] = by_day.get(weekday, 0) + n
        by_hour[hour] = by_hour.get(hour, 0) + n
    if not weekly_rows:
        return {"most_active_day": None, "most_active_hour": None, "peak_sessions": 0}
    day = min(by_day, key=lambda d: (-by_day[d], d))
    hour = min(by_hour, key=lambda h: (-by_hour[h], h))
    return {"most_active_day": WEEKDAYS[day], "most_active_hour": hour,
            "peak_sessions": max(n for _, _, n in weekly_rows)}


def stats(f: ReportFilter) -> dict:
    ((n, total, days),) = _rows("stats", f)[0]
    n, total = int(n or 0), _num(total)
    return {"total_sessions": n, "average_session_duration": hhmmss(total / n if n else 0),
            "total_time_spent": hhmmss(total), "active_days": days}


def summary(f: ReportFilter) -> dict:
    ((n, total, average, longest, shortest),) = _rows("summary", f)[0]
    return {"total_sessions": n, "total_duration": hhmmss(_num(total)), "average_duration": hhmmss(_num(average)),
            "longest_session": hhmmss(_num(longest)), "shortest_session": hhmmss(_num(shortest))}


def timeline(f: ReportFilter) -> dict:
    (rows,) = _rows("timeline", f)
    return {"timeline": [{"session_id": str(sid), "start_time": iso_z(started), "end_time": iso_z(ended),
                          "duration": hhmmss(_num(seconds))} for sid, started, ended, seconds in rows]}


def daily_time_spent(f: ReportFilter) -> dict:
    (rows,) = _rows("daily-time-spent", f)
    return {"daily_time": {str(day): hhmmss(_num(seconds)) for day, seconds in rows}}


def time_by_page(f: ReportFilter) -> dict:
    (rows,) = _rows("time-by-page", f)
    return {"page_time": {page: hhmmss(_num(total)) for page, _n, total, _avg in rows}}


def page_stats(f: ReportFilter) -> dict:
    (rows,) = _rows("page-stats", f)
    return {"page_stats": {page: {"visits": n, "total_time": hhmmss(_num(total)), "average_time": hhmmss(_num(avg))}
                           for page, n, total, avg in rows}}


def session_timeline_detail(f: ReportFilter) -> dict:
    (rows,) = _rows("session-timeline-detail", f)
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


def run(report: str, f: ReportFilter) -> dict:
    return REPORTS[report](f)
