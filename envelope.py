"""Response helpers (the Backend Server guide's response service, the Session Server API's envelope), time formats."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Response, jsonify


def success(data: Any = None, message: str = "", status: int = 200):
    """The Session Server API's `{status, message, data}` envelope."""
    return jsonify({"status": "success", "message": message, "data": data}), status


def success_encoded(data_json: str, message: str = "", status: int = 200) -> Response:
    """`success()` for data the database already encoded as JSON text."""
    body = f'{{"status":"success","message":{json.dumps(message)},"data":{data_json}}}'
    return Response(body, status=status, mimetype="application/json")


def iso_z(value: datetime | None) -> str | None:
    """ISO 8601 UTC with millisecond precision and a `Z` (as the contracts show)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"


def iso_z_seconds(value: datetime | None) -> str | None:
    """ISO 8601 UTC to the second with a `Z` (the check-in contract; RFC 3339 for Git LFS)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat() + "Z"


def hhmmss(seconds: float | int | None) -> str:
    """Duration as HH:MM:SS; hours may exceed 24 (the Session Server API shows "112:15:00")."""
    total = max(0, int(round(seconds or 0)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"
