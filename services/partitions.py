"""Monthly partitions of page_visits on PostgreSQL (declarative range partitioning on visited_at).

Partitions live in their own schema, `page_visit_partitions`, named `mYYYY_MM`, plus `overflow` (the
DEFAULT partition) for visits outside every month created so far (a client may send an old `time`).
The `maintain_partitions` job creates the current month and the next two ahead of time; creating a month
whose visits already sit in `overflow` moves them first. Retention drops whole months older than the
cutoff (no row-by-row DELETE, no bloat) and deletes only the boundary month's and overflow's old rows.
SQLite keeps page_visits as one table: every function here does nothing there.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from extensions import db
from services import clock

SCHEMA = "page_visit_partitions"
OVERFLOW = f"{SCHEMA}.overflow"
MONTHS_AHEAD = 2


def enabled() -> bool:
    return db.engine.dialect.name == "postgresql"


def month_start(at: datetime) -> datetime:
    return datetime(at.year, at.month, 1)


def next_month(at: datetime) -> datetime:
    return datetime(at.year + at.month // 12, at.month % 12 + 1, 1)


def _name(month: datetime) -> str:
    return f"{SCHEMA}.m{month.year:04d}_{month.month:02d}"


def existing() -> dict[datetime, str]:
    """First day of each month that has a partition -> its qualified name."""
    rows = db.session.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE i.inhparent = 'public.page_visits'::regclass AND n.nspname = :schema AND c.relname LIKE 'm%'"),
        {"schema": SCHEMA}).scalars()
    return {datetime(int(name[1:5]), int(name[6:8]), 1): f"{SCHEMA}.{name}" for name in rows}


def ensure(first: datetime | None = None, last: datetime | None = None) -> list[str]:
    """Create the monthly partitions covering [first, last] (default: this month and MONTHS_AHEAD more)."""
    if not enabled():
        return []
    now = clock.now()
    month, stop = month_start(first or now), month_start(last or now)
    if last is None:
        for _ in range(MONTHS_AHEAD):
            stop = next_month(stop)
    have, created = existing(), []
    while month <= stop:
        if month not in have:
            _create(month)
            created.append(_name(month))
        month = next_month(month)
    db.session.commit()
    return created


def _create(month: datetime) -> None:
    name, low, high = _name(month), month.isoformat(sep=" "), next_month(month).isoformat(sep=" ")
    # visits of this month that arrived while it had no partition wait in overflow: move them over
    db.session.execute(text(f"CREATE TABLE {name} (LIKE public.page_visits INCLUDING DEFAULTS)"))
    db.session.execute(text(
        f"WITH moved AS (DELETE FROM {OVERFLOW} WHERE visited_at >= :low AND visited_at < :high RETURNING *) "
        f"INSERT INTO {name} SELECT * FROM moved"), {"low": low, "high": high})
    db.session.execute(text(f"ALTER TABLE public.page_visits ATTACH PARTITION {name} "
                            f"FOR VALUES FROM ('{low}') TO ('{high}')"))


def drop_before(cutoff: datetime) -> int:
    """Drop the months that end at or before `cutoff`; returns the visits they held."""
    if not enabled():
        return 0
    dropped = 0
    for month, name in sorted(existing().items()):
        if next_month(month) <= cutoff:
            dropped += db.session.execute(text(f"SELECT count(*) FROM {name}")).scalar()
            db.session.execute(text(f"DROP TABLE {name}"))
    db.session.commit()
    return dropped


def maintain() -> list[str]:
    """Job: the months ahead exist before their first visit."""
    return ensure()
