"""Extensions, created unbound here and bound in app.create_app (so app.py and models.py never import each other)."""

import functools
import logging
import math
import threading
import time
from collections.abc import Callable

from flask import current_app
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_qualified_name, get_remote_address  # the limiter's own key for a view
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from spectree import SecurityScheme, SpecTree
from spectree.models import InType, SecureType, SecuritySchemeData
from sqlalchemy.orm import DeclarativeBase

from errors import ApiError

log = logging.getLogger("concierge.rate_limits")


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = JWTManager()
mail = Mail()
# Flask-Limiter reads the RATELIMIT_* config and builds the storage and the moving-window strategy (the
# `limits` library); every limit is declared on its view with rate_limit(), which hits that strategy.
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=False)
# Every view that declares a limit, by qualified name (the limiter's own key for a view).
RATE_LIMITED_VIEWS: set[str] = set()


def rate_limit(limit: Callable[[], str], key_func: Callable[[], str] = get_remote_address):
    """Count the view's requests per client (`key_func`, default the remote address) against `limit()`,
    e.g. "120 per minute" from a runtime setting; over it, 429 with Retry-After.

    Flask-Limiter's own `limiter.limit` resolves the view's limits, parses the callable's string again
    and walks exemption scopes on every request: about 0.2 ms of CPU, a third of a page-track request.
    Here only the storage hit remains (one round trip to Redis), on the same storage and strategy."""

    def decorate(view):
        scope = get_qualified_name(view)
        RATE_LIMITED_VIEWS.add(scope)

        @functools.wraps(view)
        def limited(*args, **kwargs):
            if limiter.enabled:
                _hit(limit(), key_func(), scope)
            return view(*args, **kwargs)

        return limited

    return decorate


@functools.lru_cache(maxsize=64)
def _parsed(limit: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(limit))


# How often a hit on the in-memory storage sweeps out expired entries (tests shorten it).
MEMORY_SWEEP_SECONDS = 1.0


def sweep_memory_storage_inline(storage: object) -> None:
    """limits' MemoryStorage (the embedded default) sweeps expired entries from a threading.Timer that a hit
    starts again whenever the last one has fired, 10 ms earlier: under load every worker starts about 100
    threads a second, and two threads hitting at once could start one twice (a RuntimeError, i.e. a 500;
    fixed upstream by alisaifee/limits#352, after the newest release here), so hits had to take turns.
    Measured under load, the two cost page-track 3-4 points of the trivial endpoint's requests/s.

    Here the hit that finds the last sweep MEMORY_SWEEP_SECONDS old sweeps inline instead, one hit at a
    time, with the storage's own sweep; hits never wait for each other beyond the storage's per-key locks.
    A sweep only frees memory: the moving window reads entry times, so an unswept stale entry counts for
    nothing. It also forgets the keys it emptied (_forget_emptied_keys). Replaces a private (name-mangled)
    method on this one instance; tests/test_rate_limits.py fails if limits changes it."""
    if not isinstance(storage, MemoryStorage):
        return
    sweeping = threading.Lock()
    next_sweep = [0.0]

    def sweep_when_due() -> None:
        now = time.monotonic()
        if now < next_sweep[0] or not sweeping.acquire(blocking=False):
            return
        try:
            next_sweep[0] = now + MEMORY_SWEEP_SECONDS
            storage._MemoryStorage__expire_events()
            _forget_emptied_keys(storage)
        except Exception:  # noqa: BLE001 - e.g. a key reset meanwhile; the next sweep frees what this missed
            log.warning("in-memory rate-limit sweep failed; retried in %s s", MEMORY_SWEEP_SECONDS, exc_info=True)
        finally:
            sweeping.release()

    storage._MemoryStorage__schedule_expiry = sweep_when_due


def _forget_emptied_keys(storage: MemoryStorage) -> None:
    """The storage's own sweep empties a key's entries but keeps the key, so every client address ever seen
    stays in memory for the life of the worker: growth anyone with many addresses (IPv6) could drive.
    Dropped here under the key's lock. A hit still holding a lock the storage's sweep had already dropped
    can then meet a KeyError before it stored anything; _hit runs it once more."""
    for key in [key for key, entries in list(storage.events.items()) if not entries]:
        with storage.locks[key]:
            if not storage.events.get(key):
                storage.events.pop(key, None)
                storage.locks.pop(key, None)


def _hit(limit: str, key: str, scope: str) -> None:
    strategy, prefix = limiter.limiter, current_app.config["RATELIMIT_KEY_PREFIX"]
    identifiers = (prefix, key or "unknown", scope)  # no client address: one shared count, never none
    for item in _parsed(limit):
        try:
            allowed = strategy.hit(item, *identifiers)
        except KeyError:  # the in-memory sweep forgot this key mid-hit (_forget_emptied_keys): nothing stored
            allowed = strategy.hit(item, *identifiers)
        reset_at = None if allowed else strategy.get_window_stats(item, *identifiers).reset_time
        if reset_at is not None:
            raise ApiError(429, f"Too many requests: limit is {item}", headers={
                "Retry-After": str(max(1, math.ceil(reset_at - time.time()))),
                "X-RateLimit-Limit": str(item.amount), "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(math.ceil(reset_at))})


@limiter.request_filter
def _checked_by_rate_limit() -> bool:
    """Flask-Limiter's own before-request pass has no limits to check (no default or application limits;
    views declare theirs with rate_limit()): let it skip every request early."""
    return True


# OpenAPI is generated from the pydantic models the views declare (blueprints.common.expects).
api_spec = SpecTree(
    "flask",
    title="Concierge API",
    version="1.0.0",
    path="api/docs",
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
