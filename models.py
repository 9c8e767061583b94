"""All SQLAlchemy models. Times are naive UTC (`services.clock.now()`); output adds the `Z`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Uuid, text
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

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


class CheckIn(db.Model):
    """Seed 004's vibe pass: a user is present while status is active and now < expires_at."""

    __tablename__ = "checkins"
    __table_args__ = (
        Index("idx_checkins_user", "user_id"),
        Index("idx_checkins_active", "status", "expires_at"),
        # At most one active pass per user, enforced by the database even under concurrent check-ins.
        Index("uq_checkins_one_active", "user_id", unique=True,
              postgresql_where=text("status = 'active'"), sqlite_where=text("status = 'active'")),
        # Feed order (checked_in_at, id) over active passes: keyset pages read an index range, no sort.
        Index("idx_checkins_feed_order", "checked_in_at", "id",
              postgresql_where=text("status = 'active'"), sqlite_where=text("status = 'active'")),
        CheckConstraint("status IN ('active', 'inactive')", name="ck_checkins_status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    checked_in_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=clock.now)
    # ORM-side cascade too: SQLite runs without foreign-key enforcement, so ON DELETE CASCADE alone is not enough.
    user: Mapped[User] = relationship(User, backref=backref("checkins", cascade="all, delete-orphan"))
