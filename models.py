"""All SQLAlchemy models. Times are naive UTC (`services.clock.now()`); output adds the `Z`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
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
    """A typed key/value row: runtime setting overrides and system status (the Asset Lock Manager's `configuration`)."""

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


class MailOutbox(db.Model):
    """An e-mail written in the request's transaction and delivered afterwards (retried with backoff)."""

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    to: Mapped[str] = mapped_column(String(254), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    html: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    # queued -> sending (claimed by one deliverer until next_attempt_at) -> sent | queued (retry) | failed
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=clock.now)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=clock.now)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_mail_outbox_due", "status", "next_attempt_at"),)


class AccountChange(db.Model):
    """A self-service e-mail or password change waiting for its confirmation link (token stored as SHA-256)."""

    __tablename__ = "account_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
                                               index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # "email" | "password"
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    new_email: Mapped[str | None] = mapped_column(String(254))
    # The new password's argon2 hash, computed at request time: the plaintext is never stored.
    new_password_hash: Mapped[str | None] = mapped_column(String(255))
    # The account's token_version at request time: any later password/email/admin change voids the link.
    user_token_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class Repository(db.Model):
    """A Git repository served by the LFS endpoints: its locks and objects; open to all unless restricted."""

    __tablename__ = "repositories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    # Restricted: only members (and admins) may read or write it.
    restricted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger)  # None: the lfs.default_quota_bytes setting
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=clock.now)


class RepositoryMember(db.Model):
    """An account's access to a restricted repository: `read` or `write`."""

    __tablename__ = "repository_members"
    __table_args__ = (CheckConstraint("access IN ('read', 'write')", name="ck_repository_members_access"),)

    repository_id: Mapped[int] = mapped_column(Integer, ForeignKey("repositories.id", ondelete="CASCADE"),
                                               primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                                               index=True)
    access: Mapped[str] = mapped_column(String(8), nullable=False)


class LfsObject(db.Model):
    """A stored Git LFS object, content-addressed by its sha256 and stored once for every repository."""

    __tablename__ = "lfs_objects"

    oid: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=clock.now)


class RepositoryObject(db.Model):
    """An object a repository may read: linked once its bytes were uploaded to (and verified for) it."""

    __tablename__ = "repository_objects"

    repository_id: Mapped[int] = mapped_column(Integer, ForeignKey("repositories.id", ondelete="CASCADE"),
                                               primary_key=True)
    oid: Mapped[str] = mapped_column(String(64), ForeignKey("lfs_objects.oid"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=clock.now)


class Lock(db.Model):
    """An exclusive lock on one asset path (the Asset Lock Manager and the Git LFS locking API share this table)."""

    __tablename__ = "locks"
    __table_args__ = (
        # The one arbiter of who holds a path. Pattern ops let the same index serve prefix filters
        # (`LIKE 'content/maps/%'`) under PostgreSQL's non-C collations.
        # One lock per path per repository (issue 19).
        db.Index("uq_locks_repository_path_key", "repository_id", "path_key", unique=True,
                 postgresql_ops={"path_key": "varchar_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repository_id: Mapped[int] = mapped_column(Integer, ForeignKey("repositories.id", ondelete="CASCADE"),
                                               nullable=False)
    asset_path: Mapped[str] = mapped_column(String(1024), nullable=False)
    # lower(asset_path): the unique key, so `Hero.uasset` and `hero.uasset` (one file on Windows) clash.
    path_key: Mapped[str] = mapped_column(String(1024), nullable=False)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
                                                index=True)
    branch: Mapped[str | None] = mapped_column(String(255), index=True)
    comment: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=clock.now, index=True)

    owner: Mapped[User] = db.relationship(User)


class LockRelease(db.Model):
    """Audit of released locks: who held it, who released it, when and why (owner/admin/branch/auto)."""

    __tablename__ = "lock_releases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lock_id: Mapped[int] = mapped_column(Integer, nullable=False)
    asset_path: Mapped[str] = mapped_column(String(1024), nullable=False)
    owner: Mapped[str] = mapped_column(String(64), nullable=False)
    branch: Mapped[str | None] = mapped_column(String(255))
    locked_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    released_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)
    released_by: Mapped[str | None] = mapped_column(String(64))  # None: the auto-release sweep
    reason: Mapped[str] = mapped_column(String(16), nullable=False)
    repository: Mapped[str | None] = mapped_column(String(64))  # the repository's name at release time


