"""The one place that declares and resolves a setting. Every key lives in SETTINGS below.

Precedence, lowest first: built-in default < config.json < environment variable
< create_app(overrides) < database override (only for keys marked `runtime`).

The static layers are merged once per app in `load_static()`; the database layer
is read per request (cached on `flask.g`) so an admin's change applies at once in
this process and on the next request in every other process.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from flask import current_app, g, has_request_context
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

PROJECT_ROOT = Path(__file__).resolve().parent
DEFAULT_CONFIG_JSON = PROJECT_ROOT / "config.json"

# App1's keys: config.json is created with these when it is missing.
CONFIG_JSON_DEFAULTS = {
    "alohomora": {"base_url": "http://localhost:8000", "timeout": 5},
    "app": {"host": "0.0.0.0", "port": 8001, "debug": False},
}

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}

PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
TEN_YEARS_MINUTES = 10 * 366 * 24 * 60


def Bounded(low: int, high: int) -> Any:  # noqa: N802 - reads as a type in the table below
    """An int a runtime override may set: bounded, so a huge value cannot overflow the date arithmetic that
    reads it (a timedelta of 10**40 hours is an OverflowError in every request or job that uses it)."""
    return Annotated[int, Field(ge=low, le=high)]


@dataclass(frozen=True)
class Setting:
    key: str
    type: Any
    default: Any
    env: str | None = None
    runtime: bool = False  # may be overridden in the `configuration` table
    secret: bool = False
    help: str = ""

    @property
    def adapter(self) -> TypeAdapter:
        # strict: a JSON `"true"` is not a boolean and `"5"` is not an integer
        return TypeAdapter(self.type, config=ConfigDict(strict=True))


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in [
        # -- process and storage
        Setting("app.env", str, "development", "CONCIERGE_ENV",
                help="`development` (embedded default), `production` (refuses to start without secrets) or `testing`"),
        Setting("app.host", str, "0.0.0.0", "HOST", help="bind address for `make run`"),
        Setting("app.port", int, 8001, "PORT", help="port for `make run`"),
        Setting("app.debug", bool, False, "APP_DEBUG", help="include exception details in 500 bodies"),
        Setting("database.uri", str, "", "DATABASE_URI",
                help="SQLAlchemy URL; empty = SQLite file in `instance/`"),
        Setting("http.max_body_bytes", PositiveInt, 1024 * 1024, "MAX_BODY_BYTES",
                help="largest request body outside file uploads (413 above it)"),
        Setting("log.json", bool, True, "LOG_JSON", help="one JSON object per log line"),
        # -- auth
        Setting("jwt.secret_key", str, "", "JWT_SECRET_KEY", secret=True,
                help="signing key; generated into `instance/` in development, required in production"),
        Setting("jwt.expiry.enabled", bool, True, "JWT_EXPIRY_ENABLED", runtime=True,
                help="access tokens expire"),
        Setting("jwt.expiry.minutes", Bounded(0, TEN_YEARS_MINUTES), 60, "JWT_ACCESS_TOKEN_EXPIRES_MINUTES",
                runtime=True,
                help="access token lifetime; 0 = no expiry"),
        Setting("jwt.refresh_expiry.days", PositiveInt, 30, "JWT_REFRESH_TOKEN_EXPIRES_DAYS",
                help="refresh token lifetime"),
        Setting("security.argon2.time_cost", PositiveInt, 3, "ARGON2_TIME_COST", help="argon2id iterations"),
        Setting("security.argon2.memory_kib", Annotated[int, Field(ge=8)], 65536, "ARGON2_MEMORY_KIB",
                help="argon2id memory per hash"),
        Setting("ratelimit.storage_uri", str, "memory://", "RATELIMIT_STORAGE_URI",
                help="Flask-Limiter storage (`redis://...` in production: limits then hold across workers and "
                     "replicas, at one Redis round trip per limited request)"),
        Setting("ratelimit.enabled", bool, True, "RATELIMIT_ENABLED", help="switch every rate limit off/on"),
        Setting("ratelimit.key_prefix", str, "concierge", "RATELIMIT_KEY_PREFIX",
                help="prefix of rate-limit keys in shared storage"),
        Setting("ratelimit.login", str, "10 per minute", "LOGIN_RATE_LIMIT",
                help="per client address and username"),
        Setting("ratelimit.public", str, "120 per minute", "PUBLIC_RATE_LIMIT",
                help="per client address, on every public endpoint"),
        Setting("admin.initial.username", str, "", "INITIAL_ADMIN_USER", help="`flask create-admin` default"),
        Setting("admin.initial.email", str, "", "INITIAL_ADMIN_EMAIL", help="`flask create-admin` default"),
        Setting("admin.initial.password", str, "", "INITIAL_ADMIN_PASSWORD", secret=True,
                help="`flask create-admin` default"),
        Setting("model.api_key", str, "", "MODEL_API_KEY", secret=True,
                help="accepted as a `model:read` API key"),
        # -- mail
        Setting("mail.enabled", bool, False, "MAIL_ENABLED", runtime=True,
                help="env value is the master switch for sending; the DB override only turns confirmations off/on"),
        Setting("mail.server", str, "localhost", "MAIL_SERVER"),
        Setting("mail.port", int, 25, "MAIL_PORT"),
        Setting("mail.use_tls", bool, False, "MAIL_USE_TLS"),
        Setting("mail.use_ssl", bool, False, "MAIL_USE_SSL"),
        Setting("mail.username", str, "", "MAIL_USERNAME"),
        Setting("mail.password", str, "", "MAIL_PASSWORD", secret=True),
        Setting("mail.default_sender", str, "concierge@localhost", "MAIL_DEFAULT_SENDER"),
        Setting("frontend.base_url", str, "http://localhost:8001", "FRONTEND_BASE_URL",
                help="base of links in e-mails"),
        # -- locks
        Setting("auto_release.enabled", bool, True, "AUTO_RELEASE_ENABLED", runtime=True,
                help="the sweep releases old locks"),
        Setting("auto_release.hours", Bounded(1, TEN_YEARS_MINUTES // 60), 72, "AUTO_RELEASE_HOURS", runtime=True,
                help="age after which a lock is released"),
        # -- Git LFS objects (issue 19; docs/lfs.md)
        Setting("lfs.storage", str, "local", "LFS_STORAGE",
                help="where LFS object bytes live: `local` (files under `lfs.local_root`) or `s3` (presigned URLs)"),
        Setting("lfs.local_root", str, "", "LFS_LOCAL_ROOT",
                help="folder of the local object store; empty = `instance/lfs` (one file system: uploads are renamed "
                     "into place)"),
        Setting("lfs.s3.bucket", str, "", "LFS_S3_BUCKET", help="bucket of the S3-compatible object store"),
        Setting("lfs.s3.endpoint_url", str, "", "LFS_S3_ENDPOINT_URL",
                help="S3-compatible endpoint (MinIO: `http://minio:9000`); empty = AWS"),
        Setting("lfs.s3.region", str, "us-east-1", "LFS_S3_REGION", help="S3 region"),
        Setting("lfs.s3.access_key_id", str, "", "LFS_S3_ACCESS_KEY_ID", secret=True,
                help="S3 access key; empty = boto3's own credential chain"),
        Setting("lfs.s3.secret_access_key", str, "", "LFS_S3_SECRET_ACCESS_KEY", secret=True, help="S3 secret key"),
        Setting("lfs.s3.prefix", str, "", "LFS_S3_PREFIX", help="key prefix inside the bucket (e.g. `lfs/`)"),
        Setting("lfs.transfer_expiry_seconds", Annotated[int, Field(ge=10, le=86400)], 900,
                "LFS_TRANSFER_EXPIRY_SECONDS",
                help="lifetime of a signed upload/download/verify link (checked when a transfer starts)"),
        Setting("lfs.default_quota_bytes", NonNegativeInt, 0, "LFS_DEFAULT_QUOTA_BYTES",
                help="object bytes a repository may hold unless it has its own quota; 0 = unlimited"),
        # -- scheduler
        Setting("scheduler.enabled", bool, True, "SCHEDULER_ENABLED",
                help="run jobs in the web process (one process per deployment wins the leader lock)"),
        Setting("scheduler.interval_override_seconds", NonNegativeInt, 0, "SCHEDULER_INTERVAL_SECONDS",
                help="run every job at this interval instead of its own (tests, e2e); 0 = off"),
        Setting("scheduler.standby_poll_seconds", Annotated[float, Field(gt=0)], 10.0,
                "SCHEDULER_STANDBY_POLL_SECONDS", help="how often a standby process tries to take over"),
        # -- alohomora relay (App1)
        Setting("alohomora.base_url", str, "http://localhost:8000", "ALOHOMORA_BASE_URL"),
        Setting("alohomora.timeout", Annotated[float, Field(gt=0)], 5.0, "ALOHOMORA_TIMEOUT",
                help="seconds per outbound call"),
        # -- mail delivery and confirmations
        Setting("mail.timeout_seconds", Annotated[float, Field(gt=0)], 10.0, "MAIL_TIMEOUT",
                help="SMTP connect/read timeout per delivery attempt"),
        Setting("mail.max_attempts", PositiveInt, 5, "MAIL_MAX_ATTEMPTS",
                help="delivery attempts per queued e-mail before it is marked `failed`"),
        Setting("mail.retry_seconds", PositiveInt, 60, "MAIL_RETRY_SECONDS",
                help="wait before the 2nd attempt; doubles after each failure (capped at 1 h)"),
        Setting("mail.confirmation_hours", PositiveInt, 24, "MAIL_CONFIRMATION_HOURS",
                help="lifetime of an e-mail/password change confirmation link"),
        # -- check-in (the check-in contract)
        Setting("checkin.duration_minutes", Bounded(1, TEN_YEARS_MINUTES), 60, "CHECKIN_DURATION_MINUTES", runtime=True,
                help="length of a vibe pass; a re-check-in moves expiry to now + this"),
        Setting("checkin.feed_max_limit", PositiveInt, 10000, "CHECKIN_FEED_MAX_LIMIT",
                help="largest `limit` of one `GET /api/model/active-users` page (no `limit` = every active user)"),
        # -- app sessions, relay and workspace files (App1, the Backend Server guide)
        Setting("alohomora.open_endpoints", bool, False, "ALOHOMORA_OPEN_ENDPOINTS", runtime=True,
                help="serve App1's API as is: `/new_session`, `/register_token` and the plain notification path "
                     "need no credentials"),
        Setting("alohomora.notification_secret", str, "", "ALOHOMORA_NOTIFICATION_SECRET", secret=True,
                help="secret of `/relay/<secret>/receive_session_notification`; empty = generated into "
                     "`instance/alohomora_notification_secret` (`flask relay callback-path` prints it)"),
        Setting("alohomora.notification_sources", list[str], [], "ALOHOMORA_NOTIFICATION_SOURCES",
                help="client addresses or CIDR ranges (JSON list) allowed to post to the plain notification path"),
        Setting("app_sessions.ttl_minutes", PositiveInt, 60, "APP_SESSION_TTL_MINUTES",
                help="app session lifetime from creation (App1: 1 hour)"),
        Setting("workspace.root", str, "", "WORKSPACE_ROOT",
                help="folder holding one sub-folder per app session; empty = `instance/workspace`"),
        Setting("workspace.max_file_bytes", PositiveInt, 10 * 1024 * 1024, "WORKSPACE_MAX_FILE_BYTES",
                help="largest uploaded file (413 above it)"),
        Setting("workspace.quota_bytes", PositiveInt, 100 * 1024 * 1024, "WORKSPACE_QUOTA_BYTES",
                help="total size of one session's files (413 above it)"),
        Setting("users.settings_max_bytes", PositiveInt, 16 * 1024, "USER_SETTINGS_MAX_BYTES",
                help="largest `/api/users/me/settings` document, as compact JSON"),
        # -- activity analytics (the Session Server API)
        Setting("analytics.public_apps", list[str], [], "ANALYTICS_PUBLIC_APPS", runtime=True,
                help="apps whose `public-summary` / `public-timeline` are served without auth (others: 404)"),
        Setting("analytics.idle_cap_minutes", Bounded(1, TEN_YEARS_MINUTES), 30, "ANALYTICS_IDLE_CAP_MINUTES",
                runtime=True,
                help="an open active session counts at most this long after its last start/resume in reports"),
        Setting("analytics.max_future_seconds", Bounded(0, TEN_YEARS_MINUTES * 60), 300, "ANALYTICS_MAX_FUTURE_SECONDS",
                runtime=True,
                help="a client `time` further ahead of the server clock is refused (422)"),
        Setting("analytics.track_batch_max", Bounded(1, 1_000_000), 500, "ANALYTICS_TRACK_BATCH_MAX", runtime=True,
                help="largest JSON array accepted by `POST /api/pages/track`"),
        Setting("analytics.report_row_limit", Bounded(1, 1_000_000_000), 1000, "ANALYTICS_REPORT_ROW_LIMIT",
                runtime=True,
                help="sessions listed by `timeline` / `session-timeline-detail` (newest first)"),
        Setting("analytics.track_async_commit", bool, True, "ANALYTICS_TRACK_ASYNC_COMMIT",
                help="PostgreSQL: page-track commits skip the WAL flush wait (a database server crash may lose "
                     "the visits acknowledged in its last ~0.6 s; a worker crash loses none)"),
        Setting("analytics.retention_days", Bounded(0, TEN_YEARS_MINUTES // 1440 * 100), 0, "ANALYTICS_RETENTION_DAYS",
                runtime=True,
                help="the purge job deletes sessions and page visits older than this; 0 = keep forever"),
        # -- operations (deploy)
        Setting("metrics.enabled", bool, True, "METRICS_ENABLED",
                help="serve Prometheus metrics at `/metrics` (nginx exposes it to loopback only)"),
        Setting("metrics.allow_from", list[str], ["127.0.0.1", "::1"], "METRICS_ALLOWED_SOURCES",
                help="client addresses or CIDR ranges (JSON list) that may read `/metrics` (others: 403); behind "
                     "TRUSTED_PROXIES the client is the one the proxy names in X-Forwarded-For"),
        Setting("http.trusted_proxies", NonNegativeInt, 0, "TRUSTED_PROXIES",
                help="reverse proxies in front (nginx = 1): client address and scheme come from X-Forwarded-*"),
        Setting("console.cookie_secure", bool, False, "CONSOLE_COOKIE_SECURE",
                help="the web console's session cookies are HTTPS-only (they always are when the request came over "
                     "HTTPS, through TRUSTED_PROXIES)"),
    ]
}


def as_bool(text: str) -> bool:
    """The one boolean parser for environment variables and CLI values."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def parse_text(setting: Setting, text: str) -> Any:
    """Turn a string (env var, CLI argument) into the setting's typed value, or raise ValueError."""
    # Annotated[int, ...] and list[str] both expose their plain type as __origin__
    base = getattr(setting.type, "__origin__", setting.type)
    try:
        if base is bool:
            value: Any = as_bool(text)
        elif base is int:
            value = int(text)
        elif base is float:
            value = float(text)
            if not math.isfinite(value):  # "nan", "inf": not a setting's value, and not JSON
                raise ValueError(f"not a finite number: {text!r}")
        elif base in (dict, list):
            value = json.loads(text)
        else:
            value = text
        return setting.adapter.validate_python(value)
    except (ValueError, ValidationError) as exc:
        raise ValueError(f"{setting.key}: {exc}") from exc


