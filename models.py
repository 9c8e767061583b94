"""All SQLAlchemy models. Times are naive UTC (`services.clock.now()`); output adds the `Z`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Uuid
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


# ---------------------------------------------------------------- activity sessions and page tracking (seed 003)

class ActivitySession(db.Model):
    """A tracked user's session in a client app: active -> paused -> active ... -> ended."""

    __tablename__ = "activity_sessions"
    __table_args__ = (
        Index("ix_activity_sessions_app_user_started", "app", "user", "started_at"),
        Index("ix_activity_sessions_app_started", "app", "started_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    app: Mapped[str] = mapped_column(String(80), nullable=False)
    # The tracked user of a client app: a string, not necessarily an account.
    user: Mapped[str] = mapped_column(String(128), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="active")
    started_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Active time accumulated up to the last pause/end; the running stretch starts at last_resumed_at.
    active_seconds: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    last_resumed_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_event_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class SessionEvent(db.Model):
    """One lifecycle event of an activity session (start, pause, resume, end) at the client's time."""

    __tablename__ = "session_events"
    __table_args__ = (Index("ix_session_events_session_at", "session_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    session_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("activity_sessions.id", ondelete="CASCADE"),
                                                  nullable=False)
    type: Mapped[str] = mapped_column(String(10), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class PageVisit(db.Model):
    """Time a tracked user spent on one page of a client app."""

    __tablename__ = "page_visits"
    __table_args__ = (
        Index("ix_page_visits_app_user_visited", "app", "user", "visited_at"),
        Index("ix_page_visits_app_visited", "app", "visited_at"),
        # covering on PostgreSQL: per-page totals are an index-only scan
        Index("ix_page_visits_app_page", "app", "page", postgresql_include=["seconds"]),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    app: Mapped[str] = mapped_column(String(80), nullable=False)
    user: Mapped[str] = mapped_column(String(128), nullable=False)
    page: Mapped[str] = mapped_column(String(512), nullable=False)
    seconds: Mapped[float] = mapped_column(Float, nullable=False)
    visited_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    # Optional link to an activity session; no foreign key so tracking never waits on the sessions table.
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