class CheckIn(db.Model):
    """The check-in contract's vibe pass: a user is present while status is active and now < expires_at."""

    __tablename__ = "checkins"
    __table_args__ = (
        Index("idx_checkins_user", "user_id"),
        # No index holds expires_at: extending a pass (only expires_at changes) is then an in-place
        # (HOT) update on PostgreSQL, which writes no index entry (migration 0007, fillfactor 80).
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


class AppSession(db.Model):
    """App1's session of a client-app user (`user_id` is the app's name for them, not an account)."""

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
    """The Backend Server guide's API interaction log: one row per outbound call (never its payload or token)."""

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
    """Metadata of a file in an app session's workspace folder (the Backend Server guide's file metadata)."""

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
    """The Backend Server guide's user configuration: one free-form JSON object per account."""

    __tablename__ = "user_settings"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    settings: Mapped[Any] = mapped_column(JSON, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
# ---------------------------------------------------------------- activity sessions, pages (the Session Server API)


class ActivitySession(db.Model):
    """A tracked user's session in a client app: active -> paused -> active ... -> ended."""

    __tablename__ = "activity_sessions"
    __table_args__ = (
        Index("ix_activity_sessions_app_user_started", "app", "user", "started_at"),
        Index("ix_activity_sessions_app_started", "app", "started_at"),
        # the sessions whose duration still grows, read beside session_rollups
        Index("ix_activity_sessions_open", "app", "started_at", postgresql_where=text("status <> 'ended'"),
              sqlite_where=text("status <> 'ended'")),
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
    """Time a tracked user spent on one page of a client app.

    PostgreSQL: partitioned by month of visited_at (migration 0009; partitions in schema
    `page_visit_partitions`, primary key (id, visited_at)); whole-app totals come from PageRollup."""

    __tablename__ = "page_visits"
    __table_args__ = (
        # covering on PostgreSQL: one user's page reports are an index-only scan
        Index("ix_page_visits_app_user_visited", "app", "user", "visited_at", postgresql_include=["page", "seconds"]),
        Index("ix_page_visits_app_visited", "app", "visited_at"),
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


class PageRollup(db.Model):
    """Page visits of one app summed per UTC hour and page (services/rollups.py).

    Tracking adds a `pending` delta row in the visits' own transaction; a job sums each key's rows into one."""

    __tablename__ = "page_rollups"
    __table_args__ = (
        Index("ix_page_rollups_app_bucket", "app", "bucket", "page", postgresql_include=["visits", "seconds"]),
        Index("ix_page_rollups_pending", "id", postgresql_where=text("pending"), sqlite_where=text("pending")),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    app: Mapped[str] = mapped_column(String(80), nullable=False)
    bucket: Mapped[datetime] = mapped_column(DateTime, nullable=False)  # naive UTC, start of the hour
    page: Mapped[str] = mapped_column(String(512), nullable=False)
    visits: Mapped[int] = mapped_column(BigInteger, nullable=False)
    seconds: Mapped[float] = mapped_column(Float, nullable=False)
    pending: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class SessionRollup(db.Model):
    """Activity sessions of one app per 15-minute UTC bucket of their start (services/rollups.py).

    `started` counts every session; the duration columns cover ended sessions only (an open one's
    duration still grows: reports read open sessions from activity_sessions)."""

    __tablename__ = "session_rollups"
    __table_args__ = (
        Index("ix_session_rollups_app_bucket", "app", "bucket"),
        Index("ix_session_rollups_pending", "id", postgresql_where=text("pending"), sqlite_where=text("pending")),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    app: Mapped[str] = mapped_column(String(80), nullable=False)
    bucket: Mapped[datetime] = mapped_column(DateTime, nullable=False)  # naive UTC, :00 :15 :30 or :45
    started: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    ended: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    ended_seconds: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    ended_max: Mapped[float | None] = mapped_column(Float)
    ended_min: Mapped[float | None] = mapped_column(Float)
    pending: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
