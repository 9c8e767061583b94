"""Repositories: the unit that owns LFS locks and objects, open to every account unless restricted.

Access rules (issue 19): an unrestricted repository is read and written by every account; a restricted
one only by its members (`read` or `write`) and admins. Reading needs read access; locking, unlocking
and uploading need write access. The repository `default` serves `/api/lfs` and the REST lock endpoints;
it is made by migration 0008 and again on first use if someone emptied the table.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from sqlalchemy import and_, delete, func, select
from sqlalchemy.exc import IntegrityError

from errors import ApiError, conflict, forbidden, not_found
from extensions import db
from models import LfsObject, Repository, RepositoryMember, RepositoryObject, User
from services import accounts, clock

DEFAULT = "default"
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
Access = Literal["read", "write"]
ACCESS: tuple[Access, ...] = ("read", "write")


class Account(Protocol):
    """What the lock and repository services read of a caller."""

    id: uuid.UUID
    username: str
    is_admin: bool


@dataclass(frozen=True)
class Repo:
    id: int
    name: str
    restricted: bool
    quota_bytes: int | None
    created_at: datetime


_COLUMNS = (Repository.id, Repository.name, Repository.restricted, Repository.quota_bytes, Repository.created_at)


def as_dict(repo: Repo, **extra) -> dict:
    return {"name": repo.name, "restricted": repo.restricted, "quota_bytes": repo.quota_bytes,
            "created_at": repo.created_at.isoformat() + "Z", **extra}


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise ApiError(422, "Invalid repository name: lower-case letters, digits, '.', '_' and '-', "
                            "starting with a letter or digit, at most 64 characters", {"field": "name"})
    return name


def _find(name: str) -> Repo | None:
    row = db.session.execute(select(*_COLUMNS).where(Repository.name == name)).first()
    return Repo(*row) if row else None


def get(name: str) -> Repo:
    """The repository by name (404 if none; `default` is made on first use)."""
    validate_name(name)
    repo = _find(name)
    if repo is None and name == DEFAULT:
        repo = _create_default()
    if repo is None:
        raise not_found("Repository")
    return repo


def _create_default() -> Repo:
    try:
        db.session.add(Repository(name=DEFAULT, restricted=False, created_at=clock.now()))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # made concurrently by another request: read theirs
    found = _find(DEFAULT)
    assert found is not None
    return found


def access_of(repo: Repo, account: Account) -> Access | None:
    """What `account` may do in `repo`: write, read, or nothing."""
    if not repo.restricted or account.is_admin:
        return "write"
    return db.session.scalar(select(RepositoryMember.access).where(
        RepositoryMember.repository_id == repo.id, RepositoryMember.user_id == account.id))


def authorize(name: str, account: Account, need: Access) -> Repo:
    """The repository if `account` has `need` access to it: 404 unknown, 403 not allowed."""
    repo = get(name)
    have = access_of(repo, account)
    if have is None or (need == "write" and have != "write"):
        verb = "read" if need == "read" else "write to"
        raise forbidden(f"You may not {verb} repository {repo.name}")
    return repo


def create(name: str, *, restricted: bool = False, quota_bytes: int | None = None) -> Repo:
    validate_name(name)
    db.session.add(Repository(name=name, restricted=restricted, quota_bytes=quota_bytes, created_at=clock.now()))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise conflict(f"Repository {name} already exists", {"field": "name"}) from None
    return get(name)


def update(name: str, *, restricted: bool | None = None, quota_bytes: int | None | Literal[False] = False) -> Repo:
    """Change the restriction and/or quota (`quota_bytes=None` clears it; False leaves it)."""
    repo = get(name)
    values: dict = {}
    if restricted is not None:
        values["restricted"] = restricted
    if quota_bytes is not False:
        values["quota_bytes"] = quota_bytes
    if values:
        db.session.execute(Repository.__table__.update().where(Repository.id == repo.id).values(**values))
        db.session.commit()
    return get(name)


def list_all() -> list[Repo]:
    return [Repo(*row) for row in db.session.execute(select(*_COLUMNS).order_by(Repository.name))]


def visible_to(account: Account) -> list[tuple[Repo, Access]]:
    """Repositories the account may read, by name, with its access."""
    member = select(RepositoryMember.repository_id, RepositoryMember.access).where(
        RepositoryMember.user_id == account.id).subquery()
    rows = db.session.execute(select(*_COLUMNS, member.c.access).outerjoin(
        member, member.c.repository_id == Repository.id).order_by(Repository.name))
    found = []
    for *columns, access in rows:
        repo = Repo(*columns)
        have = "write" if (not repo.restricted or account.is_admin) else access
        if have is not None:
            found.append((repo, have))
    return found


def usage_bytes(repo_id: int) -> int:
    """Bytes of the objects linked to a repository (what its quota counts)."""
    return db.session.scalar(select(func.coalesce(func.sum(LfsObject.size), 0)).join(
        RepositoryObject, RepositoryObject.oid == LfsObject.oid).where(RepositoryObject.repository_id == repo_id)) or 0


def members(name: str) -> list[tuple[str, Access]]:
    repo = get(name)
    rows = db.session.execute(select(User.username, RepositoryMember.access).join(
        RepositoryMember, RepositoryMember.user_id == User.id).where(
        RepositoryMember.repository_id == repo.id).order_by(User.username))
    return [(username, access) for username, access in rows]


def _user(username: str) -> User:
    user = accounts.find_by_username(username)
    if user is None:
        raise not_found("User")
    return user


def set_member(name: str, username: str, access: Access) -> None:
    """Grant (or change) an account's access to a repository."""
    if access not in ACCESS:
        raise ApiError(422, "access must be 'read' or 'write'", {"field": "access"})
    repo, user = get(name), _user(username)
    db.session.execute(delete(RepositoryMember).where(RepositoryMember.repository_id == repo.id,
                                                      RepositoryMember.user_id == user.id))
    db.session.add(RepositoryMember(repository_id=repo.id, user_id=user.id, access=access))
    db.session.commit()


