"""App1's app sessions: create, look up (expired = absent), relay tokens, receive notifications, purge."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

import settings
from errors import ApiError
from extensions import db
from models import AppSession, SessionNotification, WorkspaceFile
from services import alohomora, clock, workspace

TOUCH_INTERVAL = timedelta(minutes=1)


def create_session(user_id: str, data: Any = None) -> AppSession:
    """A new session expiring `app_sessions.ttl_minutes` after creation."""
    now = clock.now()
    session = AppSession(session_id=uuid.uuid4(), user_id=user_id, created_at=now, last_accessed_at=now,
                         expires_at=now + timedelta(minutes=settings.get("app_sessions.ttl_minutes")), data=data)
    db.session.add(session)
    db.session.commit()
    return session


def find_live_session(session_id: str | uuid.UUID) -> AppSession:
    """The session if it exists and has not expired; 404 "Session not found" otherwise."""
    try:
        key = session_id if isinstance(session_id, uuid.UUID) else uuid.UUID(str(session_id))
    except ValueError:
        raise ApiError(404, "Session not found") from None
    session = db.session.get(AppSession, key)
    if session is None or session.expires_at <= clock.now():
        raise ApiError(404, "Session not found")
    return session


def touch(session: AppSession) -> None:
    """Record an access; at most one write per TOUCH_INTERVAL so busy sessions do not contend on their row."""
    now = clock.now()
    if now - session.last_accessed_at >= TOUCH_INTERVAL:
        session.last_accessed_at = now
        db.session.commit()


def register_token(session: AppSession, token: str, workflow_id: str, function_id: str, system_id: str,
                   user_id: str | None, token_metadata: dict[str, Any] | None) -> str:
    """Forward the token to Alohomora's record_token; returns Alohomora's token_id."""
    payload = {"system_id": system_id, "token": token, "workflow_id": workflow_id, "function_id": function_id,
               "user_id": user_id or session.user_id, "token_metadata": token_metadata or {}}
    touch(session)
    return alohomora.record_token(payload).token_id


@dataclass(frozen=True)
class NotificationResult:
    token_id: str
    processed_at: datetime
    local_session_created: bool
    local_session_id: uuid.UUID | None


def token_digest(token_id: str) -> str:
    return hashlib.sha256(token_id.encode()).hexdigest()


def receive_notification(token_id: str, user_id: str, workflow_id: str, remote_session_id: str | None,
                         create_local_session: bool, workflow_status: dict | None,
                         notification_metadata: dict | None, source_address: str | None) -> NotificationResult:
    """Store a notification once per token_id; a repeat (even a concurrent one) replays the first answer."""
    digest = token_digest(token_id)
    existing = _notification(digest)
    if existing is not None:
        return _result(token_id, existing)
    now = clock.now()
    local_id = None
    if create_local_session:
        local = AppSession(session_id=uuid.uuid4(), user_id=user_id, created_at=now, last_accessed_at=now,
                           expires_at=now + timedelta(minutes=settings.get("app_sessions.ttl_minutes")),
                           data={"source": "alohomora", "workflow_id": workflow_id})
        db.session.add(local)
        local_id = local.session_id
    row = SessionNotification(token_digest=digest, token_hint=_hint(token_id), user_id=user_id,
                              workflow_id=workflow_id, remote_session_id=remote_session_id,
                              workflow_status=workflow_status, notification_metadata=notification_metadata,
                              local_session_id=local_id, source_address=source_address, received_at=now)
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:
        # Lost the race to an identical notification: its row (and session) stand, ours is rolled back.
        db.session.rollback()
        existing = _notification(digest)
        if existing is None:
            raise
        return _result(token_id, existing)
    return _result(token_id, row)


def _notification(digest: str) -> SessionNotification | None:
    return db.session.scalar(select(SessionNotification).where(SessionNotification.token_digest == digest))


def _hint(token_id: str) -> str:
    return token_id[:6] + "…" if len(token_id) > 8 else "…"


def _result(token_id: str, row: SessionNotification) -> NotificationResult:
    return NotificationResult(token_id=token_id, processed_at=row.received_at,
                              local_session_created=row.local_session_id is not None,
                              local_session_id=row.local_session_id)


def list_notifications(limit: int = 100, offset: int = 0) -> list[SessionNotification]:
    query = select(SessionNotification).order_by(SessionNotification.id.desc()).limit(limit).offset(offset)
    return list(db.session.scalars(query))


def purge_expired_sessions() -> int:
    """Scheduled: delete expired sessions and their file rows (set-based), then folders left without a session."""
    now = clock.now()
    expired = select(AppSession.session_id).where(AppSession.expires_at <= now)
    db.session.execute(delete(WorkspaceFile).where(WorkspaceFile.session_id.in_(expired)))
    deleted = db.session.execute(delete(AppSession).where(AppSession.expires_at <= now)).rowcount or 0
    db.session.commit()
    workspace.remove_orphan_folders()
    return deleted
