"""Runtime setting overrides kept in the `configuration` table (the Asset Lock Manager's admin config)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

import settings
from errors import ApiError
from extensions import db
from models import ConfigEntry


def runtime_keys() -> list[str]:
    return sorted(k for k, s in settings.SETTINGS.items() if s.runtime)


def effective_runtime() -> dict[str, Any]:
    return {key: settings.get(key) for key in runtime_keys()}


def validate_updates(updates: dict[str, Any]) -> dict[str, Any]:
    """Typed validation of every key first, so a bad batch writes nothing."""
    errors, clean = [], {}
    for key, value in updates.items():
        if key not in settings.SETTINGS or not settings.SETTINGS[key].runtime:
            errors.append({"loc": [key], "msg": "Unknown configuration key", "type": "unknown_key"})
            continue
        try:
            clean[key] = settings.validate_value(key, value)
        except ValidationError as exc:
            errors.extend({"loc": [key], "msg": e["msg"], "type": e["type"]} for e in exc.errors())
    if errors:
        raise ApiError(422, "Invalid configuration", errors)
    return clean


def set_overrides(updates: dict[str, Any], by: str | None) -> dict[str, Any]:
    """Validate and store overrides in one transaction; returns the new effective values."""
    for key, value in validate_updates(updates).items():
        write(key, value, by, commit=False)
    db.session.commit()
    settings.forget_db_overrides()
    return effective_runtime()


def clear_override(key: str) -> None:
    entry = db.session.get(ConfigEntry, key)
    if entry is not None:
        db.session.delete(entry)
        db.session.commit()
    settings.forget_db_overrides()


def write(key: str, value: Any, by: str | None = None, *, commit: bool = True) -> None:
    """Upsert a raw row (also used for system status keys such as the startup mail test)."""
    entry = db.session.get(ConfigEntry, key)
    if entry is None:
        db.session.add(ConfigEntry(key=key, value=value, updated_by=by))
    else:
        entry.value, entry.updated_by = value, by
    if commit:
        db.session.commit()
        settings.forget_db_overrides()


def read(key: str, default: Any = None) -> Any:
    entry = db.session.get(ConfigEntry, key)
    return default if entry is None else entry.value
