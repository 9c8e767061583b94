"""All SQLAlchemy models. Times are naive UTC (`services.clock.now()`); output adds the `Z`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from services import clock

DEFAULT_PREFERENCES = [0.5, 0.5, 0.5, 0.5, 0.5]


class User(db.Model):
    """An account: logs in, holds locks, checks in, owns settings."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # Stored lower-case: login and uniqueness are case-insensitive.
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    display_name: Mapped[str | None] = mapped_column(String(80))
    preferences: Mapped[list[float]] = mapped_column(JSON, nullable=False, default=lambda: list(DEFAULT_PREFERENCES))
    # Bumped on password/email/admin-status change: tokens carrying an older version are refused.
    token_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=clock.now)


class ConfigEntry(db.Model):
    """A typed key/value row: runtime setting overrides and system status (seed 002's `configuration`)."""

    __tablename__ = "configuration"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=clock.now, onupdate=clock.now)
    updated_by: Mapped[str | None] = mapped_column(String(64))


class RevokedToken(db.Model):
    """A single JWT revoked by logout; rows past their expiry are purged by a job."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    revoked_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=clock.now)


class ApiKey(db.Model):
    """A service credential: shown once, stored as a SHA-256 digest, found by its public prefix."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), unique=True, nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    scopes: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    # Bound to one client app: the key may act for any tracked user of that app, and only that app.
    app: Mapped[str | None] = mapped_column(String(80))
    # Optional owner: the key then authenticates as this account (e.g. git's credential helper).
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=clock.now)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class JobRun(db.Model):
    """One execution of a scheduled job: which process ran it and how it ended (single-runner proof)."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    pid: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    ok: Mapped[bool | None] = mapped_column(Boolean)
    result: Mapped[str | None] = mapped_column(String(200))


class AppSession(db.Model):
    """Seed 000's session of a client-app user (`user_id` is the app's name for them, not an account)."""

    __tablename__ = "app_sessions"

    session_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    last_accessed_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)
    data: Mapped[Any] = mapped_column(JSON, nullable=True)


class SessionNotification(db.Model):
    """A cross-app notification from Alohomora; one row per token (idempotency by unique digest)."""

    __tablename__ = "session_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Alohomora's token_id is the raw token itself, so only its digest and a short hint are kept.
    token_digest: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    token_hint: Mapped[str] = mapped_column(String(16), nullable=False)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    workflow_id: Mapped[str] = mapped_column(String(255), nullable=False)
    remote_session_id: Mapped[str | None] = mapped_column(String(255))
    workflow_status: Mapped[Any] = mapped_column(JSON, nullable=True)
    notification_metadata: Mapped[Any] = mapped_column(JSON, nullable=True)
    local_session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    source_address: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)


class ApiInteraction(db.Model):
    """Seed 001's API interaction log: one row per outbound call (never its payload or token)."""

    __tablename__ = "api_interactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service: Mapped[str] = mapped_column(String(40), nullable=False)
    method: Mapped[str] = mapped_column(String(10), nullable=False)
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float, nullable=False)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)


class WorkspaceFile(db.Model):
    """Metadata of a file in an app session's workspace folder (seed 001's file metadata)."""

    __tablename__ = "workspace_files"
    __table_args__ = (UniqueConstraint("session_id", "name", name="uq_workspace_files_session_name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("app_sessions.session_id", ondelete="CASCADE"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    content_type: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class UserSettings(db.Model):
    """Seed 001's user configuration: one free-form JSON object per account."""

    __tablename__ = "user_settings"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    settings: Mapped[Any] = mapped_column(JSON, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
