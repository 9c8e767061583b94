"""Concierge: the application factory. `app = create_app()` serves gunicorn and the `flask` CLI."""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from importlib import import_module
from pathlib import Path
from typing import Any

from flask import Flask, g, request
from flask.sessions import SessionInterface
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError

import hardening
import settings
from errors import ApiError, register_errorhandlers, render
from extensions import api_spec, db, jwt, limiter, mail, migrate
from logs import configure_logging

VERSION = "1.0.0"
MIN_SECRET_LENGTH = 32
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# A pooled connection idle this long is pinged at checkout (a database restart or a firewall's idle timeout
# leaves dead ones); busy connections are not, so the hot path pays no extra round trip.
IDLE_PING_SECONDS = 10.0


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings, then each register_* step in order."""
    app = Flask(__name__, instance_path=os.environ.get("CONCIERGE_INSTANCE") or str(Path(__file__).parent / "instance"))
    hardening.private_folder(app.instance_path)  # 0700: the database, secrets, workspace and LFS files live here
    load_settings(app, overrides)
    configure_logging(app)
    register_extensions(app)
    register_jwt_callbacks(app)
    register_request_hooks(app)
    register_errorhandlers(app)
    register_wire_rules(app)
    register_blueprints(app)
    register_metrics(app)
    register_proxy_fix(app)
    register_commands(app)
    return app


def load_settings(app: Flask, overrides: dict[str, Any] | None) -> None:
    """Resolve static settings once and derive Flask/extension config from them."""
    values = settings.load_static(overrides)
    app.extensions["concierge.settings"] = values
    env = values["app.env"]
    values["jwt.secret_key"] = _jwt_secret(app, values["jwt.secret_key"], env)
    uri = database_uri(values["database.uri"], app.instance_path)
    app.config.update(
        TESTING=env == "testing",
        SECRET_KEY=values["jwt.secret_key"],
        SHOW_ERROR_DETAILS=values["app.debug"],
        SQLALCHEMY_DATABASE_URI=uri,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(uri),
        MAX_CONTENT_LENGTH=values["http.max_body_bytes"],
        JWT_SECRET_KEY=values["jwt.secret_key"],
        # API views read headers only; the console's views read its cookie (blueprints/console_session.py)
        JWT_TOKEN_LOCATION=["headers", "cookies"],
        JWT_ACCESS_COOKIE_PATH="/console/",
        JWT_ACCESS_CSRF_COOKIE_PATH="/console/",
        JWT_COOKIE_SAMESITE="Lax",
        JWT_COOKIE_SECURE=values["console.cookie_secure"],
        JWT_COOKIE_CSRF_PROTECT=True,
        JWT_CSRF_CHECK_FORM=True,  # the console's sign-out form posts its CSRF token as a field
        JWT_ERROR_MESSAGE_KEY="message",
        RATELIMIT_STORAGE_URI=values["ratelimit.storage_uri"],
        RATELIMIT_KEY_PREFIX=values["ratelimit.key_prefix"],
        RATELIMIT_HEADERS_ENABLED=False,  # the 429 carries them (extensions.too_many_requests); 200s need none
        # Storage unreachable (Redis down): serve without limits and log it, never a 500 (docs/operations.md)
        RATELIMIT_SWALLOW_ERRORS=True,
        # ...and a Redis that stops answering costs each request at most 1 s per call, not redis-py's 5 s default
        RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 1, "socket_timeout": 1},
        # a moving window: a fixed one lets a client burst twice the limit across a window boundary
        RATELIMIT_STRATEGY="moving-window",
        RATELIMIT_ENABLED=values["ratelimit.enabled"],
        MAIL_SERVER=values["mail.server"],
        MAIL_PORT=values["mail.port"],
        MAIL_USE_TLS=values["mail.use_tls"],
        MAIL_USE_SSL=values["mail.use_ssl"],
        MAIL_USERNAME=values["mail.username"] or None,
        MAIL_PASSWORD=values["mail.password"] or None,
        MAIL_DEFAULT_SENDER=values["mail.default_sender"],
        MAIL_SUPPRESS_SEND=not values["mail.enabled"],
    )


def database_uri(configured: str, instance_path: str) -> str:
    """The SQLAlchemy URL: SQLite in instance/ by default; plain postgres URLs use psycopg2 (the pinned driver)."""
    if not configured:
        return f"sqlite:///{Path(instance_path) / 'concierge.db'}"
    for plain in ("postgres://", "postgresql://"):
        if configured.startswith(plain):
            return "postgresql+psycopg2://" + configured[len(plain):]
    return configured


def _sqlite_foreign_keys(dbapi_connection, _record) -> None:
    # SQLite ignores ON DELETE CASCADE unless each connection asks for it (PostgreSQL always enforces it).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _engine_options(uri: str) -> dict[str, Any]:
    if uri.startswith("sqlite"):
        # Threads of one process share the file; wait for the writer rather than fail with "locked".
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    # Not pool_pre_ping: it is a round trip on every request. Stale connections come from idle time (a
    # database restart, a firewall's idle timeout), so only connections idle a while are pinged.
    # connect_timeout: a database host that stops answering (network cut, failover) fails a request with a
    # 503 within seconds instead of holding a worker thread for the kernel's TCP timeout (about 2 minutes).
    return {"pool_size": 10, "max_overflow": 20, "connect_args": {"connect_timeout": 5}}


def _note_idle_since(_dbapi_connection, record) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    """Checkout hook: ping a connection that sat idle; a dead one is replaced (the pool retries)."""
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()  # end the transaction the SELECT opened
    except Exception as exc:  # noqa: BLE001 - any failure means the connection is unusable
        raise DisconnectionError(f"stale pooled connection: {exc}") from exc


def _jwt_secret(app: Flask, configured: str, env: str) -> str:
    """The configured secret; in development a generated one kept in instance/; production refuses."""
    if configured:
        if env == "production" and len(configured) < MIN_SECRET_LENGTH:
            raise RuntimeError(f"JWT_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters in production")
        return configured
    if env == "production":
        raise RuntimeError("JWT_SECRET_KEY is not set: refusing to start in production (CONCIERGE_ENV=production)")
    secret, created = settings.generated_secret(app.instance_path, "jwt_secret")
    if created:
        logging.getLogger("concierge").warning("JWT_SECRET_KEY not set: generated one in %s/jwt_secret "
                                               "(development only)", app.instance_path)
    return secret


def register_extensions(app: Flask) -> None:
    """Bind the unbound extensions to this app."""
    db.init_app(app)
    with app.app_context():
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            hardening.private_sqlite_file(db.engine.url.database)  # 0600, before the first connect creates it
            event.listen(db.engine, "connect", _sqlite_foreign_keys)
        else:
            event.listen(db.engine, "checkin", _note_idle_since)
            event.listen(db.engine, "checkout", _ping_if_idle)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    jwt.init_app(app)
    limiter.init_app(app)
    mail.init_app(app)


def register_jwt_callbacks(app: Flask) -> None:
    """JWT failures speak each endpoint's error shape; revocation checks user, token version and jti."""
    from services import tokens

    def unauthorized(message: str):
        return render(ApiError(401, message, headers={"WWW-Authenticate": "Bearer"}))

    @jwt.token_in_blocklist_loader
    def _revoked(_header: dict, payload: dict) -> bool:
        g.jwt_user, revoked = tokens.load_token_user(payload)
        return revoked

    @jwt.user_lookup_loader
    def _user(_header: dict, _payload: dict):
        return g.get("jwt_user")  # loaded by the revocation check above: one query per request

    jwt.unauthorized_loader(lambda reason: unauthorized("Missing or malformed Authorization header"))
    jwt.invalid_token_loader(lambda reason: unauthorized(f"Invalid token: {reason}"))
    jwt.expired_token_loader(lambda _h, _p: unauthorized("Token has expired"))
    jwt.revoked_token_loader(lambda _h, _p: unauthorized("Token has been revoked"))
    jwt.user_lookup_error_loader(lambda _h, _p: unauthorized("Token user no longer exists"))


