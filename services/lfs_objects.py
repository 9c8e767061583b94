"""Git LFS objects of a repository: the Batch API's answers, signed transfer links, uploads, downloads, quota.

A repository may read an object once bytes with that sha256 were uploaded *to it* and verified
(`repository_objects`). Bytes are stored once (content-addressed) and shared, but a repository never
links an object it did not upload: otherwise anyone who learned an oid could read it from a restricted
repository by claiming it in their own. So an upload of bytes already stored is received, checked, and
only linked.

Transfer links are signed with the app's secret (itsdangerous), short-lived (`lfs.transfer_expiry_seconds`)
and bound to one repository, one object (oid and size) and one operation, so git-lfs uses them without
the user's password.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

import settings
from errors import ApiError
from extensions import db
from models import LfsObject, RepositoryObject
from services import clock, repos, storage
from services.repos import Repo

OPERATIONS = ("upload", "download", "verify")


@dataclass(frozen=True)
class Transfer:
    """What a signed link allows: one operation on one object of one repository."""

    repo_id: int
    oid: str
    size: int
    operation: str
    nonce: str  # S3: the temporary key the upload went to


def backend() -> storage.LocalStorage | storage.S3Storage:
    """This app's storage backend, built once from the static settings."""
    found = current_app.extensions.get("concierge.lfs_storage")
    if found is None:
        found = storage.build(current_app.extensions["concierge.settings"], current_app.instance_path)
        current_app.extensions["concierge.lfs_storage"] = found
    return found


class _ClockSigner(TimestampSigner):
    """Timestamps from services.clock, so expiry follows the server's (freezable) clock."""

    def get_timestamp(self) -> int:
        return int(clock.now().replace(tzinfo=UTC).timestamp())


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="concierge.lfs-transfer", signer=_ClockSigner)


def sign(transfer: Transfer) -> str:
    return _serializer().dumps([transfer.repo_id, transfer.oid, transfer.size, transfer.operation, transfer.nonce])


def check(token: str | None, repo: Repo, oid: str, operation: str) -> Transfer:
    """The transfer a link's token allows, if it is this one and has not expired (401 otherwise)."""
    try:
        values = _serializer().loads(token or "", max_age=settings.static("lfs.transfer_expiry_seconds"))
        transfer = Transfer(*values)
    except SignatureExpired:
        raise ApiError(401, "This transfer link has expired; ask the Batch API for a new one") from None
    except (BadSignature, TypeError, ValueError):
        raise ApiError(401, "Invalid transfer link") from None
    if (transfer.repo_id, transfer.oid, transfer.operation) != (repo.id, oid, operation):
        raise ApiError(401, "This transfer link is for another object or operation")
    return transfer


def _linked(repo: Repo, oids: list[str]) -> dict[str, int]:
    rows = db.session.execute(select(LfsObject.oid, LfsObject.size).join(
        RepositoryObject, RepositoryObject.oid == LfsObject.oid).where(
        RepositoryObject.repository_id == repo.id, LfsObject.oid.in_(oids)))
    return {oid: size for oid, size in rows}


def quota_of(repo: Repo) -> int:
    return repo.quota_bytes if repo.quota_bytes is not None else settings.static("lfs.default_quota_bytes")


def _check_quota(repo: Repo, adding: int) -> None:
    quota = quota_of(repo)
    if quota and adding and repos.usage_bytes(repo.id) + adding > quota:
        used = repos.usage_bytes(repo.id)
        raise ApiError(413, f"Repository {repo.name} is over its quota: {used} of {quota} bytes used, this push "
                            f"needs {adding} more", {"quota_bytes": quota, "used_bytes": used, "needed_bytes": adding})


