"""The Git LFS Batch API (git-lfs docs/api/batch.md) and the `basic` transfers it hands out, per repository.

`POST <lfs.url>/objects/batch` (Basic, Bearer, or an `lfs` API key) answers with signed, short-lived action
links. With local storage they point back here (`PUT`/`GET .../objects/<oid>?token=`, `POST
.../objects/<oid>/verify?token=`); with S3 the upload and download links are presigned URLs of the bucket
and only `verify` comes here. Transfer views authenticate by the link's token, not by the user's password.
"""

from collections.abc import Callable

from flask import Blueprint, request, send_file

from blueprints.common import authenticated, declare_key_scopes, expects
from blueprints.lfs import REPO_PREFIX, SECURITY, TAGS, lfs_response, lfs_route, repository
from errors import ApiError, use_family
from schemas import LfsBatchIn, LfsBatchOut, LfsError
from services import lfs_objects, repos, storage

bp = use_family(Blueprint("lfs_objects", __name__), "lfs")


def _transfer(repo: str, oid: str, operation: str) -> tuple[repos.Repo, lfs_objects.Transfer]:
    if not repos.NAME.match(repo) or len(oid) != 64 or any(c not in "0123456789abcdef" for c in oid):
        raise ApiError(404, "Object does not exist")
    target = repos.get(repo)
    return target, lfs_objects.check(request.args.get("token"), target, oid, operation)


@lfs_route("/objects/batch", ["POST"], on=bp)
@authenticated("lfs", basic=True)
@expects(json=LfsBatchIn, resp={200: LfsBatchOut, 401: LfsError, 403: LfsError, 409: LfsError, 413: LfsError,
                                422: LfsError}, tags=TAGS, security=SECURITY)
def batch(repo: str, body: LfsBatchIn):
    """Upload or download actions for each object (`basic` transfer, sha256); 413 over the repository's quota."""
    if body.hash_algo != "sha256":
        raise ApiError(409, f"Unsupported hash algorithm {body.hash_algo!r}: this server uses sha256")
    if "basic" not in body.transfers:
        raise ApiError(422, "Only the `basic` transfer adapter is supported")
    target = repository(repo, "write" if body.operation == "upload" else "read")
    base_url = request.host_url.rstrip("/") + REPO_PREFIX.replace("<repo>", target.name)
    objects = lfs_objects.batch(target, body.operation, [(o.oid, o.size) for o in body.objects], base_url)
    return lfs_response({"transfer": "basic", "objects": objects, "hash_algo": "sha256"})


@bp.put(REPO_PREFIX + "/objects/<oid>")
@declare_key_scopes()  # the signed transfer link is the credential
def upload(repo: str, oid: str):
    """Receive an object's bytes (local storage), streamed to disk and verified before it becomes visible."""
    target, transfer = _transfer(repo, oid, "upload")
    lfs_objects.receive(target, transfer, _body_reader(transfer.size))
    return lfs_response({}, 200)


def _body_reader(size: int) -> Callable[[int], bytes]:
    """read(n) of an upload's body, which storage never calls past `size` bytes (not MAX_BODY_BYTES: the
    object's announced size bounds it).

    With a Content-Length equal to the size (git-lfs sends one), `wsgi.input` itself is read: PEP 3333 lets an
    application read CONTENT_LENGTH bytes, and werkzeug's LimitedStream would copy every chunk twice more (a
    seventh of the upload's time in the profile). A chunked body is read directly only when the server ends
    the stream at the body's end (`wsgi.input_terminated`: gunicorn), and must end with the object's last byte.
    """
    length = request.content_length
    if length is not None and length > size:
        raise ApiError(413, f"This upload is {length} bytes; the object is {size}")
    if length is not None and length < size:
        raise storage.Mismatch(f"the body is {length} of {size} bytes")
    if length is not None:
        return request.environ["wsgi.input"].read
    if not request.environ.get("wsgi.input_terminated"):
        return request.stream.read  # werkzeug: an empty stream (nothing ends it), so a Mismatch
    read, left = request.environ["wsgi.input"].read, size

    def chunked(n: int) -> bytes:
        nonlocal left
        chunk = read(min(n, left))
        left -= len(chunk)
        if chunk and not left and read(1):  # more than the object: refused before it becomes visible
            raise ApiError(413, f"This upload is longer than the object ({size} bytes)")
        return chunk

    return chunked


@bp.get(REPO_PREFIX + "/objects/<oid>")
@declare_key_scopes()  # the signed transfer link is the credential
def download(repo: str, oid: str):
    """Send an object's bytes (local storage); `Range` requests are answered with 206."""
    target, transfer = _transfer(repo, oid, "download")
    return send_file(lfs_objects.local_path(target, transfer), mimetype="application/octet-stream",
                     conditional=True, etag=oid, max_age=0)


@bp.post(REPO_PREFIX + "/objects/<oid>/verify")
@declare_key_scopes()  # the signed transfer link is the credential
def verify(repo: str, oid: str):
    """The `verify` action: 200 once the object is stored, verified and readable in this repository."""
    target, transfer = _transfer(repo, oid, "verify")
    lfs_objects.verify(target, transfer)
    return lfs_response({"oid": oid, "size": transfer.size})
