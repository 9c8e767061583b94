"""Response helpers (seed 001's response service, seed 003's envelope) and the wire formats of times."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Response, jsonify


def success(data: Any = None, message: str = "", status: int = 200):
    """Seed 003's `{status, message, data}` envelope."""
    return jsonify({"status": "success", "message": message, "data": data}), status


def success_encoded(data_json: str, message: str = "", status: int = 200) -> Response:
    """`success()` for data the database already encoded as JSON text."""
    body = f'{{"status":"success","message":{json.dumps(message)},"data":{data_json}}}'
    return Response(body, status=status, mimetype="application/json")


def iso_z(value: datetime | None) -> str | None:
    """ISO 8601 UTC with millisecond precision and a `Z` (as the seeds show)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"


def iso_z_seconds(value: datetime | None) -> str | None:
    """ISO 8601 UTC to the second with a `Z` (seed 004, RFC 3339 for Git LFS)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat() + "Z"


def hhmmss(seconds: float | int | None) -> str:
    """Duration as HH:MM:SS; hours may exceed 24 (seed 003 shows "112:15:00")."""
    total = max(0, int(round(seconds or 0)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"
