"""The Git LFS locking API (git-lfs docs/api/locking.md), per repository.

`lfs.url = <server>/api/repos/<name>/lfs` serves one repository's locks (and its objects: blueprints/
lfs_objects.py); `<server>/api/lfs` serves the repository `default`, as before repositories existed.
Auth is HTTP Basic (password, or an API key with scope `lfs`) as git's credential helper sends after a
401 with `WWW-Authenticate: Basic`, or a Bearer token. `ref`/`refspec` are accepted and ignored: a lock
holds a path on every branch, as the spec's single-branch locking describes.
"""

from collections.abc import Callable

from flask import Blueprint, jsonify

from blueprints.common import authenticated, expects, require_user
from envelope import iso_z_seconds
from errors import LFS_MEDIA_TYPE, ApiError, use_family
from schemas import LfsError, LfsListQuery, LfsLockIn, LfsLockList, LfsLockOut, LfsUnlockIn, LfsVerifyIn, LfsVerifyOut
from services import locks, repos

bp = use_family(Blueprint("lfs", __name__), "lfs")

DEFAULT_PREFIX = "/api/lfs"
REPO_PREFIX = "/api/repos/<repo>/lfs"
TAGS = ("git-lfs",)
SECURITY = [{"basicAuth": []}, {"bearerAuth": []}]
MAX_LIMIT = 1000


def lfs_route(rule: str, methods: list[str], on: Blueprint = bp) -> Callable:
    """Serve a view at `/api/repos/<repo>/lfs<rule>` and, for the repository `default`, `/api/lfs<rule>`.
    Two endpoint names, so werkzeug never redirects one URL to the other."""

    def register(view: Callable) -> Callable:
        on.add_url_rule(REPO_PREFIX + rule, f"repo_{view.__name__}", view, methods=methods)
        on.add_url_rule(DEFAULT_PREFIX + rule, view.__name__, view, methods=methods,
                        defaults={"repo": repos.DEFAULT})
        return view

    return register


def repository(name: str, need: repos.Access) -> repos.Repo:
    return repos.authorize(name, require_user(), need)


def lfs_lock(lock: locks.LockInfo) -> dict:
    return {"id": str(lock.id), "path": lock.asset_path, "locked_at": iso_z_seconds(lock.created_at),
            "owner": {"name": lock.owner}}


def lfs_response(payload: dict, status: int = 200):
    response = jsonify(payload)
    response.status_code = status
    response.mimetype = LFS_MEDIA_TYPE
    return response


def _branch(ref) -> str | None:
    name = ref.name if ref is not None else None
    return name.removeprefix("refs/heads/") if name else None


@lfs_route("/locks", ["POST"])
@authenticated("lfs", basic=True)
@expects(json=LfsLockIn, resp={201: LfsLockOut, 401: LfsError, 403: LfsError, 409: LfsError, 422: LfsError},
         tags=TAGS, security=SECURITY)
def create_lock(repo: str, body: LfsLockIn):
    """Create a lock; 409 carries the existing lock and a message naming its holder."""
    target = repository(repo, "write")
    try:
        lock = locks.acquire(target, require_user(), body.path, _branch(body.ref))
    except locks.LockHeld as held:
        raise ApiError(409, held.message, extra={"lock": lfs_lock(held.lock)}) from None
    return lfs_response({"lock": lfs_lock(lock)}, 201)


@lfs_route("/locks", ["GET"])
@authenticated("lfs", basic=True)
@expects(query=LfsListQuery, resp={200: LfsLockList, 401: LfsError, 403: LfsError}, tags=TAGS, security=SECURITY)
def list_locks(repo: str, query: LfsListQuery):
    """List locks, newest first, by `path` or `id`; `cursor`/`limit` paginate (`next_cursor`)."""
    rows, next_cursor = locks.page_by_cursor(repository(repo, "read"), path=query.path, lock_id=query.id,
                                             cursor=query.cursor, limit=min(query.limit, MAX_LIMIT))
    payload: dict = {"locks": [lfs_lock(lock) for lock in rows]}
    if next_cursor:
        payload["next_cursor"] = next_cursor
    return lfs_response(payload)


@lfs_route("/locks/verify", ["POST"])
@authenticated("lfs", basic=True)
@expects(json=LfsVerifyIn, resp={200: LfsVerifyOut, 401: LfsError, 403: LfsError}, tags=TAGS, security=SECURITY)
def verify_locks(repo: str, body: LfsVerifyIn):
    """Locks split into `ours` (the caller's) and `theirs`, for push verification (`locksverify`)."""
    account = require_user()
    rows, next_cursor = locks.page_by_cursor(repository(repo, "read"), cursor=body.cursor,
                                             limit=min(body.limit, MAX_LIMIT))
    payload: dict = {"ours": [lfs_lock(lock) for lock in rows if lock.owner_id == account.id],
                     "theirs": [lfs_lock(lock) for lock in rows if lock.owner_id != account.id]}
    if next_cursor:
        payload["next_cursor"] = next_cursor
    return lfs_response(payload)


@lfs_route("/locks/<lock_id>/unlock", ["POST"])
@authenticated("lfs", basic=True)
@expects(json=LfsUnlockIn, resp={200: LfsLockOut, 403: LfsError, 404: LfsError}, tags=TAGS, security=SECURITY)
def unlock(repo: str, lock_id: str, body: LfsUnlockIn):
    """Delete a lock: the owner, or an admin with `force`."""
    lock = locks.release_for(repository(repo, "write"), require_user(), force=body.force, lock_id=lock_id)
    return lfs_response({"lock": lfs_lock(lock)})
