"""The Backend Server guide's UserConfiguration: one free-form JSON object per account, bounded in size."""

from __future__ import annotations

import json
from typing import Any

import settings
from errors import ApiError
from extensions import db
from models import User, UserSettings
from services import clock


def get_settings(user: User) -> dict[str, Any]:
    row = db.session.get(UserSettings, user.id)
    return row.settings if row is not None else {}


def replace_settings(user: User, document: Any) -> dict[str, Any]:
    """Store `document` (a JSON object) as the user's settings; 422 if not an object, 413 if too large."""
    if not isinstance(document, dict):
        raise ApiError(422, "Settings must be a JSON object")
    limit = settings.get("users.settings_max_bytes")
    size = len(json.dumps(document, separators=(",", ":")).encode())
    if size > limit:
        raise ApiError(413, "Settings document too large", {"size_bytes": size, "limit_bytes": limit})
    row = db.session.get(UserSettings, user.id)
    if row is None:
        row = UserSettings(user_id=user.id, settings=document, updated_at=clock.now())
        db.session.add(row)
    else:
        row.settings, row.updated_at = document, clock.now()
    db.session.commit()
    return document
