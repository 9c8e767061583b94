"""Asset locks: path rules, atomic acquire, release (owner, admin, branch, auto) and the release audit.

One table serves seed 002's REST API and the Git LFS locking API. The unique key is the lower-cased
path, so the database, not a check-then-insert, decides who wins a race.
"""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, DateTime, String, bindparam, delete, func, insert, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

import settings
from envelope import iso_z
from errors import ApiError, forbidden, not_found
from extensions import db
from models import Lock, LockRelease, User
from services import accounts, clock, mail, prepared

if TYPE_CHECKING:
    from services.tokens import TokenAccount  # a token's account, read-only: id, username, is_admin

MAX_PATH_LENGTH = 1024
ACQUIRE_ATTEMPTS = 3
REASONS = ("owner", "admin", "branch", "auto")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")
_RELEASE_COLUMNS = ["lock_id", "asset_path", "owner", "branch", "locked_at", "released_at", "released_by", "reason"]


@dataclass(frozen=True)
class LockInfo:
    """A lock as plain values (what services hand out; stays readable after the row is gone)."""

    id: int
    asset_path: str
    branch: str | None
    comment: str | None
    owner: str  # the holder's username
    owner_id: uuid.UUID
    created_at: datetime


# One SELECT with the holder's name: no ORM identity map, no lazy loads, no refresh after commit.
_INFO = (Lock.id, Lock.asset_path, Lock.branch, Lock.comment, User.username, Lock.owner_id, Lock.created_at)


def _info_query():
    return select(*_INFO).join(User, User.id == Lock.owner_id)


def _infos(query) -> list[LockInfo]:
    return [LockInfo(*row) for row in db.session.execute(query)]


class LockHeld(ApiError):
    """409 naming the holder and when they locked; `lock` lets the LFS API answer in its own shape."""

    def __init__(self, lock: LockInfo):
        since = iso_z(lock.created_at)
        super().__init__(409, f"{lock.asset_path} is already locked by {lock.owner} since {since}",
                         {"holder": lock.owner, "locked_at": since, "lock": as_dict(lock)})
        self.lock = lock


def as_dict(lock: LockInfo) -> dict[str, Any]:
    return {"id": lock.id, "asset_path": lock.asset_path, "branch": lock.branch, "comment": lock.comment,
            "owner": lock.owner, "owner_id": str(lock.owner_id), "created_at": iso_z(lock.created_at)}


def release_dict(row: LockRelease) -> dict[str, Any]:
    return {"id": row.id, "lock_id": row.lock_id, "asset_path": row.asset_path, "owner": row.owner,
            "branch": row.branch, "locked_at": iso_z(row.locked_at), "released_at": iso_z(row.released_at),
            "released_by": row.released_by, "reason": row.reason}


def _invalid(reason: str) -> ApiError:
    return ApiError(422, f"Invalid asset path: {reason}", {"field": "asset_path", "reason": reason})


def normalize_path(raw: str) -> str:
    """Repository-relative, forward slashes, no leading `/`, no `.`/`..`/empty segments, bounded length."""
    path = raw.strip().replace("\\", "/").lstrip("/")
    if not path:
        raise _invalid("empty")
    if _CONTROL.search(path):
        raise _invalid("control characters are not allowed")
    if _DRIVE.match(path):
        raise _invalid("absolute paths are not allowed")
    segments = [s for s in path.split("/") if s != "."]
    if ".." in segments:
        raise _invalid("'..' segments are not allowed")
    if not segments or "" in segments:
        raise _invalid("empty segments are not allowed")
    path = "/".join(segments)
    if len(path) > MAX_PATH_LENGTH:
        raise _invalid(f"longer than {MAX_PATH_LENGTH} characters")
    return path


def path_key(path: str) -> str:
    # One file on Windows/macOS file systems (where Unreal projects live) regardless of case.
    return path.lower()


def find(raw_path: str) -> LockInfo | None:
    found = _infos(_info_query().where(Lock.path_key == path_key(normalize_path(raw_path))))
    return found[0] if found else None


def get(raw_path: str) -> LockInfo:
    lock = find(raw_path)
    if lock is None:
        raise not_found("Lock")
    return lock


def get_by_id(lock_id: str | int) -> LockInfo:
    found = _infos(_info_query().where(Lock.id == int(lock_id))) if str(lock_id).isdigit() else []
    if not found:
        raise not_found("Lock")
    return found[0]


