"""App1's POST /receive_session_notification with Alohomora's exact payload; idempotent per token_id."""

import threading
import uuid
from datetime import datetime

import requests

from models import AppSession, SessionNotification
from services import clock
from tests.relay.conftest import SECRET, notification

SECRET_PATH = f"/relay/{SECRET}/receive_session_notification"


def test_null_counts_create_a_local_session(client, db):
    clock.freeze(datetime(2026, 11, 2, 8, 30, 0))
    resp = client.post(SECRET_PATH, json=notification("tok-n1"))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["message"] == "Session notification received successfully"
    assert body["token_id"] == "tok-n1" and body["processed_at"] == "2026-11-02T08:30:00.000Z"
    assert body["local_session_created"] is True
    session = db.session.get(AppSession, uuid.UUID(body["local_session_id"]))
    assert session.user_id == "app-user-9" and session.data == {"source": "alohomora", "workflow_id": "wf-1"}
    row = SessionNotification.query.one()
    assert row.workflow_status == {"total_instances": None, "completed_instances": None,
                                   "in_progress_instances": None, "failed_instances": None}
    assert row.notification_metadata["source_system_id"] == "sys-2"


def test_empty_workflow_status_and_no_local_session(client, db):
    payload = notification("tok-n2", create_local_session=False)
    payload["workflow_status"] = {}
    resp = client.post(SECRET_PATH, json=payload)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["local_session_created"] is False and body["local_session_id"] is None
    assert AppSession.query.count() == 0
    assert SessionNotification.query.one().workflow_status == {}


def test_counts_are_stored(client):
    resp = client.post(SECRET_PATH, json=notification("tok-n3", total_instances=3, completed_instances=1,
                                                      in_progress_instances=2, failed_instances=0))
    assert resp.status_code == 200
    assert SessionNotification.query.one().workflow_status["in_progress_instances"] == 2


def test_repeat_answers_the_same_session_and_creates_nothing(client):
    first = client.post(SECRET_PATH, json=notification("tok-rep")).get_json()
    second = client.post(SECRET_PATH, json=notification("tok-rep"))
    assert second.status_code == 200
    assert second.get_json() == first
    assert AppSession.query.count() == 1 and SessionNotification.query.count() == 1


def test_concurrent_repeats_create_one_session(app, live_server):
    url = live_server.url + SECRET_PATH
    answers, barrier = [], threading.Barrier(8)

    def post():
        barrier.wait()
        answers.append(requests.post(url, json=notification("tok-race"), timeout=10))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [200] * 8
    assert len({a.json()["local_session_id"] for a in answers}) == 1
    with app.app_context():
        assert AppSession.query.count() == 1 and SessionNotification.query.count() == 1


def test_token_is_not_stored_and_admins_list_notifications(client, admin_headers, alice_headers, db):
    client.post(SECRET_PATH, json=notification("raw-token-value-1234"))
    assert SessionNotification.query.one().token_hint == "raw-to…"
    resp = client.get("/api/admin/relay/notifications?limit=10", headers=admin_headers)
    assert resp.status_code == 200
    [row] = resp.get_json()["data"]
    assert row["user_id"] == "app-user-9" and row["workflow_id"] == "wf-1" and row["local_session_id"]
    assert "raw-token-value-1234" not in resp.get_data(as_text=True)
    assert client.get("/api/admin/relay/notifications", headers=alice_headers).status_code == 403
    assert client.get("/api/admin/relay/notifications?limit=0", headers=admin_headers).status_code == 422


def test_400_for_missing_fields(client):
    payload = notification()
    del payload["session_info"]["user_id"]
    resp = client.post(SECRET_PATH, json=payload)
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "Missing required field: session_info.user_id"
    resp = client.post(SECRET_PATH, json={"session_info": {"user_id": "u", "workflow_id": "w"}})
    assert resp.status_code == 400 and resp.get_json()["error"] == "Missing required field: token_id"
    assert SessionNotification.query.count() == 0


def test_end_to_end_alohomora_notifies_our_secret_callback(app, live_server, standin, client, relay_headers):
    """The stand-in notifies the callback it was given, as the real server does after record_token."""
    standin.callbacks = [f"{live_server.url}/relay/{SECRET}"]
    sid = client.post("/new_session", headers=relay_headers, json={"user_id": "u-e2e"}).get_json()["session_id"]
    body = {"session_id": sid, "token": "tok-e2e", "workflow_id": "wf", "function_id": "fn", "system_id": "sys"}
    assert client.post("/register_token", headers=relay_headers, json=body).status_code == 201
    assert standin.notifications_sent == [(f"{live_server.url}{SECRET_PATH}", 200)]
    with app.app_context():
        assert SessionNotification.query.one().user_id == "u-e2e"
