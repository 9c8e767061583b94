"""services.prepared: the hot paths' single statements on PostgreSQL (autocommit, prepared per connection)."""

import gc
import threading
import time

import pytest
from sqlalchemy.exc import DataError, OperationalError

from services import prepared
from tests.conftest import LANE
from tests.test_database_pool import _terminate_other_backends

pytestmark = pytest.mark.skipif(LANE != "postgres", reason="prepared statements are the PostgreSQL path")

DOUBLE = prepared.Statement("concierge_test_double", "SELECT $1 * 2", ("int",))
AS_INT = prepared.Statement("concierge_test_as_int", "SELECT $1::int", ("text",))


def test_a_statement_runs_prepared_and_in_autocommit(app):
    with app.app_context():
        assert prepared.available()
        assert prepared.fetch_one(DOUBLE, 21) == (42,)
        assert prepared.fetch_one(DOUBLE, 4) == (8,)  # prepared already on this connection: only executed
        in_transaction = prepared.Statement("concierge_test_xact", "SELECT now() = statement_timestamp()", ())
        # Autocommit: the statement is its own transaction, so the transaction starts with the statement.
        assert prepared.fetch_one(in_transaction) == (True,)


def test_database_errors_come_out_as_sqlalchemy_errors_and_leave_the_connection_usable(app):
    with app.app_context():
        with pytest.raises(DataError):
            prepared.fetch_one(AS_INT, "not a number")
        assert prepared.fetch_one(AS_INT, "7") == (7,)


def test_a_connection_lost_to_a_database_restart_is_replaced_and_the_statement_rerun(app, monkeypatch):
    monkeypatch.setattr(prepared, "IDLE_PING_SECONDS", 1e9)  # the idle ping is not what saves it here
    with app.app_context():
        assert prepared.fetch_one(DOUBLE, 1) == (2,)  # the thread's connection, statement prepared on it
        assert _terminate_other_backends(app.extensions["sqlalchemy"]) >= 1
        assert prepared.fetch_one(DOUBLE, 5) == (10,)
        assert prepared.fetch_one(DOUBLE, 6) == (12,)  # the replacement prepared it afresh


def test_requests_survive_a_database_restart(client, alice_headers, monkeypatch):
    """The token check and check-in are prepared statements: a restart costs no failed request."""
    monkeypatch.setattr(prepared, "IDLE_PING_SECONDS", 1e9)
    assert client.post("/api/checkin", headers=alice_headers).status_code == 200
    with client.application.app_context():
        assert _terminate_other_backends(client.application.extensions["sqlalchemy"]) >= 1
    resp = client.post("/api/checkin", headers=alice_headers)
    assert resp.status_code == 200, resp.get_json()
    assert client.get("/api/session", headers=alice_headers).get_json()["active"] is True


BACKEND = prepared.Statement("concierge_test_backend", "SELECT pg_backend_pid()", ())
# Not idempotent by declaration: a lost connection is not retried, so only the idle ping can save it.
BACKEND_ONCE = prepared.Statement("concierge_test_backend_once", "SELECT pg_backend_pid()", (), idempotent=False)


def _backend_in_thread(app, statement=BACKEND) -> int:
    found = []

    def run():
        with app.app_context():
            found.append(prepared.fetch_one(statement)[0])

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    return found[0]


def _open_backends(app) -> set[int]:
    with app.app_context():
        rows = prepared.fetch_one(prepared.Statement(
            "concierge_test_open", "SELECT array_agg(pid) FROM pg_stat_activity WHERE datname = current_database()",
            ()))
    return set(rows[0])


def test_each_thread_keeps_its_own_connection(app):
    with app.app_context():
        mine = prepared.fetch_one(BACKEND)[0]
        assert prepared.fetch_one(BACKEND)[0] == mine  # kept: no checkout per statement
    other = _backend_in_thread(app)
    assert other != mine


def test_a_thread_connection_closes_with_its_thread_and_all_close_with_the_engine(app):
    other = _backend_in_thread(app)
    gc.collect()  # the ended thread's connection is garbage now
    for _ in range(50):
        if other not in _open_backends(app):
            break
        time.sleep(0.05)
    assert other not in _open_backends(app)
    with app.app_context():
        mine = prepared.fetch_one(BACKEND)[0]
        app.extensions["sqlalchemy"].engine.dispose()
        assert prepared.fetch_one(BACKEND)[0] != mine  # closed by dispose(); a new one is opened
        time.sleep(0.1)
    assert mine not in _open_backends(app)


def test_an_idle_dropped_connection_is_replaced_before_a_statement_that_cannot_be_rerun(app, monkeypatch):
    with app.app_context():
        first = prepared.fetch_one(BACKEND_ONCE)[0]
        assert _terminate_other_backends(app.extensions["sqlalchemy"]) >= 1
        monkeypatch.setattr(prepared, "IDLE_PING_SECONDS", 0.0)  # every connection counts as idle
        assert prepared.fetch_one(BACKEND_ONCE)[0] != first


def test_without_the_ping_a_statement_that_cannot_be_rerun_fails_once_and_every_thread_reconnects(app, monkeypatch):
    """The counter-check of the test above; a lost connection also retires the other threads' connections."""
    monkeypatch.setattr(prepared, "IDLE_PING_SECONDS", 1e9)
    connections = app.extensions["concierge.thread_connections"]
    with app.app_context():
        prepared.fetch_one(BACKEND_ONCE)
        generation = connections.generation
        assert _terminate_other_backends(app.extensions["sqlalchemy"]) >= 1
        with pytest.raises(OperationalError) as failed:
            prepared.fetch_one(BACKEND_ONCE)
        assert failed.value.connection_invalidated
        assert connections.generation > generation  # other threads' connections are older: replaced at next use
        assert prepared.fetch_one(BACKEND_ONCE)[0] > 0


def test_a_forked_child_never_uses_or_closes_the_parents_connection(app):
    with app.app_context():
        mine = prepared.fetch_one(BACKEND)[0]
        owned = app.extensions["concierge.thread_connections"].local.owned
        owned.pid = -1  # what a forked child sees: its parent opened this connection
        assert prepared.fetch_one(BACKEND)[0] != mine
        assert not owned.connection.closed  # left open: it is the parent's session
    owned.connection.close()


def test_while_the_database_stays_down_the_caller_gets_its_error_and_recovers_after(app, monkeypatch):
    monkeypatch.setattr(prepared, "IDLE_PING_SECONDS", 1e9)
    engine = app.extensions["sqlalchemy"].engine
    with app.app_context():
        prepared.fetch_one(BACKEND)
        assert _terminate_other_backends(app.extensions["sqlalchemy"]) >= 1

        def refuse():
            raise OperationalError("connect", {}, Exception("connection refused"))

        with monkeypatch.context() as down:
            down.setattr(engine, "raw_connection", refuse)  # the server is still down: no new connection
            with pytest.raises(OperationalError):
                prepared.fetch_one(BACKEND)
        assert prepared.fetch_one(BACKEND)[0] > 0  # back up: a fresh connection
