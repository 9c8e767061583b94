"""The console's lock board endpoints (JSON under /console/api/): the API's lock and repository services with
the API's rules: read access to list, write access to release, admins release anyone's lock (`force`)."""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, request
from pydantic import Field, StrictBool

from blueprints.common import parse_model, require_user
from blueprints.console_session import console_api, json_body
from envelope import success
from schemas import NotifyIn, ReleaseReason, Strict
from services import locks, repos

bp = Blueprint("console_locks", __name__, url_prefix="/api")

ALL = "*"  # every repository: admins only (others may not read restricted ones)


class BoardQuery(Strict):
    repo: str = Field(default=repos.DEFAULT, min_length=1, max_length=64)
    owner: str | None = Field(default=None, max_length=64)
    branch: str | None = Field(default=None, max_length=255)
    prefix: str | None = Field(default=None, max_length=1024)
    order: Literal["newest", "oldest"] = "newest"
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=50, ge=1, le=200)


class AuditQuery(Strict):
    repo: str | None = Field(default=None, max_length=64)
    reason: ReleaseReason | None = None
    prefix: str | None = Field(default=None, max_length=1024)
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=50, ge=1, le=200)


class ReleaseIn(Strict):
    force: StrictBool = False  # "yes" is not a yes


def _page(items: list[dict], total: int, page: int, per_page: int) -> dict:
    return {"items": items, "page": page, "per_page": per_page, "total": total}


@bp.get("/repos")
@console_api()
def visible_repos():
    """Repositories the caller may read (the board's repository filter)."""
    me = require_user()
    return success({"repos": [{"name": r.name, "access": access} for r, access in repos.visible_to(me)],
                    "all_allowed": me.is_admin}, "Repositories")


@bp.get("/locks")
@console_api()
def board():
    """Locks of one repository (or every one, for admins), filtered and sorted."""
    query = parse_model(BoardQuery, request.args.to_dict())
    me = require_user()
    repo = None if query.repo == ALL and me.is_admin else repos.authorize(query.repo, me, "read")
    items, total = locks.list_locks(repo, owner=query.owner or None, branch=query.branch or None,
                                    prefix=query.prefix or None, page=query.page, per_page=query.per_page,
                                    oldest_first=query.order == "oldest")
    rows = [{**locks.as_dict(lock), "mine": lock.owner_id == me.id} for lock in items]
    return success(_page(rows, total, query.page, query.per_page), "Locks")


@bp.delete("/repos/<repo_name>/locks/<int:lock_id>")
@console_api()
def release(repo_name: str, lock_id: int):
    """Release your lock; admins another's with `{"force": true}` (the holder is e-mailed when mail is on)."""
    body = parse_model(ReleaseIn, json_body())
    me = require_user()
    lock = locks.release_for(repos.authorize(repo_name, me, "write"), me, force=body.force and me.is_admin,
                             lock_id=str(lock_id))
    return success(locks.as_dict(lock), "Lock released")


@bp.post("/repos/<repo_name>/locks/<int:lock_id>/notify")
@console_api()
def notify(repo_name: str, lock_id: int):
    """E-mail the holder that you need this asset (409 while mail is off on this server)."""
    body = parse_model(NotifyIn, json_body())
    me = require_user()
    repo = repos.authorize(repo_name, me, "read")
    lock = locks.notify_holder(repo, locks.get_by_id(repo, lock_id).asset_path, me, body.message)
    return success({"asset_path": lock.asset_path, "holder": lock.owner}, "Lock holder notified")


@bp.get("/lock-releases")
@console_api(admin=True)
def audit():
    """The release audit, newest first (admins)."""
    query = parse_model(AuditQuery, request.args.to_dict())
    rows, total = locks.list_releases(reason=query.reason, prefix=query.prefix or None, repo=query.repo or None,
                                      page=query.page, per_page=query.per_page)
    return success(_page([locks.release_dict(r) for r in rows], total, query.page, query.per_page),
                   "Lock releases")