def acquire(owner: User | TokenAccount, raw_path: str, branch: str | None, comment: str | None = None) -> LockInfo:
    """Insert the lock; the unique path key makes exactly one of N concurrent callers win."""
    path = normalize_path(raw_path)
    owner_id, owner_name = owner.id, owner.username
    for _ in range(ACQUIRE_ATTEMPTS):
        now = clock.now()
        try:
            lock_id = _insert_unless_held(dict(asset_path=path, path_key=path_key(path), owner_id=owner_id,
                                               branch=branch, comment=comment, created_at=now))
        except IntegrityError:
            db.session.rollback()  # ends the failed transaction; the holder is read in a fresh one
            lock_id = None
        if lock_id is not None:
            db.session.commit()
            return LockInfo(lock_id, path, branch, comment, owner_name, owner_id, now)
        holder = find(path)  # a new statement sees the winner's committed row
        db.session.rollback()
        if holder is not None:
            raise LockHeld(holder)
        # released between our insert and our read: try again
    raise ApiError(409, f"{path} is being locked and released concurrently; try again")


def _insert_unless_held(values: dict[str, Any]) -> int | None:
    """INSERT ... ON CONFLICT (path_key) DO NOTHING RETURNING id: None when the unique key says it is held.

    The conflict is decided by the unique index (waiting for an in-flight competitor to commit or roll
    back), and no error aborts the transaction, so the loser reads the holder in the same session.
    """
    if prepared.available():
        row = _prepared_acquire().first_row(values)
        return row[0] if row else None
    return db.session.execute(_insert_unless_held_statement(db.engine.dialect.name), values).scalar()


@functools.cache
def _insert_unless_held_statement(dialect: str):
    """Built once per dialect (values bound per call): this runs on every acquire."""
    table = Lock.__table__
    values = {name: bindparam(name) for name in ("asset_path", "path_key", "owner_id", "branch", "comment",
                                                  "created_at")}
    if dialect in ("postgresql", "sqlite"):
        upsert = pg_insert if dialect == "postgresql" else sqlite_insert
        return upsert(table).values(values).on_conflict_do_nothing(index_elements=["path_key"]).returning(table.c.id)
    return insert(table).values(values).returning(table.c.id)  # other databases: IntegrityError decides


@functools.cache
def _prepared_acquire() -> prepared.Compiled:
    """PostgreSQL's statement, prepared and in autocommit (services.prepared): one round trip. Not
    idempotent: run twice, the second would find the first's lock."""
    return prepared.compile_select("concierge_lock_acquire", _insert_unless_held_statement("postgresql"),
                                   idempotent=False)


def acquire_many(owner: User, raw_paths: list[str], branch: str | None,
                 comment: str | None = None) -> list[LockInfo]:
    """All or nothing: every path is locked in one transaction, or none is (409 names the first holder)."""
    paths = list(dict.fromkeys(normalize_path(p) for p in raw_paths))
    holders = _info_query().where(Lock.path_key.in_([path_key(p) for p in paths])).order_by(Lock.id).limit(1)
    if held := _infos(holders):
        raise LockHeld(held[0])
    now, owner_id, owner_name = clock.now(), owner.id, owner.username
    locks = [Lock(asset_path=p, path_key=path_key(p), owner_id=owner_id, branch=branch, comment=comment,
                  created_at=now) for p in paths]
    db.session.add_all(locks)
    try:
        db.session.flush()
        created = [LockInfo(lk.id, lk.asset_path, branch, comment, owner_name, owner_id, now) for lk in locks]
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # someone won one of the paths after our check: the constraint decides
        if held := _infos(holders):
            raise LockHeld(held[0]) from None
        raise ApiError(409, "Some of these paths were locked concurrently; try again") from None
    return created


def list_locks(*, owner: str | None = None, branch: str | None = None, prefix: str | None = None,
               page: int = 1, per_page: int = 50) -> tuple[list[LockInfo], int]:
    """Newest first, filtered by owner username, branch and path prefix (case-insensitive)."""
    query = _info_query()
    if owner:
        query = query.where(Lock.owner_id == select(User.id).where(
            User.username == accounts.normalize_username(owner)).scalar_subquery())
    if branch:
        query = query.where(Lock.branch == branch)
    if prefix:
        start = path_key(prefix.strip().replace("\\", "/").lstrip("/"))
        escaped = start.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Lock.path_key.like(escaped + "%", escape="\\"))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return _infos(query.order_by(Lock.id.desc()).offset((page - 1) * per_page).limit(per_page)), total


