"""Page tracking (seed 003): one visit or a bounded batch, stored all-or-nothing in one INSERT."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert

import settings
from errors import ApiError
from extensions import db
from models import PageVisit
from services.activity import event_time


@dataclass(frozen=True)
class Visit:
    app: str
    user: str
    page: str
    seconds: float
    at: datetime | None = None
    session_id: uuid.UUID | None = None


def track(visits: list[Visit]) -> list[dict]:
    """Store every visit or none; returns the stored rows as plain dicts (visited_at is naive UTC)."""
    limit = settings.get("analytics.track_batch_max")
    if len(visits) > limit:
        raise ApiError(422, "Too many page visits in one batch", {"max": limit, "got": len(visits)})
    if not visits:
        raise ApiError(422, "Empty batch", {"min": 1})
    rows = []
    for index, visit in enumerate(visits):
        try:
            at = event_time(visit.at)
        except ApiError as exc:
            raise ApiError(exc.status, exc.message, {"index": index, **exc.details}) from None
        rows.append({"app": visit.app, "user": visit.user, "page": visit.page, "seconds": visit.seconds,
                     "visited_at": at, "session_id": visit.session_id})
    db.session.execute(insert(PageVisit), rows)
    db.session.commit()
    return rows
