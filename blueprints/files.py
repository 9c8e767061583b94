"""The Backend Server guide's session folders: workspace files of an app session, plus the relay's admin listings."""

from flask import Blueprint, request, send_file

import settings
from blueprints.common import BEARER, admin_required, authenticated, current_principal, expects
from envelope import iso_z, success
from errors import ApiError
from schemas import Envelope, PageQuery
from services import alohomora, app_sessions, workspace

bp = Blueprint("files", __name__)

FILES = "/api/app-sessions/<session_id>/files"


def file_json(row) -> dict:
    return {"name": row.name, "size": row.size, "sha256": row.sha256, "content_type": row.content_type,
            "created_at": iso_z(row.created_at)}


def _own_session(session_id: str):
    """The live session, if the caller is its user (username = user_id) or an admin."""
    session = app_sessions.find_live_session(session_id)
    principal = current_principal()
    if not (principal.is_admin or (principal.user is not None and principal.user.username == session.user_id)):
        raise ApiError(403, "Only the session's user or an admin may use its files")
    return session


@bp.get(FILES)
@authenticated()
@expects(resp={200: Envelope, 403: None, 404: None}, tags=("files",), security=BEARER)
def list_files(session_id: str):
    """The session's files with their metadata, and the quota in use."""
    session = _own_session(session_id)
    rows = workspace.list_files(session)
    return success({"files": [file_json(r) for r in rows], "used_bytes": sum(r.size for r in rows),
                    "quota_bytes": settings.get("workspace.quota_bytes")}, "Files")


@bp.put(f"{FILES}/<path:name>", merge_slashes=False)
@authenticated()
@expects(resp={201: Envelope, 400: None, 403: None, 404: None, 413: None}, tags=("files",), security=BEARER)
def put_file(session_id: str, name: str):
    """Upload (or replace) a file: the raw request body is the content; atomic, size and quota limited."""
    request.max_content_length = settings.get("workspace.max_file_bytes")  # above the global JSON limit
    session = _own_session(session_id)
    row = workspace.save_file(session, name, request.stream.read, request.mimetype or "application/octet-stream",
                              request.content_length)
    return success(file_json(row), "File stored", 201)


@bp.get(f"{FILES}/<path:name>", merge_slashes=False)
@authenticated()
@expects(resp={200: None, 403: None, 404: None}, tags=("files",), security=BEARER)
def get_file(session_id: str, name: str):
    """Download a file."""
    session = _own_session(session_id)
    row = workspace.find_file(session, name)
    app_sessions.touch(session)
    return send_file(workspace.open_file(session, row), mimetype=row.content_type, as_attachment=True,
                     download_name=row.name, etag=row.sha256, last_modified=row.created_at)


@bp.delete(f"{FILES}/<path:name>", merge_slashes=False)
@authenticated()
@expects(resp={200: Envelope, 403: None, 404: None}, tags=("files",), security=BEARER)
def delete_file(session_id: str, name: str):
    """Delete a file and its metadata."""
    workspace.delete_file(_own_session(session_id), name)
    return success(None, "File deleted")


@bp.get("/api/admin/relay/notifications")
@admin_required
@expects(query=PageQuery, resp={200: Envelope, 403: None}, tags=("relay",), security=BEARER)
def list_notifications(query):  # a PageQuery (an annotation here would switch spectree to validating)
    """Alohomora notifications received, newest first (the token itself is never stored)."""
    rows = app_sessions.list_notifications(query.limit, query.offset)
    return success([{"id": r.id, "token_hint": r.token_hint, "user_id": r.user_id, "workflow_id": r.workflow_id,
                     "remote_session_id": r.remote_session_id, "workflow_status": r.workflow_status,
                     "notification_metadata": r.notification_metadata,
                     "local_session_id": str(r.local_session_id) if r.local_session_id else None,
                     "source_address": r.source_address, "received_at": iso_z(r.received_at)} for r in rows],
                   "Session notifications")


@bp.get("/api/admin/relay/interactions")
@admin_required
@expects(query=PageQuery, resp={200: Envelope, 403: None}, tags=("relay",), security=BEARER)
def list_interactions(query):  # a PageQuery
    """The Backend Server guide's API interaction log: every outbound call, newest first."""
    rows = alohomora.list_interactions(query.limit, query.offset)
    return success([{"id": r.id, "service": r.service, "method": r.method, "url": r.url, "status": r.status,
                     "latency_ms": r.latency_ms, "error": r.error, "created_at": iso_z(r.created_at)} for r in rows],
                   "API interactions")
