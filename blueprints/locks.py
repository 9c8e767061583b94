"""The Asset Lock Manager's asset locks (envelope family), batch acquire/release, and the admins' release audit.

Every endpoint takes an optional `?repo=<name>` (default: the repository `default`, so the Asset Lock Manager's clients
work unchanged); reading needs read access to it, the rest write access.
"""

from flask import Blueprint, request

from blueprints.common import BEARER, admin_required, authenticated, expects, require_user
from envelope import success
from schemas import (
    BranchIn,
    Envelope,
    LockBatchIn,
    LockBatchReleaseIn,
    LockIn,
    LockListQuery,
    LockReleasesQuery,
    NotifyIn,
)
from services import locks, repos

bp = Blueprint("locks", __name__)

TAGS = ("locks",)


def _repo(need: repos.Access = "write") -> repos.Repo:
    return repos.authorize(request.args.get("repo") or repos.DEFAULT, require_user(), need)


def _page(items: list[dict], total: int, page: int, per_page: int) -> dict:
    return {"items": items, "page": page, "per_page": per_page, "total": total}


@bp.get("/api/locks")
@authenticated()
@expects(query=LockListQuery, resp={200: Envelope, 401: None, 422: None}, tags=TAGS, security=BEARER)
def list_locks(query: LockListQuery):
    """Active locks, newest first; filters: `owner`, `branch`, `prefix` (path prefix); `page`, `per_page`."""
    items, total = locks.list_locks(_repo("read"), owner=query.owner, branch=query.branch, prefix=query.prefix,
                                    page=query.page, per_page=query.per_page)
    return success(_page([locks.as_dict(lock) for lock in items], total, query.page, query.per_page), "Locks")


@bp.post("/api/locks")
@authenticated()
@expects(json=LockIn, resp={201: Envelope, 409: None, 422: None}, tags=TAGS, security=BEARER)
def acquire(body: LockIn):
    """Lock an asset path; 409 names the holder and when they locked it."""
    lock = locks.acquire(_repo(), require_user(), body.asset_path, body.branch, body.comment)
    return success(locks.as_dict(lock), "Lock acquired", 201)


@bp.post("/api/locks/batch")
@authenticated()
@expects(json=LockBatchIn, resp={201: Envelope, 409: None, 422: None}, tags=TAGS, security=BEARER)
def acquire_many(body: LockBatchIn):
    """Lock several paths at once, all or nothing (editor plugins lock a set of files)."""
    acquired = locks.acquire_many(_repo(), require_user(), body.asset_paths, body.branch, body.comment)
    return success([locks.as_dict(lock) for lock in acquired], f"{len(acquired)} locks acquired", 201)


@bp.post("/api/locks/batch/release")
@authenticated()
@expects(json=LockBatchReleaseIn, resp={200: Envelope, 403: None, 404: None, 422: None}, tags=TAGS,
         security=BEARER)
def release_many(body: LockBatchReleaseIn):
    """Release several of your locks at once (admins: anyone's), all or nothing."""
    released = locks.release_many(_repo(), body.asset_paths, require_user())
    return success({"released": released}, f"{len(released)} locks released")


@bp.post("/api/locks/auto-release")
@authenticated()
@expects(json=BranchIn, resp={200: Envelope, 422: None}, tags=TAGS, security=BEARER)
def release_branch(body: BranchIn):
    """Release the locks on a branch (after a merge): an admin releases all, anyone else only their own."""
    count = locks.release_branch(body.branch, require_user(), repo=_repo())
    return success({"branch": body.branch, "released": count}, f"{count} locks released")


@bp.post("/api/locks/path/<path:asset_path>/notify")
@authenticated()
@expects(json=NotifyIn, resp={200: Envelope, 404: None, 409: None}, tags=TAGS, security=BEARER)
def notify(asset_path: str, body: NotifyIn):
    """E-mail the holder that you need this asset (409 while mail is disabled on this server)."""
    lock = locks.notify_holder(_repo("read"), asset_path, require_user(), body.message)
    return success({"asset_path": lock.asset_path, "holder": lock.owner}, "Lock holder notified")


@bp.get("/api/locks/<path:asset_path>")
@authenticated()
@expects(resp={200: Envelope, 404: None, 422: None}, tags=TAGS, security=BEARER)
def get_lock(asset_path: str):
    """One lock by its asset path."""
    return success(locks.as_dict(locks.get(_repo("read"), asset_path)), "Lock")


@bp.delete("/api/locks/<path:asset_path>")
@authenticated()
@expects(resp={200: Envelope, 403: None, 404: None}, tags=TAGS, security=BEARER)
def release(asset_path: str):
    """Release a lock: its owner, or an admin (the owner is then e-mailed when mail is enabled)."""
    user = require_user()
    lock = locks.release_for(_repo(), user, force=user.is_admin, raw_path=asset_path)
    return success(locks.as_dict(lock), "Lock released")


@bp.get("/api/admin/lock-releases")
@admin_required
@expects(query=LockReleasesQuery, resp={200: Envelope, 403: None}, tags=("admin", *TAGS), security=BEARER)
def list_releases(query: LockReleasesQuery):
    """Released locks, newest first: who held each, who released it, when and why."""
    rows, total = locks.list_releases(reason=query.reason, prefix=query.prefix, repo=query.repo, page=query.page,
                                      per_page=query.per_page)
    return success(_page([locks.release_dict(r) for r in rows], total, query.page, query.per_page),
                   "Lock releases")