def remove_member(name: str, username: str) -> None:
    repo, user = get(name), _user(username)
    gone = db.session.execute(delete(RepositoryMember).where(RepositoryMember.repository_id == repo.id,
                                                             RepositoryMember.user_id == user.id)).rowcount
    db.session.commit()
    if not gone:
        raise not_found("Member")


def delete_repository(name: str, *, by: str) -> dict:
    """Delete a repository (admin `by`) in one transaction: its locks through the one release writer (audited,
    reason `repo_deleted`), its members, and the objects no other repository links; their bytes are removed
    from storage after the commit."""
    from services import lfs_objects, locks

    repo = get(name)
    # PostgreSQL: a lock being inserted meanwhile holds a key-share lock on this row; FOR UPDATE waits for it
    # (and makes later ones wait and then fail), so no lock vanishes through the cascade without its audit row
    db.session.execute(select(Repository.id).where(Repository.id == repo.id).with_for_update())
    released = locks.release_repository(repo, by)
    shared = select(RepositoryObject.oid).where(RepositoryObject.repository_id != repo.id)
    orphans = list(db.session.scalars(select(RepositoryObject.oid).where(
        and_(RepositoryObject.repository_id == repo.id, RepositoryObject.oid.not_in(shared)))))
    db.session.execute(delete(RepositoryObject).where(RepositoryObject.repository_id == repo.id))
    if orphans:
        db.session.execute(delete(LfsObject).where(LfsObject.oid.in_(orphans)))
    db.session.execute(delete(RepositoryMember).where(RepositoryMember.repository_id == repo.id))
    db.session.execute(delete(Repository).where(Repository.id == repo.id))
    db.session.commit()
    lfs_objects.remove_stored(orphans)
    return {"name": repo.name, "locks_deleted": released, "objects_deleted": len(orphans)}
