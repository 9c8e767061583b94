"""Where LFS object bytes live: local files (the embedded default) or an S3-compatible bucket (boto3).

Objects are content-addressed (the sha256 is the name), so one copy serves every repository. Nothing is
visible under its final name before its size and sha256 were checked:
- local: the upload streams into `tmp/` while being hashed, then `os.replace` moves it into place
  (atomic on one file system); an interrupted or wrong upload leaves only a temp file, removed at once;
- S3: the client PUTs straight to a temporary key through a presigned URL; the `verify` action reads it
  back in chunks, hashes it, and copies it to its final key (S3 has no rename), then deletes the temp key.
Memory stays constant: bytes move in CHUNK-sized pieces in both directions.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from errors import ApiError

CHUNK = 1024 * 1024
WRITEBACK_EVERY = 16 * CHUNK


class Mismatch(ApiError):
    """The bytes received are not the object announced (size or sha256): nothing was stored."""

    def __init__(self, what: str):
        super().__init__(422, f"Upload refused: {what}; nothing was stored")


def _object_key(oid: str) -> str:
    return f"{oid[:2]}/{oid[2:4]}/{oid}"


class Storage(Protocol):
    direct: bool  # True: clients transfer bytes with the store itself (presigned URLs)

    def exists(self, oid: str) -> bool: ...

    def remove(self, oid: str) -> None: ...


class LocalStorage:
    """Files under `root/objects/ab/cd/<oid>`, temp files in `root/tmp` (same file system: rename is atomic)."""

    direct = False

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)  # the objects are private to the api
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        (self.root / "objects").mkdir(parents=True, exist_ok=True)

    def path(self, oid: str) -> Path:
        return self.root / "objects" / _object_key(oid)

    def exists(self, oid: str) -> bool:
        return self.path(oid).is_file()

    def receive(self, oid: str, size: int, read: Callable[[int], bytes]) -> None:
        """Stream `size` bytes from `read` into place, or raise Mismatch and keep nothing."""
        temp = self.root / "tmp" / f"{oid}.{uuid.uuid4().hex}"
        digest, received, flushed = hashlib.sha256(), 0, 0
        try:
            with open(temp, "wb") as out:
                # never ask for more than announced: a stream capped at `size` answers a read past it with 413
                while received < size and (chunk := read(min(CHUNK, size - received))):
                    received += len(chunk)
                    digest.update(chunk)
                    out.write(chunk)
                    if received - flushed >= WRITEBACK_EVERY:
                        _start_writeback(out, flushed, received - flushed)
                        flushed = received
                out.flush()
                os.fsync(out.fileno())  # durable before it becomes visible
            if received != size:
                raise Mismatch(f"received {received} of {size} bytes")
            if digest.hexdigest() != oid:
                raise Mismatch("the content's sha256 does not match the object id")
            final = self.path(oid)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp, final)
        finally:
            temp.unlink(missing_ok=True)

    def remove(self, oid: str) -> None:
        self.path(oid).unlink(missing_ok=True)


def _start_writeback(out, offset: int, length: int) -> None:
    """Have the kernel start writing a range of the upload to disk now, without waiting for it (Linux:
    POSIX_FADV_DONTNEED starts writeback of dirty pages, and drops only pages already clean). Disk writes
    then overlap receiving, and the final fsync waits for the tail instead of a whole object's dirty pages:
    the kernel would otherwise start only past its dirty threshold, gigabytes on a large machine."""
    if hasattr(os, "posix_fadvise"):
        out.flush()
        os.posix_fadvise(out.fileno(), offset, length, os.POSIX_FADV_DONTNEED)


class S3Storage:
    """An S3-compatible bucket (AWS, MinIO, moto...): final keys `<prefix>objects/ab/cd/<oid>`, uploads land
    under `<prefix>tmp/` until verified."""

    direct = True

    def __init__(self, bucket: str, *, endpoint_url: str | None = None, region: str = "us-east-1",
                 access_key_id: str | None = None, secret_access_key: str | None = None, prefix: str = ""):
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix
        self.client = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region,
                                   aws_access_key_id=access_key_id or None,
                                   aws_secret_access_key=secret_access_key or None,
                                   config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))

    def key(self, oid: str) -> str:
        return f"{self.prefix}objects/{_object_key(oid)}"

    def temp_key(self, oid: str, nonce: str) -> str:
        return f"{self.prefix}tmp/{oid}.{nonce}"

    def exists(self, oid: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(oid))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def upload_url(self, oid: str, nonce: str, expires: int) -> str:
        return self.client.generate_presigned_url("put_object", ExpiresIn=expires,
                                                  Params={"Bucket": self.bucket, "Key": self.temp_key(oid, nonce)})

    def download_url(self, oid: str, expires: int) -> str:
        return self.client.generate_presigned_url("get_object", ExpiresIn=expires,
                                                  Params={"Bucket": self.bucket, "Key": self.key(oid)})

    def promote(self, oid: str, size: int, nonce: str) -> None:
        """Check the uploaded temp object (size, then sha256 read back in chunks) and copy it to its final key;
        the temp key is removed either way. Raises Mismatch (or 404 when nothing was uploaded)."""
        from botocore.exceptions import ClientError

        temp = self.temp_key(oid, nonce)
        try:
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=temp)["Body"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    raise ApiError(404, "Object was not uploaded") from None
                raise
            digest, received = hashlib.sha256(), 0
            for chunk in body.iter_chunks(CHUNK):
                received += len(chunk)
                digest.update(chunk)
            body.close()
            if received != size:
                raise Mismatch(f"received {received} of {size} bytes")
            if digest.hexdigest() != oid:
                raise Mismatch("the content's sha256 does not match the object id")
            # managed copy: multipart above 5 GB, where a single CopyObject stops
            self.client.copy({"Bucket": self.bucket, "Key": temp}, self.bucket, self.key(oid))
        finally:
            self.client.delete_object(Bucket=self.bucket, Key=temp)

    def remove(self, oid: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(oid))


def build(values: dict, instance_path: str) -> LocalStorage | S3Storage:
    """The backend the static settings name (`lfs.storage`)."""
    if values["lfs.storage"] == "s3":
        if not values["lfs.s3.bucket"]:
            raise RuntimeError("LFS_STORAGE=s3 needs LFS_S3_BUCKET")
        return S3Storage(values["lfs.s3.bucket"], endpoint_url=values["lfs.s3.endpoint_url"],
                         region=values["lfs.s3.region"], access_key_id=values["lfs.s3.access_key_id"],
                         secret_access_key=values["lfs.s3.secret_access_key"], prefix=values["lfs.s3.prefix"])
    return LocalStorage(values["lfs.local_root"] or Path(instance_path) / "lfs")