def validate_value(key: str, value: Any) -> Any:
    """Validate a JSON value for a runtime key; raises KeyError (unknown) or ValidationError."""
    setting = SETTINGS[key]
    if not setting.runtime:
        raise KeyError(key)
    return setting.adapter.validate_python(value)


def generated_secret(instance_path: str, filename: str) -> tuple[str, bool]:
    """A secret kept in instance/<filename>, created once; (secret, created_now).

    Written to a temp file and linked into place: concurrent workers of a fresh install all end up with
    the same secret, and nobody ever reads a half-written file.
    """
    path = Path(instance_path) / filename
    created = False
    if not path.exists():
        # a unique temp name per caller: threads of one process race here too
        handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{filename}.")
        with os.fdopen(handle, "w") as out:  # mkstemp creates it 0600
            out.write(secrets.token_urlsafe(48))
        temp = Path(temp_name)
        try:
            os.link(temp, path)
            created = True
        except FileExistsError:
            pass
        finally:
            temp.unlink()
    return path.read_text().strip(), created


def _flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, key + "."))
        else:
            flat[key] = value
    return flat


def read_config_json(path: Path) -> dict[str, Any]:
    """Read config.json, creating it with App1's defaults when missing."""
    if not path.exists():
        path.write_text(json.dumps(CONFIG_JSON_DEFAULTS, indent=2) + "\n")
    return _flatten(json.loads(path.read_text() or "{}"))


