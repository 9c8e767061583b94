"""Pooled PostgreSQL connections: a connection that sat idle is pinged before use, and replaced if dead."""

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

import app as app_module
from tests.conftest import LANE

pytestmark = pytest.mark.skipif(LANE != "postgres", reason="the pool hooks are PostgreSQL's (SQLite has no server)")


def _terminate_other_backends(db) -> int:
    """What a database restart does to the app's pooled connections."""
    admin = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    admin.dispose()
    return killed


def _select_one(db) -> int:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT 1")).scalar()


def test_idle_dead_connection_is_replaced(db, monkeypatch):
    db.session.remove()
    assert _select_one(db) == 1  # one connection now idle in the pool
    assert _terminate_other_backends(db) >= 1
    monkeypatch.setattr(app_module, "IDLE_PING_SECONDS", 0.0)  # every pooled connection counts as idle
    assert _select_one(db) == 1


def test_without_the_ping_a_dead_connection_fails_once(db, monkeypatch):
    """The counter-check: the hook above is what saved the request (a busy connection is not pinged)."""
    db.session.remove()
    assert _select_one(db) == 1
    assert _terminate_other_backends(db) >= 1
    monkeypatch.setattr(app_module, "IDLE_PING_SECONDS", 1e9)
    with pytest.raises(OperationalError):
        _select_one(db)
    assert _select_one(db) == 1  # SQLAlchemy invalidated the pool: the next checkout connects afresh
