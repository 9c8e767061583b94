"""App1's POST /new_session: 201 {session_id}, 400 {error}; expiry makes a session absent; the purge job."""

import uuid
from datetime import datetime, timedelta

import jobs
from models import AppSession, WorkspaceFile
from services import clock
from tests.relay.conftest import token_body

T0 = datetime(2026, 11, 1, 12, 0, 0)


def test_new_session_201_and_row(client, db, relay_headers):
    clock.freeze(T0)
    resp = client.post("/new_session", headers=relay_headers, json={"user_id": "u-1", "data": "hello"})
    assert resp.status_code == 201
    body = resp.get_json()
    assert set(body) == {"session_id"}
    row = db.session.get(AppSession, uuid.UUID(body["session_id"]))
    assert (row.user_id, row.data, row.created_at, row.last_accessed_at) == ("u-1", "hello", T0, T0)
    assert row.expires_at == T0 + timedelta(hours=1)


def test_new_session_400_missing_user_id(client, relay_headers):
    resp = client.post("/new_session", headers=relay_headers, json={"data": "x"})
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "Missing required field: user_id"


def test_new_session_400_empty_or_wrong_user_id(client, relay_headers):
    for bad in ("", "   ", 42, None):
        resp = client.post("/new_session", headers=relay_headers, json={"user_id": bad})
        assert resp.status_code == 400, bad
        assert resp.get_json()["error"].startswith("Invalid field user_id"), resp.get_json()


def test_new_session_400_no_body_and_malformed(client, relay_headers):
    resp = client.post("/new_session", headers=relay_headers)
    assert resp.status_code == 400 and resp.get_json()["error"] == "Missing required field: user_id"
    resp = client.post("/new_session", headers={**relay_headers, "Content-Type": "application/json"}, data="{oops")
    assert resp.status_code == 400 and resp.get_json()["error"] == "Malformed JSON body"


def test_ttl_is_a_setting(client, db, relay_headers, static_setting):
    static_setting("app_sessions.ttl_minutes", 5)
    clock.freeze(T0)
    sid = client.post("/new_session", headers=relay_headers, json={"user_id": "u"}).get_json()["session_id"]
    assert db.session.get(AppSession, uuid.UUID(sid)).expires_at == T0 + timedelta(minutes=5)


def test_expired_session_is_404(client, relay_headers, new_session, standin):
    clock.freeze(T0)
    sid = new_session()
    clock.freeze(T0 + timedelta(minutes=59, seconds=59))
    assert client.post("/register_token", headers=relay_headers, json=token_body(sid)).status_code == 201
    clock.freeze(T0 + timedelta(hours=1))
    resp = client.post("/register_token", headers=relay_headers, json=token_body(sid, token="t2"))
    assert resp.status_code == 404
    assert resp.get_json() == {"error": "Session not found"}
    assert len(standin.received) == 1  # the expired session never reached Alohomora


def test_purge_job_deletes_expired_sessions_files_and_folders(app, client, db, relay_headers, new_session,
                                                              alice, alice_headers):
    clock.freeze(T0)
    old = new_session("alice")
    clock.freeze(T0 + timedelta(minutes=30))
    young = new_session("alice")
    for sid in (old, young):
        resp = client.put(f"/api/app-sessions/{sid}/files/a.txt", headers=alice_headers, data=b"hello")
        assert resp.status_code == 201
    root = app.extensions["concierge.settings"]["workspace.root"]
    import os
    assert sorted(os.listdir(root)) == sorted([old, young])
    clock.freeze(T0 + timedelta(hours=1, minutes=1))
    assert jobs.execute("purge_app_sessions") == 1
    assert db.session.get(AppSession, uuid.UUID(old)) is None
    assert db.session.get(AppSession, uuid.UUID(young)) is not None
    assert [f.session_id for f in WorkspaceFile.query.all()] == [uuid.UUID(young)]
    assert os.listdir(root) == [young]
    assert jobs.execute("purge_app_sessions") == 0  # idempotent


def test_purge_job_is_declared():
    job = jobs.job_by_id("purge_app_sessions")
    assert job.target == "services.app_sessions:purge_expired_sessions"


def test_nul_in_user_id_is_400_and_data_keeps_any_json(client, relay_headers):
    resp = client.post("/new_session", headers=relay_headers, json={"user_id": "a\u0000b"})
    assert resp.status_code == 400 and resp.get_json()["error"].startswith("Invalid field user_id")
    resp = client.post("/new_session", headers=relay_headers, json={"user_id": "u", "data": {"nested": ["x", 1]}})
    assert resp.status_code == 201


def test_cli_callback_path_and_purge(runner, relay_headers, new_session):
    from tests.relay.conftest import SECRET

    result = runner.invoke(args=["relay", "callback-path"])
    assert result.exit_code == 0 and result.output.strip() == f"/relay/{SECRET}/receive_session_notification"
    clock.freeze(T0)
    new_session()
    clock.freeze(T0 + timedelta(hours=2))
    result = runner.invoke(args=["relay", "purge-sessions"])
    assert result.exit_code == 0 and result.output.strip() == "purged 1 expired sessions"


def test_last_accessed_at_follows_use_at_most_once_a_minute(client, db, relay_headers, new_session, standin):
    clock.freeze(T0)
    sid = new_session()
    clock.freeze(T0 + timedelta(seconds=30))
    assert client.post("/register_token", headers=relay_headers, json=token_body(sid, token="a")).status_code == 201
    assert db.session.get(AppSession, uuid.UUID(sid)).last_accessed_at == T0
    clock.freeze(T0 + timedelta(minutes=2))
    assert client.post("/register_token", headers=relay_headers, json=token_body(sid, token="b")).status_code == 201
    db.session.expire_all()
    assert db.session.get(AppSession, uuid.UUID(sid)).last_accessed_at == T0 + timedelta(minutes=2)
