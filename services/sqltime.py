"""Dialect-specific SQL for time: local-time buckets in an IANA zone and durations in seconds.

PostgreSQL converts in SQL: `(ts AT TIME ZONE 'UTC') AT TIME ZONE :tz`, DST-correct per row.
SQLite knows no IANA zones, so the zone's UTC-offset segments over the queried range are computed here
with zoneinfo and turned into a `CASE` that adds the right offset per row; the GROUP BY stays in SQL
and DST changes inside the range are honoured on both databases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Date, DateTime, Integer, case, cast, func, literal, literal_column
from sqlalchemy.sql.elements import ColumnElement

DAY = timedelta(days=1)


def _offset_at(zone: ZoneInfo, instant: datetime) -> int:
    """The zone's UTC offset in seconds at a naive-UTC instant."""
    return int(instant.replace(tzinfo=UTC).astimezone(zone).utcoffset().total_seconds())


def offset_segments(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime | None, int]]:
    """[(segment start or None for the first, offset seconds)] covering naive-UTC [start, end]."""
    current = _offset_at(zone, start)
    segments: list[tuple[datetime | None, int]] = [(None, current)]
    probe = start
    while probe < end:
        step = min(probe + DAY, end)
        offset = _offset_at(zone, step)
        if offset != current:
            low, high = probe, step  # the change lies in (low, high]: bisect to the second
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if _offset_at(zone, middle) == current:
                    low = middle
                else:
                    high = middle
            segments.append((high.replace(microsecond=0), offset))
            current = offset
        probe = step
    return segments


@dataclass(frozen=True)
class LocalTime:
    """Builds bucket expressions for one column in one zone on one dialect."""

    dialect: str
    tz: str
    start: datetime | None = None  # data range, needed on SQLite only
    end: datetime | None = None

    def _sqlite_modifier(self, column: ColumnElement) -> ColumnElement:
        zone = ZoneInfo(self.tz)
        start = self.start or datetime(1970, 1, 1)
        end = self.end or start
        segments = offset_segments(zone, start, end)
        if len(segments) == 1:
            return literal(f"{segments[0][1]:+d} seconds")
        whens = [(column < literal(at, DateTime), f"{prev:+d} seconds")
                 for (at, _), (_, prev) in zip(segments[1:], segments[:-1], strict=True)]
        return case(*whens, else_=f"{segments[-1][1]:+d} seconds")

    def _pg_local(self, column: ColumnElement) -> ColumnElement:
        return func.timezone(literal(self.tz), func.timezone(literal_column("'UTC'"), column))

    def date(self, column: ColumnElement) -> ColumnElement:
        """Local calendar day: a date on PostgreSQL, 'YYYY-MM-DD' text on SQLite (str() of either is the key)."""
        if self.dialect == "postgresql":
            return cast(self._pg_local(column), Date)
        return func.date(column, self._sqlite_modifier(column))

    def hour(self, column: ColumnElement) -> ColumnElement:
        """Local hour 0-23."""
        if self.dialect == "postgresql":
            return cast(func.extract("hour", self._pg_local(column)), Integer)
        return cast(func.strftime("%H", column, self._sqlite_modifier(column)), Integer)

    def weekday(self, column: ColumnElement) -> ColumnElement:
        """Local weekday, 0 = Monday ... 6 = Sunday (DESIGN.md)."""
        if self.dialect == "postgresql":
            return cast(func.extract("isodow", self._pg_local(column)), Integer) - 1
        return (cast(func.strftime("%w", column, self._sqlite_modifier(column)), Integer) + 6) % 7


def seconds_between(dialect: str, later: ColumnElement, earlier: ColumnElement) -> ColumnElement:
    """`later - earlier` in seconds (float)."""
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def least(dialect: str, *values: ColumnElement) -> ColumnElement:
    return func.least(*values) if dialect == "postgresql" else func.min(*values)


def greatest(dialect: str, *values: ColumnElement) -> ColumnElement:
    return func.greatest(*values) if dialect == "postgresql" else func.max(*values)
