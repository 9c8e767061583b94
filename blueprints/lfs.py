"""The Git LFS locking API (git-lfs docs/api/locking.md) on the same lock table: `lfs.url = <server>/api/lfs`.

Auth is HTTP Basic (password, or a user-owned API key) as git's credential helper sends after a 401
with `WWW-Authenticate: Basic`, or a Bearer token. `ref`/`refspec` are accepted and ignored: a lock
holds a path on every branch, as the spec's single-branch locking describes.
"""

from flask import Blueprint, jsonify

from blueprints.common import authenticated, expects, require_account, require_user
from envelope import iso_z_seconds
from errors import LFS_MEDIA_TYPE, ApiError, use_family
from schemas import LfsError, LfsListQuery, LfsLockIn, LfsLockList, LfsLockOut, LfsUnlockIn, LfsVerifyIn, LfsVerifyOut
from services import locks

bp = use_family(Blueprint("lfs", __name__, url_prefix="/api/lfs"), "lfs")

TAGS = ("git-lfs",)
SECURITY = [{"basicAuth": []}, {"bearerAuth": []}]
MAX_LIMIT = 1000


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


@bp.post("/locks")
@authenticated(basic=True)
@expects(json=LfsLockIn, resp={201: LfsLockOut, 401: LfsError, 409: LfsError, 422: LfsError}, tags=TAGS,
         security=SECURITY)
def create_lock(body: LfsLockIn):
    """Create a lock; 409 carries the existing lock and a message naming its holder."""
    try:
        lock = locks.acquire(require_account(), body.path, _branch(body.ref))
    except locks.LockHeld as held:
        raise ApiError(409, held.message, extra={"lock": lfs_lock(held.lock)}) from None
    return lfs_response({"lock": lfs_lock(lock)}, 201)


@bp.get("/locks")
@authenticated(basic=True)
@expects(query=LfsListQuery, resp={200: LfsLockList, 401: LfsError}, tags=TAGS, security=SECURITY)
def list_locks(query: LfsListQuery):
    """List locks, newest first, by `path` or `id`; `cursor`/`limit` paginate (`next_cursor`)."""
    require_user()
    rows, next_cursor = locks.page_by_cursor(path=query.path, lock_id=query.id, cursor=query.cursor,
                                             limit=min(query.limit, MAX_LIMIT))
    payload: dict = {"locks": [lfs_lock(lock) for lock in rows]}
    if next_cursor:
        payload["next_cursor"] = next_cursor
    return lfs_response(payload)


@bp.post("/locks/verify")
@authenticated(basic=True)
@expects(json=LfsVerifyIn, resp={200: LfsVerifyOut, 401: LfsError}, tags=TAGS, security=SECURITY)
def verify_locks(body: LfsVerifyIn):
    """Locks split into `ours` (the caller's) and `theirs`, for push verification."""
    user = require_user()
    rows, next_cursor = locks.page_by_cursor(cursor=body.cursor, limit=min(body.limit, MAX_LIMIT))
    payload: dict = {"ours": [lfs_lock(lock) for lock in rows if lock.owner_id == user.id],
                     "theirs": [lfs_lock(lock) for lock in rows if lock.owner_id != user.id]}
    if next_cursor:
        payload["next_cursor"] = next_cursor
    return lfs_response(payload)


@bp.post("/locks/<lock_id>/unlock")
@authenticated(basic=True)
@expects(json=LfsUnlockIn, resp={200: LfsLockOut, 403: LfsError, 404: LfsError}, tags=TAGS, security=SECURITY)
def unlock(lock_id: str, body: LfsUnlockIn):
    """Delete a lock: the owner, or an admin with `force`."""
    lock = locks.release_for(require_account(), force=body.force, lock_id=lock_id)
    return lfs_response({"lock": lfs_lock(lock)})
