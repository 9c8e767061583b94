"""The check-in contract's endpoints: exact shapes, extend on re-check-in, exact expiry, checkout, duration."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from models import CheckIn
from services import clock
from tests.checkin.conftest import T0


def passes(db, user):
    return db.session.execute(select(CheckIn.id, CheckIn.status).where(CheckIn.user_id == user.id)
                              .order_by(CheckIn.created_at)).all()


def test_checkin_answers_the_contract_shape(client, alice_headers):
    clock.freeze(T0)
    resp = client.post("/api/checkin", headers=alice_headers)
    assert resp.status_code == 200
    body = resp.get_json()
    session_id = body["data"]["session_id"]
    uuid.UUID(session_id)
    assert body == {"success": True, "message": "1-hour vibe pass activated",
                    "data": {"session_id": session_id, "expires_at": "2025-11-09T15:00:00Z",
                             "expires_in_minutes": 60}}


def test_frontend_call_with_json_content_type_and_no_body(client, alice_headers):
    resp = client.post("/api/checkin", headers={**alice_headers, "Content-Type": "application/json"})
    assert resp.status_code == 200 and resp.get_json()["success"] is True


def test_session_active_shape_and_minutes_remaining(client, alice_headers):
    clock.freeze(T0)
    session_id = client.post("/api/checkin", headers=alice_headers).get_json()["data"]["session_id"]
    clock.freeze(T0 + timedelta(minutes=18))
    resp = client.get("/api/session", headers=alice_headers)
    assert resp.status_code == 200
    assert resp.get_json() == {"success": True, "active": True,
                               "data": {"session_id": session_id, "checked_in_at": "2025-11-09T14:00:00Z",
                                        "expires_at": "2025-11-09T15:00:00Z", "minutes_remaining": 42}}


def test_session_inactive_shape(client, alice_headers):
    resp = client.get("/api/session", headers=alice_headers)
    assert resp.status_code == 200
    assert resp.get_json() == {"success": True, "active": False, "message": "No active session"}


@pytest.mark.parametrize(("elapsed", "remaining"), [
    (timedelta(0), 60),
    (timedelta(seconds=30), 60),  # 59.5 minutes left: rounded up
    (timedelta(minutes=59), 1),
    (timedelta(minutes=59, seconds=59), 1),  # one second left still shows 1
])
def test_minutes_remaining_rounds_up(client, alice_headers, elapsed, remaining):
    clock.freeze(T0)
    client.post("/api/checkin", headers=alice_headers)
    clock.freeze(T0 + elapsed)
    assert client.get("/api/session", headers=alice_headers).get_json()["data"]["minutes_remaining"] == remaining


def test_recheckin_extends_and_keeps_session_id(client, db, alice, alice_headers):
    clock.freeze(T0)
    first = client.post("/api/checkin", headers=alice_headers).get_json()["data"]
    clock.freeze(T0 + timedelta(minutes=30))
    second = client.post("/api/checkin", headers=alice_headers)
    assert second.status_code == 200
    data = second.get_json()["data"]
    assert data == {"session_id": first["session_id"], "expires_at": "2025-11-09T15:30:00Z",
                    "expires_in_minutes": 60}
    status = client.get("/api/session", headers=alice_headers).get_json()["data"]
    assert status["checked_in_at"] == "2025-11-09T14:00:00Z"  # the pass started at the first check-in
    assert status["expires_at"] == "2025-11-09T15:30:00Z"
    assert passes(db, alice) == [(uuid.UUID(first["session_id"]), "active")]


def test_expiry_is_exact(client, db, alice, alice_headers, model_headers):
    clock.freeze(T0)
    first = client.post("/api/checkin", headers=alice_headers).get_json()["data"]["session_id"]
    clock.freeze(T0 + timedelta(minutes=59, seconds=59))
    assert client.get("/api/session", headers=alice_headers).get_json()["active"] is True
    assert client.get("/api/model/active-users", headers=model_headers).get_json()["count"] == 1
    clock.freeze(T0 + timedelta(hours=1))  # now == expires_at: expired
    assert client.get("/api/session", headers=alice_headers).get_json() == {
        "success": True, "active": False, "message": "No active session"}
    feed = client.get("/api/model/active-users", headers=model_headers).get_json()
    assert feed["count"] == 0 and feed["data"] == []
    # the expired row still says "active" (no cleanup ran) and must not block or be extended
    again = client.post("/api/checkin", headers=alice_headers).get_json()["data"]
    assert again["session_id"] != first and again["expires_at"] == "2025-11-09T16:00:00Z"
    assert passes(db, alice) == [(uuid.UUID(first), "inactive"), (uuid.UUID(again["session_id"]), "active")]


def test_expire_job_is_only_tidiness(client, db, alice, alice_headers, runner):
    clock.freeze(T0)
    client.post("/api/checkin", headers=alice_headers)
    clock.freeze(T0 + timedelta(minutes=61))
    result = runner.invoke(args=["scheduler", "run-job", "expire_checkins"])
    assert result.exit_code == 0, result.output
    assert [status for _, status in passes(db, alice)] == ["inactive"]
    assert client.get("/api/session", headers=alice_headers).get_json()["active"] is False


def test_checkout(client, db, alice, alice_headers, model_headers):
    clock.freeze(T0)
    first = client.post("/api/checkin", headers=alice_headers).get_json()["data"]["session_id"]
    resp = client.post("/api/checkout", headers=alice_headers)
    assert resp.status_code == 200
    assert resp.get_json() == {"success": True, "message": "Checked out successfully"}
    assert client.get("/api/session", headers=alice_headers).get_json()["active"] is False
    assert client.get("/api/model/active-users", headers=model_headers).get_json()["count"] == 0
    # idempotent, and the next check-in is a new pass
    assert client.post("/api/checkout", headers=alice_headers).get_json() == {
        "success": True, "message": "Checked out successfully"}
    again = client.post("/api/checkin", headers=alice_headers).get_json()["data"]["session_id"]
    assert again != first
    assert [status for _, status in passes(db, alice)] == ["inactive", "active"]


def test_checkout_leaves_other_users_alone(client, alice_headers, bob_headers, model_headers):
    client.post("/api/checkin", headers=alice_headers)
    client.post("/api/checkin", headers=bob_headers)
    client.post("/api/checkout", headers=alice_headers)
    feed = client.get("/api/model/active-users", headers=model_headers).get_json()
    assert [u["display_name"] for u in feed["data"]] == ["bob"]


@pytest.mark.parametrize(("minutes", "message", "expires"), [
    (90, "90-minute vibe pass activated", "2025-11-09T15:30:00Z"),
    (120, "2-hour vibe pass activated", "2025-11-09T16:00:00Z"),
])
def test_duration_is_a_runtime_setting(client, admin_headers, alice_headers, minutes, message, expires):
    assert client.put("/api/admin/config", headers=admin_headers,
                      json={"checkin.duration_minutes": minutes}).status_code == 200
    clock.freeze(T0)
    body = client.post("/api/checkin", headers=alice_headers).get_json()
    assert body["message"] == message
    assert body["data"]["expires_at"] == expires and body["data"]["expires_in_minutes"] == minutes


def test_times_are_whole_seconds_and_expires_in_rounds_up(client, alice_headers):
    clock.freeze(T0 + timedelta(microseconds=700_000))
    data = client.post("/api/checkin", headers=alice_headers).get_json()["data"]
    # stored 15:00:00 exactly: 59:59.3 left, shown as 60 minutes
    assert data["expires_at"] == "2025-11-09T15:00:00Z" and data["expires_in_minutes"] == 60


def test_endpoints_need_a_user_token(client, model_key):
    for method, path in [("post", "/api/checkin"), ("get", "/api/session"), ("post", "/api/checkout")]:
        missing = getattr(client, method)(path)
        assert missing.status_code == 401, path
        assert missing.get_json() == {"success": False, "error": "Missing credentials"}
        keyed = getattr(client, method)(path, headers={"X-API-Key": model_key})
        assert keyed.status_code == 401 and keyed.get_json()["success"] is False
        bad = getattr(client, method)(path, headers={"Authorization": "Bearer not.a.jwt"})
        assert bad.status_code == 401 and bad.get_json()["error"].startswith("Invalid token")


def test_database_refuses_a_second_active_pass(db, alice):
    now = clock.now()
    row = {"user_id": alice.id, "checked_in_at": now, "expires_at": now + timedelta(hours=1), "status": "active",
           "created_at": now}
    db.session.execute(insert(CheckIn).values(id=uuid.uuid4(), **row))
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(insert(CheckIn).values(id=uuid.uuid4(), **row))
        db.session.commit()
    db.session.rollback()
    db.session.execute(insert(CheckIn).values(id=uuid.uuid4(), **{**row, "status": "inactive"}))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 2


def test_deleting_a_user_deletes_their_passes(client, db, admin_headers, alice, alice_headers):
    client.post("/api/checkin", headers=alice_headers)
    assert client.delete(f"/api/admin/users/{alice.id}", headers=admin_headers).status_code == 200
    assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 0


def test_extending_a_pass_changes_no_indexed_column(db):
    """An extend changes only expires_at; with no index on it (and room on each page on PostgreSQL) the
    update is heap-only: it writes no index entry (migration 0007)."""
    from sqlalchemy import inspect, text

    indexed = {column for index in inspect(db.engine).get_indexes("checkins") for column in index["column_names"]}
    assert "expires_at" not in indexed and {"user_id", "checked_in_at"} <= indexed
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            options = conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'checkins'")).scalar()
        assert options == ["fillfactor=80"]

