"""The server's clock: naive UTC, freezable so tests can pin expiry and sweeps to an exact instant."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_frozen: datetime | None = None


def now() -> datetime:
    """Current time as naive UTC (what every DateTime column stores)."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC).replace(tzinfo=None)


def freeze(at: datetime | None) -> None:
    """Pin the clock (None unfreezes). Aware datetimes are converted to naive UTC."""
    global _frozen
    _frozen = to_naive_utc(at) if at is not None else None


def advance(delta: timedelta) -> None:
    """Move a frozen clock forward."""
    freeze(now() + delta)


@contextmanager
def frozen(at: datetime):
    freeze(at)
    try:
        yield
    finally:
        freeze(None)


def to_naive_utc(value: datetime) -> datetime:
    """Aware -> naive UTC; naive values are taken to be UTC already."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value
