"""Readiness checks of the components a request depends on."""

from __future__ import annotations

from sqlalchemy import text

import settings
from extensions import db


def check_database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # noqa: BLE001 - report, never raise, from a probe
        db.session.rollback()
        return f"error: {type(exc).__name__}"


def check_redis(uri: str) -> str:
    import redis

    try:
        client = redis.Redis.from_url(uri, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        return "ok"
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"


def check_all() -> dict[str, str]:
    checks = {"database": check_database()}
    storage = settings.static("ratelimit.storage_uri")
    if storage.startswith(("redis://", "rediss://")):
        checks["redis"] = check_redis(storage)
    return checks
