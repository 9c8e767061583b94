"""Every failure becomes JSON, in the error shape of the contract family the endpoint belongs to.

Families (DESIGN.md "Response shapes"):
- envelope: the Session Server API's `{status: "error", message, details}` (the default for everything else)
- checkin:  the check-in contract's `{success: false, error, details}`
- app1:     App1's flat `{error, ...extra}`
- lfs:      Git LFS `{message, request_id}` with media type application/vnd.git-lfs+json

A blueprint picks its family with `use_family(bp, name)`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, request
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

log = logging.getLogger("concierge.errors")

LFS_MEDIA_TYPE = "application/vnd.git-lfs+json"


class ApiError(Exception):
    """A client-facing failure: HTTP status, one-line message, optional details and extra top-level fields."""

    def __init__(self, status: int, message: str, details: Any = None, *,
                 extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.extra = extra or {}
        self.headers = headers or {}


def not_found(what: str = "Resource") -> ApiError:
    return ApiError(404, f"{what} not found")


def forbidden(message: str = "You are not allowed to do this") -> ApiError:
    return ApiError(403, message)


def conflict(message: str, details: Any = None, **extra: Any) -> ApiError:
    return ApiError(409, message, details, extra=extra)


def _request_id() -> str | None:
    return g.get("request_id")


def _envelope(err: ApiError) -> dict:
    body = {"status": "error", "message": err.message, "details": err.details}
    body.update(err.extra)
    body["request_id"] = _request_id()
    return body


def _checkin(err: ApiError) -> dict:
    body = {"success": False, "error": err.message}
    if err.details is not None:
        body["details"] = err.details
    body.update(err.extra)
    return body


def _app1(err: ApiError) -> dict:
    body = {"error": err.message}
    if err.details is not None:
        body["details"] = err.details
    body.update(err.extra)
    return body


def _lfs(err: ApiError) -> dict:
    body = {"message": err.message, "request_id": _request_id()}
    body.update(err.extra)
    return body


FAMILIES: dict[str, Callable[[ApiError], dict]] = {
    "envelope": _envelope,
    "checkin": _checkin,
    "app1": _app1,
    "lfs": _lfs,
}


def use_family(bp: Blueprint, family: str) -> Blueprint:
    """Declare the error shape of every endpoint of a blueprint."""
    if family not in FAMILIES:
        raise ValueError(family)
    bp.error_family = family  # type: ignore[attr-defined]
    return bp


def current_family() -> str:
    bp = current_app.blueprints.get(request.blueprint or "")
    family = getattr(bp, "error_family", None)
    if family is None and request.path.startswith(current_app.config.get("LFS_PREFIX", "/api/lfs") + "/"):
        family = "lfs"  # unknown routes under the LFS prefix still answer git in its own shape
    return family or "envelope"


def render(err: ApiError):
    """The response for an ApiError in the current endpoint's family."""
    family = current_family()
    response = jsonify(FAMILIES[family](err))
    response.status_code = err.status
    if family == "lfs":
        response.mimetype = LFS_MEDIA_TYPE
    for name, value in err.headers.items():
        response.headers[name] = value
    return response


def _from_http(exc: HTTPException):
    headers = {}
    if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    message = exc.description if exc.code in (400, 413, 415) and exc.description else exc.name
    return render(ApiError(exc.code or 500, message, headers=headers))


def _from_rate_limit(exc):
    """Flask-Limiter's RateLimitExceeded, in the shape and with the headers of every other 429."""
    import time

    from extensions import limiter, too_many_requests

    current = limiter.current_limit
    return render(too_many_requests(exc.limit.limit, current.window.reset_time if current else time.time() + 60))


def _from_integrity(exc: IntegrityError):
    # A unique/foreign-key race lost to another request is the client's conflict, not our crash.
    from extensions import db

    db.session.rollback()
    details = str(exc.orig) if current_app.debug else None
    return render(ApiError(409, "Conflict with existing data", details))


def _database_unavailable(exc: Exception):
    """The database is down, restarting or out of connections: a JSON 503 the client may retry, at once (the
    pool replaces dead connections on their next use), rather than a 500 that reads as our bug."""
    from extensions import db

    with contextlib.suppress(SQLAlchemyError):  # its connection is gone; the session is discarded at teardown
        db.session.rollback()
    log.warning("database unavailable: %s", str(exc).partition("\n")[0], extra={"request_id": _request_id()})
    return render(ApiError(503, "Database unavailable, retry shortly", headers={"Retry-After": "1"}))


def _from_dbapi(exc: DBAPIError):
    # Any other driver error on a connection found dead (e.g. "connection already closed") is an outage too.
    return _database_unavailable(exc) if exc.connection_invalidated else _from_unexpected(exc)


def _from_unexpected(exc: Exception):
    from extensions import db

    db.session.rollback()
    log.exception("unhandled error", extra={"request_id": _request_id()})
    details = repr(exc) if current_app.config.get("SHOW_ERROR_DETAILS") else None
    return render(ApiError(500, "Internal server error", details))


def register_errorhandlers(app: Flask) -> None:
    """JSON for every error: ApiError, HTTP errors (404/405/413/415/429...), integrity races, database
    outages (503), crashes."""
    from flask_limiter import RateLimitExceeded

    app.register_error_handler(ApiError, render)
    app.register_error_handler(RateLimitExceeded, _from_rate_limit)
    app.register_error_handler(HTTPException, _from_http)
    app.register_error_handler(IntegrityError, _from_integrity)
    for unavailable in (OperationalError, DisconnectionError, PoolTimeout):
        app.register_error_handler(unavailable, _database_unavailable)
    app.register_error_handler(DBAPIError, _from_dbapi)
    app.register_error_handler(Exception, _from_unexpected)