class NoCookieSession(SessionInterface):
    """Concierge has no Flask session (callers carry JWTs or API keys): skip Flask's signed session cookie,
    whose serializer was built and cookie header parsed on every request. `flask.session` stays a
    NullSession that refuses writes."""

    def open_session(self, app, request):
        return None

    def save_session(self, app, session, response) -> None:
        return None


def register_request_hooks(app: Flask) -> None:
    """A request id on every request: taken from X-Request-ID when sane, echoed in the response; the security
    headers (hardening.py) on every response."""
    app.session_interface = NoCookieSession()
    hardening.init_app(app)

    @app.before_request
    def _assign_request_id():
        # Per-request state starts empty even where an app context outlives a request (test client).
        for name in ("settings_overrides", "principal", "jwt_user"):
            g.pop(name, None)
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response


def register_wire_rules(app: Flask) -> None:
    """Strict JSON in and out, no NUL in URLs, no `//` redirects (wire.py); before the blueprints' rules."""
    import wire

    wire.init_app(app)


# One line per blueprint module (blueprints/<name>.py, each exposing `bp`).
BLUEPRINT_MODULES = (
    "health",
    "auth",
    "admin",
    "docs",
    "account",
    "locks",
    "lfs",
    "lfs_objects",
    "repos",
    "checkin",
    "profile",
    "api_keys",
    "relay",
    "files",
    "users",
    "sessions",
    "pages",
    "analytics",
    "console",
)


def register_blueprints(app: Flask) -> None:
    """Every blueprint, then the OpenAPI routes generated from them."""
    for name in BLUEPRINT_MODULES:
        app.register_blueprint(import_module(f"blueprints.{name}").bp)
    api_spec.register(app)


def register_metrics(app: Flask) -> None:
    """Prometheus metrics at /metrics; shared across gunicorn workers when PROMETHEUS_MULTIPROC_DIR is set."""
    if not app.extensions["concierge.settings"]["metrics.enabled"]:
        return
    from prometheus_client import CollectorRegistry

    # Own registry per app (tests build many apps); label by endpoint, never by raw path (lock paths
    # would explode the series count).
    options: dict[str, Any] = {"registry": CollectorRegistry(), "group_by": "endpoint",
                               # readable only from metrics.allow_from (loopback by default), proxy or not
                               "metrics_decorator": hardening.metrics_guard(
                                   app.extensions["concierge.settings"]["metrics.allow_from"])}
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

        Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
        metrics = GunicornInternalPrometheusMetrics(app, **options)
    else:
        from prometheus_flask_exporter import PrometheusMetrics

        metrics = PrometheusMetrics(app, **options)
    metrics.info("concierge_app_info", "Concierge build information", version=VERSION)
    app.extensions["concierge.metrics"] = metrics


def register_proxy_fix(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, take the client address and scheme from X-Forwarded-*."""
    hops = app.extensions["concierge.settings"]["http.trusted_proxies"]
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def register_commands(app: Flask) -> None:
    """`flask` CLI commands."""
    from commands import register_commands as attach

    attach(app)


def __getattr__(name: str) -> Flask:
    """`app:app` for gunicorn and `flask`: built on first access, so importing create_app builds nothing."""
    if name == "app":
        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(name)