def page_by_cursor(*, path: str | None = None, lock_id: str | None = None, cursor: str | None = None,
                   limit: int = 100) -> tuple[list[LockInfo], str | None]:
    """Newest first, keyset-paginated on the id (the Git LFS API's `cursor`/`next_cursor`)."""
    query = _info_query().order_by(Lock.id.desc())
    if path:
        try:
            query = query.where(Lock.path_key == path_key(normalize_path(path)))
        except ApiError:
            return [], None  # a path that cannot be locked has no lock
    if lock_id:
        if not lock_id.isdigit():
            return [], None
        query = query.where(Lock.id == int(lock_id))
    if cursor:
        if not cursor.isdigit():
            raise ApiError(422, "Invalid cursor")
        query = query.where(Lock.id <= int(cursor))
    rows = _infos(query.limit(limit + 1))
    next_cursor = str(rows[limit].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def release_for(actor: User | TokenAccount, *, force: bool, raw_path: str | None = None,
                lock_id: str | None = None) -> LockInfo:
    """Release a lock by path or id: one statement when the caller may (their own, or admin + force)."""
    if raw_path is not None:
        column, target = "path_key", path_key(normalize_path(raw_path))
    elif str(lock_id).isdigit():
        column, target = "id", int(str(lock_id))
    else:
        raise not_found("Lock")
    actor_id, actor_name, as_admin = actor.id, actor.username, force and actor.is_admin
    released = _release_one(column, target, actor_id, actor_name, owners_only=not as_admin)
    if released is None:  # none, or someone else's: find out which and say so
        lock = get(raw_path) if raw_path is not None else get_by_id(str(lock_id))
        return release(lock, actor, force=force)
    if released.owner_id != actor_id:
        _tell_former_holder(released, actor_name)
    return released


@functools.cache
def _prepared_release_one(column: str, owners_only: bool) -> prepared.Statement:
    """DELETE ... RETURNING, the audit INSERT and the SELECT of the holder's name as one PostgreSQL statement,
    prepared once per shape: $1 the path key or id, $2 the actor's id, $3 released_at, $4 released_by.
    Not idempotent: run twice, the second would find nothing and answer 404."""
    target_type = "varchar" if column == "path_key" else "integer"
    owned = " AND owner_id = $2" if owners_only else ""
    sql = f"""
WITH gone AS (DELETE FROM locks WHERE {column} = $1{owned} RETURNING *),
audit AS (
    INSERT INTO lock_releases ({', '.join(_RELEASE_COLUMNS)})
    SELECT gone.id, gone.asset_path, users.username, gone.branch, gone.created_at, $3, $4,
           CASE WHEN gone.owner_id = $2 THEN 'owner' ELSE 'admin' END
    FROM gone JOIN users ON users.id = gone.owner_id
)
SELECT gone.id, gone.asset_path, gone.branch, gone.comment, users.username, gone.owner_id, gone.created_at
FROM gone JOIN users ON users.id = gone.owner_id"""
    name = f"concierge_lock_release_by_{column}{'_owned' if owners_only else ''}"
    return prepared.Statement(name, sql, (target_type, "uuid", "timestamp", "varchar"), idempotent=False)


def _release_one(column: str, target: str | int, actor_id: uuid.UUID, by: str, *,
                 owners_only: bool) -> LockInfo | None:
    """Delete at most one lock and audit it (owner or admin release); PostgreSQL: a single statement."""
    if prepared.available():
        row = prepared.fetch_one(_prepared_release_one(column, owners_only), target, actor_id, clock.now(), by)
        return LockInfo(*row) if row else None
    condition = Lock.__table__.c[column] == target
    if owners_only:
        condition &= Lock.owner_id == actor_id
    found = _infos(_info_query().where(condition))
    if not found or not _release_where(Lock.id == found[0].id,
                                       "owner" if found[0].owner_id == actor_id else "admin", by):
        return None
    return found[0]


def release(lock: LockInfo, actor: User | TokenAccount, *, force: bool) -> LockInfo:
    """Release one lock: its owner always; someone else only with `force`, and only an admin."""
    forced = lock.owner_id != actor.id
    if forced and not force:
        raise forbidden(f"{lock.asset_path} is locked by {lock.owner}: only they or an admin can release it")
    if forced and not actor.is_admin:
        raise forbidden("Only an admin can release another user's lock")
    actor_name = actor.username
    _delete_one(lock, "admin" if forced else "owner", actor_name)
    if forced:
        _tell_former_holder(lock, actor_name)
    return lock


def _tell_former_holder(lock: LockInfo, released_by: str) -> None:
    """Mail the holder of a force-released lock (a no-op while MAIL_ENABLED is off)."""
    if mail.master_enabled():
        mail.queue_force_release_notice(db.session.get(User, lock.owner_id), lock.asset_path, released_by)
        db.session.commit()


def release_path(raw_path: str, by: str, reason: str = "admin") -> LockInfo:
    """Release a path regardless of its owner (CLI)."""
    lock = get(raw_path)
    _delete_one(lock, reason, by)
    return lock


def release_many(raw_paths: list[str], actor: User) -> list[str]:
    """All or nothing: release every listed lock of the caller (admins: anyone's), or none."""
    keys = list(dict.fromkeys(path_key(normalize_path(p)) for p in raw_paths))
    found = {path_key(lock.asset_path): lock for lock in _infos(_info_query().where(Lock.path_key.in_(keys)))}
    missing = [k for k in keys if k not in found]
    if missing:
        raise ApiError(404, "Lock not found", {"asset_paths": missing})
    foreign = [lock.asset_path for lock in found.values() if lock.owner_id != actor.id]
    if foreign and not actor.is_admin:
        raise ApiError(403, "Some of these locks belong to other users", {"asset_paths": foreign})
    released = [found[k].asset_path for k in keys]
    condition = Lock.id.in_([lock.id for lock in found.values()])
    _release_where(condition, "owner" if not foreign else "admin", actor.username, expected=len(found))
    return released


def _delete_one(lock: LockInfo, reason: str, by: str) -> None:
    if not _release_where(Lock.id == lock.id, reason, by):
        raise not_found("Lock")  # released concurrently by someone else


def release_branch(branch: str, actor: User | None, by: str | None = None) -> int:
    """Release every lock on a branch: an admin (or the CLI) releases all, anyone else only their own."""
    condition = Lock.branch == branch
    if actor is not None and not actor.is_admin:
        condition = condition & (Lock.owner_id == actor.id)
    return _release_where(condition, "branch", by or (actor.username if actor else "cli"))


def release_expired_locks(now: datetime | None = None) -> int:
    """The auto-release sweep: one set-based statement, reading the effective auto_release.* settings."""
    if not settings.get("auto_release.enabled"):
        return 0
    now = now or clock.now()
    cutoff = now - timedelta(hours=settings.get("auto_release.hours"))
    return _release_where(Lock.created_at < cutoff, "auto", None, now=now)


def _release_where(condition: ColumnElement[bool], reason: str, by: str | None, *, now: datetime | None = None,
                   expected: int | None = None) -> int:
    """Delete matching locks and write their audit rows in one transaction (one statement on PostgreSQL)."""
    now = now or clock.now()
    locks, users = Lock.__table__, User.__table__
    extra = (literal(now, DateTime), literal(by, String), literal(reason, String))
    target = insert(LockRelease.__table__)
    if db.engine.dialect.name == "postgresql":
        gone = delete(locks).where(condition).returning(
            locks.c.id, locks.c.asset_path, locks.c.owner_id, locks.c.branch, locks.c.created_at).cte("gone")
        source = select(gone.c.id, gone.c.asset_path, users.c.username, gone.c.branch, gone.c.created_at,
                        *extra).join_from(gone, users, users.c.id == gone.c.owner_id)
        count = db.session.execute(target.from_select(_RELEASE_COLUMNS, source)).rowcount
    else:
        # SQLite: the INSERT takes the write lock, so no other writer slips in before the DELETE.
        source = select(locks.c.id, locks.c.asset_path, users.c.username, locks.c.branch, locks.c.created_at,
                        *extra).join_from(locks, users, users.c.id == locks.c.owner_id).where(condition)
        db.session.execute(target.from_select(_RELEASE_COLUMNS, source))
        count = db.session.execute(delete(locks).where(condition)).rowcount
    if expected is not None and count != expected:
        db.session.rollback()
        raise ApiError(409, "Some of these locks were released concurrently; nothing was released")
    db.session.commit()
    return count


def notify_holder(raw_path: str, requested_by: User, message: str | None) -> LockInfo:
    """E-mail the holder that someone needs the asset (409 while mail is switched off)."""
    lock = get(raw_path)
    if not mail.master_enabled():
        # 4xx, not 503: a switched-off feature is the server's configured state, not a fault to retry
        raise ApiError(409, "Mail is disabled on this server", {"mail_enabled": False})
    mail.queue_lock_notice(db.session.get(User, lock.owner_id), lock.asset_path, requested_by.username, message)
    db.session.commit()
    return lock


def list_releases(*, reason: str | None = None, prefix: str | None = None, page: int = 1,
                  per_page: int = 50) -> tuple[list[LockRelease], int]:
    query = select(LockRelease)
    if reason:
        query = query.where(LockRelease.reason == reason)
    if prefix:
        query = query.where(LockRelease.asset_path.startswith(prefix.strip().lstrip("/"), autoescape=True))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(query.order_by(LockRelease.id.desc()).offset((page - 1) * per_page).limit(per_page))
    return list(rows), total
