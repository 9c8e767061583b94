"""Fixtures: app, db, client, runner, users and their auth headers, a live server.

The lane comes from CONCIERGE_TEST_LANE:
- `sqlite` (default): a throwaway SQLite file, in-memory rate limits;
- `postgres`: a throwaway database created on TEST_DATABASE_URL's server, rate limits in TEST_REDIS_URL.
The schema is built by the real migrations (so they are tested too); each test starts from empty tables.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import create_app, database_uri
from extensions import db as _db
from extensions import limiter
from services import clock

LANE = os.environ.get("CONCIERGE_TEST_LANE", "sqlite")
RUN_ID = secrets.token_hex(4)
SKIP_TABLES = {"alembic_version", "apscheduler_jobs"}


def pytest_report_header(config):
    return f"concierge test lane: {LANE}"


@contextmanager
def throwaway_database(folder: Path, name: str):
    """The URL of a new, empty database nobody else uses (a SQLite file in `folder`, or a database on
    TEST_DATABASE_URL's PostgreSQL server), dropped afterwards."""
    if LANE == "sqlite":
        yield f"sqlite:///{folder / f'{name}.db'}"
        return
    server = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    admin_url = make_url(database_uri(server, "")).set(database="postgres")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A fresh, empty database for this run, dropped afterwards."""
    with throwaway_database(tmp_path_factory.mktemp("db"), f"concierge_test_{RUN_ID}") as url:
        yield url


@pytest.fixture(scope="session")
def base_settings(database_url, tmp_path_factory):
    overrides = {
        "app.env": "testing",
        "database.uri": database_url,
        "jwt.secret_key": "test-secret-" + "x" * 40,
        "security.argon2.time_cost": 1,
        "security.argon2.memory_kib": 8,
        "scheduler.enabled": False,
        "log.json": False,
        "config_json": str(tmp_path_factory.mktemp("cfg") / "config.json"),
        "ratelimit.key_prefix": f"concierge-test-{RUN_ID}",
    }
    if LANE == "postgres":
        overrides["ratelimit.storage_uri"] = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    return overrides


@pytest.fixture(scope="session")
def migrated(base_settings, tmp_path_factory):
    """Apply the real migrations once per run."""
    from flask_migrate import upgrade

    os.environ.setdefault("CONCIERGE_INSTANCE", str(tmp_path_factory.mktemp("instance")))
    app = create_app(base_settings)
    with app.app_context():
        upgrade()
        tables = [t.name for t in reversed(_db.metadata.sorted_tables) if t.name not in SKIP_TABLES]
        _db.engine.dispose()
    return tables


@pytest.fixture
def make_app(base_settings, migrated):
    """Build an app with extra setting overrides (`make_app({"ratelimit.login": "3 per minute"})`)."""
    built = []

    def build(extra: dict | None = None):
        app = create_app({**base_settings, **(extra or {})})
        built.append(app)
        return app

    yield build
    for app in built:
        with app.app_context():
            _empty_tables(migrated)
            _db.session.remove()
            _db.engine.dispose()
    clock.freeze(None)


def _empty_tables(tables: list[str]) -> None:
    with _db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


def reset_rate_limits(app) -> None:
    """Forget this run's rate-limit counters only (a shared Redis also holds other runs' keys)."""
    storage_uri = app.config["RATELIMIT_STORAGE_URI"]
    if not storage_uri.startswith("redis"):
        limiter.reset()
        return
    import redis

    client = redis.Redis.from_url(storage_uri)
    keys = list(client.scan_iter(match=f"*{app.config['RATELIMIT_KEY_PREFIX']}*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        reset_rate_limits(app)
        yield app


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# ------------------------------------------------------------------ factories

PASSWORD = "correct horse battery"


class Factory:
    """Builds rows through the services, the way the API would."""

    def __init__(self, app):
        self.app = app

    def user(self, username: str | None = None, *, is_admin: bool = False, password: str = PASSWORD,
             email: str | None = None):
        from services import accounts

        username = username or f"user{uuid.uuid4().hex[:8]}"
        return accounts.create_user(username, email or f"{username}@example.com", password, is_admin=is_admin)

    def token(self, user, app_name: str | None = None) -> str:
        from services import tokens

        return tokens.issue_tokens(user, app_name)["access_token"]

    def headers(self, user, app_name: str | None = None) -> dict:
        return {"Authorization": f"Bearer {self.token(user, app_name)}"}

    def api_key(self, scopes: list[str], app_name: str | None = None, user=None) -> str:
        from services import api_keys

        _, plaintext = api_keys.create_key("test key", scopes, app_name, user.id if user else None)
        return plaintext


@pytest.fixture
def factory(app):
    return Factory(app)


@pytest.fixture
def admin(factory):
    return factory.user("admin", is_admin=True)


@pytest.fixture
def admin_headers(factory, admin):
    return factory.headers(admin)


@pytest.fixture
def alice(factory):
    return factory.user("alice")


@pytest.fixture
def alice_headers(factory, alice):
    return factory.headers(alice)


@pytest.fixture
def bob(factory):
    return factory.user("bob")


@pytest.fixture
def bob_headers(factory, bob):
    return factory.headers(bob)


# ------------------------------------------------------------------ live server

def free_port() -> int:
    """A loopback port nobody listens on right now (for servers the tests start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, app):
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()


@pytest.fixture
def live_server(app):
    """The app served over real HTTP by a threaded server (for races and external clients)."""
    with LiveServer(app) as server:
        yield server


PROJECT_ROOT = Path(__file__).resolve().parent.parent
