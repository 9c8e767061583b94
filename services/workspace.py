"""Session folders (the Backend Server guide): one per app session under `workspace.root`, files with metadata rows.

Nothing escapes a folder: names are single path components (no `..`, slashes, NUL or control characters,
no leading dot), reads refuse symlinks (O_NOFOLLOW), and writes go to a temp file in the same folder that
is renamed into place only when complete, so a failed or oversize upload leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import func, select, update

import settings
from errors import ApiError
from extensions import db
from models import AppSession, WorkspaceFile
from services import clock

CHUNK = 64 * 1024
TEMP_PREFIX = ".upload-"
MAX_NAME_BYTES = 255  # the file system's limit (NAME_MAX) is in bytes of UTF-8, not characters


def root() -> Path:
    configured = settings.static("workspace.root") or str(Path(current_app.instance_path) / "workspace")
    path = Path(os.path.realpath(configured))
    path.mkdir(mode=0o700, parents=True, exist_ok=True)  # uploaded files are nobody else's business
    return path


def folder(session_id: uuid.UUID, create: bool = False) -> Path:
    """The session's folder (its UUID under the root); refuses one that was replaced by a symlink."""
    path = root() / str(uuid.UUID(str(session_id)))
    if create:
        path.mkdir(mode=0o750, exist_ok=True)
    if path.is_symlink() or (path.exists() and Path(os.path.realpath(path)).parent != root()):
        raise ApiError(500, "Workspace folder is not a plain directory")
    return path


def validate_name(name: str) -> str:
    """A file name that stays inside the folder, or 400 saying what is wrong with it."""
    problem = None
    if not name or len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        problem = f"must be 1 to {MAX_NAME_BYTES} bytes in UTF-8"
    elif "/" in name or "\\" in name:
        problem = "must not contain slashes (no sub-folders or absolute paths)"
    elif name in (".", "..") or name.startswith("."):
        problem = "must not start with a dot"
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        problem = "must not contain NUL or control characters"
    if problem:
        raise ApiError(400, f"Invalid file name: {problem}", {"name": name[:MAX_NAME_BYTES]})
    return name


def list_files(session: AppSession) -> list[WorkspaceFile]:
    query = select(WorkspaceFile).where(WorkspaceFile.session_id == session.session_id).order_by(WorkspaceFile.name)
    return list(db.session.scalars(query))


def used_bytes(session_id: uuid.UUID, except_name: str | None = None) -> int:
    query = select(func.coalesce(func.sum(WorkspaceFile.size), 0)).where(WorkspaceFile.session_id == session_id)
    if except_name is not None:
        query = query.where(WorkspaceFile.name != except_name)
    return int(db.session.scalar(query) or 0)


def find_file(session: AppSession, name: str) -> WorkspaceFile:
    row = db.session.scalar(select(WorkspaceFile).where(WorkspaceFile.session_id == session.session_id,
                                                        WorkspaceFile.name == validate_name(name)))
    if row is None:
        raise ApiError(404, "File not found")
    return row


def _too_large(message: str, limit: int) -> ApiError:
    return ApiError(413, message, {"limit_bytes": limit})


def save_file(session: AppSession, name: str, read: Callable[[int], bytes], content_type: str,
              declared_length: int | None) -> WorkspaceFile:
    """Stream `read` into a temp file, check size and quota, then atomically rename it and upsert the row."""
    name = validate_name(name)
    max_bytes = settings.get("workspace.max_file_bytes")
    quota = settings.get("workspace.quota_bytes")
    others = used_bytes(session.session_id, except_name=name)
    if declared_length is not None and declared_length > max_bytes:
        raise _too_large("File exceeds workspace.max_file_bytes", max_bytes)
    if declared_length is not None and others + declared_length > quota:
        raise _too_large("Session workspace quota exceeded", quota)
    target_dir = folder(session.session_id, create=True)
    fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target_dir)
    try:
        size, digest = _copy(read, fd, max_bytes, quota - others)
        # Re-check under the session row lock: a parallel upload may have used the quota meanwhile. An UPDATE
        # (not SELECT FOR UPDATE) so SQLite serializes too: it takes the database write lock until commit.
        db.session.execute(update(AppSession).where(AppSession.session_id == session.session_id)
                           .values(last_accessed_at=clock.now()))
        if used_bytes(session.session_id, except_name=name) + size > quota:
            raise _too_large("Session workspace quota exceeded", quota)
        os.replace(temp_name, target_dir / name)
    except BaseException:
        db.session.rollback()
        _unlink(temp_name)
        raise
    return _upsert_row(session, name, size, digest, content_type)


def _copy(read: Callable[[int], bytes], fd: int, max_bytes: int, room: int) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with os.fdopen(fd, "wb") as out:
        while chunk := read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise _too_large("File exceeds workspace.max_file_bytes", max_bytes)
            if size > room:
                raise _too_large("Session workspace quota exceeded", settings.get("workspace.quota_bytes"))
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return size, digest.hexdigest()


def _upsert_row(session: AppSession, name: str, size: int, digest: str, content_type: str) -> WorkspaceFile:
    row = db.session.scalar(select(WorkspaceFile).where(WorkspaceFile.session_id == session.session_id,
                                                        WorkspaceFile.name == name))
    if row is None:
        row = WorkspaceFile(session_id=session.session_id, name=name)
        db.session.add(row)
    row.size, row.sha256, row.content_type, row.created_at = size, digest, content_type[:255], clock.now()
    db.session.commit()
    return row


def open_file(session: AppSession, row: WorkspaceFile) -> BinaryIO:
    """The file for reading; a symlink planted in the folder is refused rather than followed."""
    try:
        fd = os.open(folder(session.session_id) / row.name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        raise ApiError(404, "File not found") from None
    return os.fdopen(fd, "rb")


def delete_file(session: AppSession, name: str) -> None:
    row = find_file(session, name)
    db.session.delete(row)
    session.last_accessed_at = clock.now()
    db.session.commit()
    _unlink(folder(session.session_id) / row.name)


def remove_orphan_folders() -> int:
    """Delete session folders whose session no longer exists (purged or never committed)."""
    base = root()
    candidates: dict[uuid.UUID, Path] = {}
    for entry in base.iterdir():
        try:
            candidates[uuid.UUID(entry.name)] = entry
        except ValueError:
            continue
    if not candidates:
        return 0
    alive = set(db.session.scalars(select(AppSession.session_id).where(AppSession.session_id.in_(list(candidates)))))
    removed = 0
    for session_id, path in candidates.items():
        if session_id not in alive:
            if path.is_symlink():
                path.unlink()
            else:
                shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def _unlink(path: str | Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