def batch(repo: Repo, operation: str, objects: list[tuple[str, int]], base_url: str) -> list[dict]:
    """The Batch API's `objects`: actions for each object, or a per-object error (404, 422)."""
    expires = settings.static("lfs.transfer_expiry_seconds")
    linked = _linked(repo, [oid for oid, _ in objects])
    if operation == "upload":
        _check_quota(repo, sum(size for oid, size in dict(objects).items() if oid not in linked))
    answers = []
    for oid, size in objects:
        answer: dict = {"oid": oid, "size": size, "authenticated": True}
        if operation == "download":
            if linked.get(oid) != size:
                answer["error"] = {"code": 404, "message": "Object does not exist"}
            else:
                answer["actions"] = {"download": _action(repo, oid, size, "download", base_url, expires)}
        elif oid not in linked:  # already there: no actions, git-lfs skips it
            nonce = uuid.uuid4().hex
            answer["actions"] = {"upload": _action(repo, oid, size, "upload", base_url, expires, nonce),
                                 "verify": _action(repo, oid, size, "verify", base_url, expires, nonce)}
        answers.append(answer)
    return answers


def _action(repo: Repo, oid: str, size: int, operation: str, base_url: str, expires: int, nonce: str = "") -> dict:
    token = sign(Transfer(repo.id, oid, size, operation, nonce))
    store = backend()
    if isinstance(store, storage.S3Storage) and operation == "upload":
        href = store.upload_url(oid, nonce, expires)
    elif isinstance(store, storage.S3Storage) and operation == "download":
        href = store.download_url(oid, expires)
    else:
        href = f"{base_url}/objects/{oid}{'/verify' if operation == 'verify' else ''}?token={token}"
    return {"href": href, "expires_in": expires}


def receive(repo: Repo, transfer: Transfer, read: Callable[[int], bytes]) -> None:
    """Local storage: stream the upload in, verify it, and link it (413 over quota, 422 on a mismatch)."""
    store = backend()
    if not isinstance(store, storage.LocalStorage):
        raise ApiError(405, "Uploads go to the object store directly")
    _check_quota(repo, transfer.size)
    store.receive(transfer.oid, transfer.size, read)
    _link(repo, transfer.oid, transfer.size)


def verify(repo: Repo, transfer: Transfer) -> None:
    """The `verify` action: S3 checks and promotes the uploaded temp object; then the object must be linked."""
    store = backend()
    if isinstance(store, storage.S3Storage) and not _linked(repo, [transfer.oid]):
        _check_quota(repo, transfer.size)
        store.promote(transfer.oid, transfer.size, transfer.nonce)
        _link(repo, transfer.oid, transfer.size)
    if _linked(repo, [transfer.oid]).get(transfer.oid) != transfer.size:
        raise ApiError(404, "Object was not uploaded")


def _link(repo: Repo, oid: str, size: int) -> None:
    """Record the verified object (once) and make it readable in `repo` (quota rechecked in this transaction)."""
    upsert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    now = clock.now()
    db.session.execute(upsert(LfsObject.__table__).values(oid=oid, size=size, created_at=now).on_conflict_do_nothing())
    db.session.execute(upsert(RepositoryObject.__table__).values(repository_id=repo.id, oid=oid, created_at=now)
                       .on_conflict_do_nothing())
    db.session.commit()


def local_path(repo: Repo, transfer: Transfer):
    """Local storage: the file to send for a download (404 once the object left the repository)."""
    if transfer.oid not in _linked(repo, [transfer.oid]):
        raise ApiError(404, "Object does not exist")
    return backend().path(transfer.oid)


def remove_stored(oids: list[str]) -> None:
    """Delete the bytes of objects no repository links any more (after their rows were deleted)."""
    if not oids:
        return
    still = set(db.session.scalars(select(LfsObject.oid).where(LfsObject.oid.in_(oids))))
    store = backend()
    for oid in oids:
        if oid not in still:
            store.remove(oid)


def stats(repo: Repo) -> dict:
    count = db.session.scalar(select(func.count()).select_from(RepositoryObject).where(
        RepositoryObject.repository_id == repo.id)) or 0
    return {"objects": count, "used_bytes": repos.usage_bytes(repo.id), "quota_bytes": quota_of(repo) or None}