def load_static(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Merge default < config.json < env < overrides into one flat dict for an app."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    config_path = Path(overrides.pop("config_json", None) or environ.get("CONCIERGE_CONFIG") or DEFAULT_CONFIG_JSON)
    from_file = read_config_json(config_path)
    values: dict[str, Any] = {}
    for key, setting in SETTINGS.items():
        value = setting.default
        if key in from_file:
            value = setting.adapter.validate_python(from_file[key]) if from_file[key] is not None else value
        if setting.env and environ.get(setting.env) not in (None, ""):
            value = parse_text(setting, environ[setting.env])
        values[key] = value
    values.update(overrides)
    return values


def static(key: str) -> Any:
    """The value without the database layer (e.g. the MAIL_ENABLED master switch)."""
    return current_app.extensions["concierge.settings"][key]


# Runtime settings are read by most requests. Each process keeps what it read for a moment instead of a
# query per request; a write through this process forgets it at once, other processes (gunicorn workers)
# see it within OVERRIDES_TTL_SECONDS. Within one request the values never change (kept on g).
OVERRIDES_TTL_SECONDS = 1.0


def db_overrides() -> dict[str, Any]:
    """All database overrides: this request's snapshot, else the process's if fresh, else the database's."""
    if has_request_context() and "settings_overrides" in g:
        return g.settings_overrides
    cached = current_app.extensions.get("concierge.settings_overrides")
    if cached is not None and time.monotonic() - cached[0] < OVERRIDES_TTL_SECONDS:
        found = cached[1]
    else:
        from models import ConfigEntry  # models imports settings for defaults; import late

        runtime_keys = [k for k, s in SETTINGS.items() if s.runtime]
        found = {row.key: row.value for row in ConfigEntry.query.filter(ConfigEntry.key.in_(runtime_keys))}
        current_app.extensions["concierge.settings_overrides"] = (time.monotonic(), found)
    if has_request_context():
        g.settings_overrides = found
    return found


def forget_db_overrides() -> None:
    """Drop the request's and the process's cached overrides after a write."""
    current_app.extensions.pop("concierge.settings_overrides", None)
    if has_request_context():
        g.pop("settings_overrides", None)


def get(key: str) -> Any:
    """The effective value of a setting."""
    setting = SETTINGS[key]
    if setting.runtime:
        overrides = db_overrides()
        if key in overrides:
            return overrides[key]
    return static(key)


def describe() -> list[dict[str, Any]]:
    """Every setting with its sources, secrets masked (for admins and `flask settings list`)."""
    overrides = db_overrides()
    rows = []
    for key, setting in sorted(SETTINGS.items()):
        value = overrides.get(key, static(key)) if setting.runtime else static(key)
        rows.append({
            "key": key,
            "env": setting.env,
            "value": ("***" if value else "") if setting.secret else value,
            "default": setting.default,
            "runtime": setting.runtime,
            "overridden": key in overrides,
            "help": setting.help,
        })
    return rows
