"""services.prepared: the hot paths' single statements on PostgreSQL (autocommit, prepared per connection)."""

import pytest
from sqlalchemy.exc import DataError

import app as concierge_app
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
    monkeypatch.setattr(concierge_app, "IDLE_PING_SECONDS", 1e9)  # the idle ping is not what saves it here
    with app.app_context():
        assert prepared.fetch_one(DOUBLE, 1) == (2,)  # one pooled connection, statement prepared on it
        assert _terminate_other_backends(app.extensions["sqlalchemy"]) >= 1
        assert prepared.fetch_one(DOUBLE, 5) == (10,)
        assert prepared.fetch_one(DOUBLE, 6) == (12,)  # the replacement prepared it afresh


def test_requests_survive_a_database_restart(client, alice_headers, monkeypatch):
    """The token check and check-in are prepared statements: a restart costs no failed request."""
    monkeypatch.setattr(concierge_app, "IDLE_PING_SECONDS", 1e9)
    assert client.post("/api/checkin", headers=alice_headers).status_code == 200
    with client.application.app_context():
        assert _terminate_other_backends(client.application.extensions["sqlalchemy"]) >= 1
    resp = client.post("/api/checkin", headers=alice_headers)
    assert resp.status_code == 200, resp.get_json()
    assert client.get("/api/session", headers=alice_headers).get_json()["active"] is True
