"""Asset locks per repository: path rules, atomic acquire, release (owner, admin, branch, auto), the audit.

One table serves the Asset Lock Manager's REST API and the Git LFS locking API. The unique key is (repository,
lower-cased path), so the database, not a check-then-insert, decides who wins a race. Every release, whoever asks, goes
through `release_where()`: it deletes the locks and writes their audit rows in one transaction (one
statement on PostgreSQL).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, DateTime, String, case, delete, func, insert, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

import settings
from envelope import iso_z
from errors import ApiError, forbidden, not_found
from extensions import db
from models import Lock, LockRelease, Repository, User
from services import accounts, clock, mail
from services.repos import Account, Repo

MAX_PATH_LENGTH = 1024
ACQUIRE_ATTEMPTS = 3
REASONS = ("owner", "admin", "branch", "auto", "repo_deleted")  # lock_releases.reason is 16 characters
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")
_RELEASE_COLUMNS = ["lock_id", "asset_path", "owner", "branch", "locked_at", "released_at", "released_by", "reason",
                    "repository"]


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
    repository: str


# One SELECT with the holder's and repository's names: no identity map, no lazy loads, no refresh after commit.
_INFO = (Lock.id, Lock.asset_path, Lock.branch, Lock.comment, User.username, Lock.owner_id, Lock.created_at,
         Repository.name)


def _info_query():
    return select(*_INFO).join(User, User.id == Lock.owner_id).join(Repository, Repository.id == Lock.repository_id)


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
            "owner": lock.owner, "owner_id": str(lock.owner_id), "created_at": iso_z(lock.created_at),
            "repo": lock.repository}


def release_dict(row: LockRelease) -> dict[str, Any]:
    return {"id": row.id, "lock_id": row.lock_id, "asset_path": row.asset_path, "owner": row.owner,
            "branch": row.branch, "locked_at": iso_z(row.locked_at), "released_at": iso_z(row.released_at),
            "released_by": row.released_by, "reason": row.reason, "repo": row.repository}


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


def _in(repo: Repo) -> ColumnElement[bool]:
    return Lock.repository_id == repo.id


def find(repo: Repo, raw_path: str) -> LockInfo | None:
    found = _infos(_info_query().where(_in(repo), Lock.path_key == path_key(normalize_path(raw_path))))
    return found[0] if found else None


def get(repo: Repo, raw_path: str) -> LockInfo:
    lock = find(repo, raw_path)
    if lock is None:
        raise not_found("Lock")
    return lock


MAX_LOCK_ID = 2**63 - 1  # the id column is a 64-bit integer on PostgreSQL


def parse_lock_id(value: str | int | None) -> int | None:
    """A lock id as clients send it (a path segment, a filter, a cursor): ASCII digits within 64 bits, else
    None. str.isdigit() alone takes '²' and numbers the database cannot compare."""
    text = str(value) if value is not None else ""
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_LOCK_ID:
        return None
    return int(text)


def get_by_id(repo: Repo, lock_id: str | int) -> LockInfo:
    wanted = parse_lock_id(lock_id)
    found = _infos(_info_query().where(_in(repo), Lock.id == wanted)) if wanted is not None else []
    if not found:
        raise not_found("Lock")
    return found[0]


def acquire(repo: Repo, owner: Account, raw_path: str, branch: str | None, comment: str | None = None) -> LockInfo:
    """Insert the lock; the unique (repository, path key) makes exactly one of N concurrent callers win."""
    path = normalize_path(raw_path)
    for _ in range(ACQUIRE_ATTEMPTS):
        now = clock.now()
        values = dict(repository_id=repo.id, asset_path=path, path_key=path_key(path), owner_id=owner.id,
                      branch=branch, comment=comment, created_at=now)
        try:
            lock_id = db.session.execute(_insert_unless_held(values)).scalar()
        except IntegrityError:
            db.session.rollback()  # other databases: the constraint raised; read the holder in a fresh transaction
            lock_id = None
        if lock_id is not None:
            db.session.commit()
            return LockInfo(lock_id, path, branch, comment, owner.username, owner.id, now, repo.name)
        holder = find(repo, path)  # a new statement sees the winner's committed row
        db.session.rollback()
        if holder is not None:
            raise LockHeld(holder)
        # released between our insert and our read: try again
    raise ApiError(409, f"{path} is being locked and released concurrently; try again")


def _insert_unless_held(values: dict[str, Any]):
    """INSERT ... ON CONFLICT (repository_id, path_key) DO NOTHING RETURNING id: no row when it is held.

    The unique index decides (waiting for an in-flight competitor to commit or roll back), and no error
    aborts the transaction, so the loser reads the holder in the same session.
    """
    table = Lock.__table__
    dialect = db.engine.dialect.name
    if dialect in ("postgresql", "sqlite"):
        upsert = pg_insert if dialect == "postgresql" else sqlite_insert
        return upsert(table).values(values).on_conflict_do_nothing(
            index_elements=["repository_id", "path_key"]).returning(table.c.id)
    return insert(table).values(values).returning(table.c.id)


def acquire_many(repo: Repo, owner: Account, raw_paths: list[str], branch: str | None,
                 comment: str | None = None) -> list[LockInfo]:
    """All or nothing: every path is locked in one transaction, or none is (409 names the first holder)."""
    paths = list(dict.fromkeys(normalize_path(p) for p in raw_paths))
    holders = _info_query().where(_in(repo), Lock.path_key.in_([path_key(p) for p in paths])).order_by(
        Lock.id).limit(1)
    if held := _infos(holders):
        raise LockHeld(held[0])
    now = clock.now()
    locks = [Lock(repository_id=repo.id, asset_path=p, path_key=path_key(p), owner_id=owner.id, branch=branch,
                  comment=comment, created_at=now) for p in paths]
    db.session.add_all(locks)
    try:
        db.session.flush()
        created = [LockInfo(lk.id, lk.asset_path, branch, comment, owner.username, owner.id, now, repo.name)
                   for lk in locks]
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # someone won one of the paths after our check: the constraint decides
        if held := _infos(holders):
            raise LockHeld(held[0]) from None
        raise ApiError(409, "Some of these paths were locked concurrently; try again") from None
    return created


def list_locks(repo: Repo | None, *, owner: str | None = None, branch: str | None = None,
               prefix: str | None = None, page: int = 1, per_page: int = 50,
               oldest_first: bool = False) -> tuple[list[LockInfo], int]:
    """Newest first (oldest first: the console's board), filtered by repository (None: all), owner username,
    branch and path prefix."""
    query = _info_query()
    if repo is not None:
        query = query.where(_in(repo))
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
    order = Lock.id.asc() if oldest_first else Lock.id.desc()
    return _infos(query.order_by(order).offset((page - 1) * per_page).limit(per_page)), total


def page_by_cursor(repo: Repo, *, path: str | None = None, lock_id: str | None = None, cursor: str | None = None,
                   limit: int = 100) -> tuple[list[LockInfo], str | None]:
    """Newest first, keyset-paginated on the id (the Git LFS API's `cursor`/`next_cursor`)."""
    query = _info_query().where(_in(repo)).order_by(Lock.id.desc())
    if path:
        try:
            query = query.where(Lock.path_key == path_key(normalize_path(path)))
        except ApiError:
            return [], None  # a path that cannot be locked has no lock
    if lock_id:
        if parse_lock_id(lock_id) is None:
            return [], None
        query = query.where(Lock.id == parse_lock_id(lock_id))
    if cursor:
        if parse_lock_id(cursor) is None:
            raise ApiError(422, "Invalid cursor")
        query = query.where(Lock.id <= parse_lock_id(cursor))
    rows = _infos(query.limit(limit + 1))
    next_cursor = str(rows[limit].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


# ------------------------------------------------------------------ release: one writer


def release_where(condition: ColumnElement[bool], reason: str, by: str | None, *, owner_id: uuid.UUID | None = None,
                  now: datetime | None = None, expected: int | None = None, returning: bool = True,
                  commit: bool = True) -> list[LockInfo] | int:
    """Delete the locks matching `condition` and write one audit row for each, in one transaction.

    The only code that releases locks (REST, LFS, batch, branch, admin, CLI, the sweep). `reason` is
    recorded, except that a lock held by `owner_id` is recorded as the owner's release. PostgreSQL: one
    statement (`WITH gone AS (DELETE ... RETURNING) INSERT INTO lock_releases ...`). SQLite: the INSERT
    takes the write lock first, so no writer slips in before the DELETE. Returns the released locks, or
    with `returning=False` only their number (the sweep: no rows shipped back). `expected`: all or
    nothing (409 if a lock went concurrently). `commit=False`: part of the caller's transaction (repository
    deletion), which commits.
    """
    now = now or clock.now()
    locks, users, repos = Lock.__table__, User.__table__, Repository.__table__
    postgres = db.engine.dialect.name == "postgresql"
    source = locks
    if postgres:
        source = delete(locks).where(condition).returning(*locks.c).cte("gone")
    recorded = literal(reason, String) if owner_id is None else case(
        (source.c.owner_id == owner_id, "owner"), else_=literal(reason, String))
    rows = select(source.c.id, source.c.asset_path, users.c.username, source.c.branch, source.c.created_at,
                  literal(now, DateTime), literal(by, String), recorded, repos.c.name).join_from(
        source, users, users.c.id == source.c.owner_id).join(repos, repos.c.id == source.c.repository_id)
    audit = insert(LockRelease.__table__).from_select(_RELEASE_COLUMNS, rows if postgres else rows.where(condition))
    info = select(source.c.id, source.c.asset_path, source.c.branch, source.c.comment, users.c.username,
                  source.c.owner_id, source.c.created_at, repos.c.name).join_from(
        source, users, users.c.id == source.c.owner_id).join(repos, repos.c.id == source.c.repository_id)
    released: list[LockInfo] = []
    if postgres and returning:
        released = [LockInfo(*row) for row in db.session.execute(info.add_cte(audit.cte("audit")))]
        count = len(released)
    elif postgres:
        count = db.session.execute(audit).rowcount
    else:
        count = db.session.execute(audit).rowcount
        if returning:
            released = [LockInfo(*row) for row in db.session.execute(info.where(condition))]
        db.session.execute(delete(locks).where(condition))
    if expected is not None and count != expected:
        db.session.rollback()
        raise ApiError(409, "Some of these locks were released concurrently; nothing was released")
    if commit:
        db.session.commit()
    return released if returning else count


def release_for(repo: Repo, actor: Account, *, force: bool, raw_path: str | None = None,
                lock_id: str | None = None) -> LockInfo:
    """Release a lock by path or id: its owner always; someone else's only with `force`, and only an admin."""
    if raw_path is not None:
        target = Lock.path_key == path_key(normalize_path(raw_path))
    elif parse_lock_id(lock_id) is not None:
        target = Lock.id == parse_lock_id(lock_id)
    else:
        raise not_found("Lock")
    condition = _in(repo) & target
    if not (force and actor.is_admin):
        condition &= Lock.owner_id == actor.id
    released = release_where(condition, "admin", actor.username, owner_id=actor.id)
    if not released:  # none, or someone else's: find out which and say so
        lock = get(repo, raw_path) if raw_path is not None else get_by_id(repo, str(lock_id))
        if not force:
            raise forbidden(f"{lock.asset_path} is locked by {lock.owner}: only they or an admin can release it")
        raise forbidden("Only an admin can release another user's lock")
    lock = released[0]
    if lock.owner_id != actor.id:
        _tell_former_holder(lock, actor.username)
    return lock


def _tell_former_holder(lock: LockInfo, released_by: str) -> None:
    """Mail the holder of a force-released lock (a no-op while MAIL_ENABLED is off)."""
    if mail.master_enabled():
        mail.queue_force_release_notice(db.session.get(User, lock.owner_id), lock.asset_path, released_by)
        db.session.commit()


def release_path(repo: Repo, raw_path: str, by: str, reason: str = "admin") -> LockInfo:
    """Release a path regardless of its owner (CLI)."""
    released = release_where(_in(repo) & (Lock.path_key == path_key(normalize_path(raw_path))), reason, by)
    if not released:
        raise not_found("Lock")
    return released[0]


def release_many(repo: Repo, raw_paths: list[str], actor: Account) -> list[str]:
    """All or nothing: release every listed lock of the caller (admins: anyone's), or none."""
    keys = list(dict.fromkeys(path_key(normalize_path(p)) for p in raw_paths))
    found = {path_key(lock.asset_path): lock
             for lock in _infos(_info_query().where(_in(repo), Lock.path_key.in_(keys)))}
    missing = [k for k in keys if k not in found]
    if missing:
        raise ApiError(404, "Lock not found", {"asset_paths": missing})
    foreign = [lock.asset_path for lock in found.values() if lock.owner_id != actor.id]
    if foreign and not actor.is_admin:
        raise ApiError(403, "Some of these locks belong to other users", {"asset_paths": foreign})
    release_where(Lock.id.in_([lock.id for lock in found.values()]), "admin", actor.username, owner_id=actor.id,
                  expected=len(found), returning=False)
    return [found[k].asset_path for k in keys]


def release_branch(branch: str, actor: Account | None, by: str | None = None, repo: Repo | None = None) -> int:
    """Release every lock on a branch (in `repo`, or all): an admin (or the CLI) releases all, anyone else
    only their own."""
    condition = Lock.branch == branch
    if repo is not None:
        condition &= _in(repo)
    if actor is not None and not actor.is_admin:
        condition &= Lock.owner_id == actor.id
    return release_where(condition, "branch", by or (actor.username if actor else "cli"), returning=False)


def release_repository(repo: Repo, by: str) -> int:
    """Release a deleted repository's locks, audited (`repo_deleted`), in the caller's transaction."""
    return release_where(_in(repo), "repo_deleted", by, returning=False, commit=False)


def release_expired_locks(now: datetime | None = None) -> int:
    """The auto-release sweep over every repository: one set-based statement, reading the effective
    auto_release.* settings."""
    if not settings.get("auto_release.enabled"):
        return 0
    now = now or clock.now()
    cutoff = now - timedelta(hours=settings.get("auto_release.hours"))
    return release_where(Lock.created_at < cutoff, "auto", None, now=now, returning=False)


def notify_holder(repo: Repo, raw_path: str, requested_by: Account, message: str | None) -> LockInfo:
    """E-mail the holder that someone needs the asset (409 while mail is switched off)."""
    lock = get(repo, raw_path)
    if not mail.master_enabled():
        # 4xx, not 503: a switched-off feature is the server's configured state, not a fault to retry
        raise ApiError(409, "Mail is disabled on this server", {"mail_enabled": False})
    mail.queue_lock_notice(db.session.get(User, lock.owner_id), lock.asset_path, requested_by.username, message)
    db.session.commit()
    return lock


def list_releases(*, reason: str | None = None, prefix: str | None = None, repo: str | None = None, page: int = 1,
                  per_page: int = 50) -> tuple[list[LockRelease], int]:
    query = select(LockRelease)
    if reason:
        query = query.where(LockRelease.reason == reason)
    if prefix:
        query = query.where(LockRelease.asset_path.startswith(prefix.strip().lstrip("/"), autoescape=True))
    if repo:
        query = query.where(LockRelease.repository == repo)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(query.order_by(LockRelease.id.desc()).offset((page - 1) * per_page).limit(per_page))
    return list(rows), total
