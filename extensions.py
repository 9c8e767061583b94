"""Extensions, created unbound here and bound in app.create_app (so app.py and models.py never import each other)."""

import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

from flask import current_app
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from limits import RateLimitItem, parse_many
from spectree import SecurityScheme, SpecTree
from spectree.models import InType, SecureType, SecuritySchemeData
from sqlalchemy.orm import DeclarativeBase

import settings
from errors import ApiError

log = logging.getLogger("concierge.rate_limits")
T = TypeVar("T")


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = JWTManager()
mail = Mail()
# Flask-Limiter reads the RATELIMIT_* config and builds the storage and the moving-window strategy (the
# `limits` library). Public endpoints declare theirs with its own decorator, `limiter.limit(...)`; every
# password check goes through password_check() below.
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def password_check(username: str, check: Callable[[], T]) -> T:
    """Run one password check (login, HTTP Basic for git, password and e-mail changes, console sign-in)
    under the `ratelimit.login` budget of failures, counted per client address and per username: once
    either is spent, the check is refused with 429 before any password is verified. A failure is a falsy
    result or a 401/403 raised by `check`; successes cost nothing, so a git client sending its credentials
    with every request is never throttled. Concurrent failures may each pass the test before they are
    counted: the budget can be overrun by at most the requests in flight."""
    if not limiter.enabled:
        return check()
    prefix = current_app.config["RATELIMIT_KEY_PREFIX"]
    budgets = [(item, (prefix, "password", kind, key)) for item in parse_many(settings.get("ratelimit.login"))
               for kind, key in (("address", get_remote_address() or "unknown"),
                                 ("username", (username or "").strip().lower()[:64]))]
    for item, identifiers in budgets:
        if not _storage_call(limiter.limiter.test, item, *identifiers, fallback=True):
            reset_at = _storage_call(limiter.limiter.get_window_stats, item, *identifiers, fallback=None)
            raise too_many_requests(item, reset_at.reset_time if reset_at else time.time() + 60)
    try:
        result = check()
    except ApiError as refused:
        if refused.status in (401, 403):
            _count_failure(budgets)
        raise
    if not result:
        _count_failure(budgets)
    return result


def _count_failure(budgets: list) -> None:
    for item, identifiers in budgets:
        _storage_call(limiter.limiter.hit, item, *identifiers, fallback=True)


def _storage_call(method: Callable, *args, fallback):
    """Rate-limit storage unreachable (Redis down): fail open, as Flask-Limiter's own limits do here
    (RATELIMIT_SWALLOW_ERRORS), and say so in the log."""
    try:
        return method(*args)
    except Exception:  # noqa: BLE001 - any storage failure: serve rather than answer 500
        log.warning("rate-limit storage unreachable: password check not throttled", exc_info=True)
        return fallback


def too_many_requests(item: RateLimitItem, reset_at: float) -> ApiError:
    """The 429 every rate limit answers: which limit, and when to retry."""
    return ApiError(429, f"Too many requests: limit is {item}", headers={
        "Retry-After": str(max(1, math.ceil(reset_at - time.time()))),
        "X-RateLimit-Limit": str(item.amount), "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(math.ceil(reset_at))})


# OpenAPI is generated from the pydantic models the views declare (blueprints.common.expects).
api_spec = SpecTree(
    "flask",
    title="Concierge API",
    version="1.0.0",
    path="api/docs",
    # No pages of spectree's: they load Swagger UI/Redoc/Scalar from CDNs. /api/docs is ours (blueprints/docs.py,
    # vendored assets); spectree keeps only its JSON route, /api/docs/openapi.json.
    page_templates={},
    mode="strict",
    annotations=False,  # only documentation is taken from spectree; the models are named in expects()
    security_schemes=[
        SecurityScheme(name="bearerAuth",
                       data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer", bearer_format="JWT")),
        SecurityScheme(name="basicAuth", data=SecuritySchemeData(type=SecureType.HTTP, scheme="basic")),
        SecurityScheme(name="apiKey",
                       data=SecuritySchemeData(type=SecureType.API_KEY, field_in=InType.HEADER, name="X-API-Key")),
    ],
)
