"""Profiles: the display name and the 5 preference values the ML feed sends for a checked-in user."""

from __future__ import annotations

from extensions import db
from models import DEFAULT_PREFERENCES, User


def profile(user: User) -> dict:
    """Defaults: display name = username, preferences = 0.5 each."""
    return {
        "user_id": str(user.id),
        "username": user.username,
        "display_name": user.display_name or user.username,
        "preferences": list(user.preferences or DEFAULT_PREFERENCES),
    }


def update_profile(user: User, display_name: str | None = None, preferences: list[float] | None = None) -> User:
    """Change the given fields (already validated: 1-80 characters; exactly 5 floats in [0, 1])."""
    if display_name is not None:
        user.display_name = display_name
    if preferences is not None:
        user.preferences = [float(value) for value in preferences]
    db.session.commit()
    return user
