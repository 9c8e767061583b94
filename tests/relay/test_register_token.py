"""App1's POST /register_token against a real HTTP stand-in of Alohomora: every documented status."""

import json
from datetime import datetime

import pytest

import settings
from models import ApiInteraction
from tests.relay.conftest import token_body


def test_201_forwards_the_exact_body(client, relay_headers, new_session, standin):
    sid = new_session("app-user-1")
    resp = client.post("/register_token", headers=relay_headers, json=token_body(sid, token="tok-1"))
    assert resp.status_code == 201
    assert resp.get_json() == {"message": "Token registered successfully with alohomora",
                               "alohomora_token_id": "tok-1", "session_id": sid}
    assert standin.received == [{"system_id": "sys-1", "token": "tok-1", "workflow_id": "wf-1",
                                 "function_id": "fn-1", "user_id": "app-user-1",
                                 "token_metadata": {"expires_at": "2030-01-01T00:00:00Z",
                                                    "additional_data": {"k": "v"}}}]


def test_body_user_id_overrides_the_session_one(client, relay_headers, new_session, standin):
    sid = new_session("app-user-1")
    body = token_body(sid, user_id="someone-else")
    del body["token_metadata"]
    assert client.post("/register_token", headers=relay_headers, json=body).status_code == 201
    assert standin.received[0]["user_id"] == "someone-else"
    assert standin.received[0]["token_metadata"] == {}


@pytest.mark.parametrize("missing", ["session_id", "token", "workflow_id", "function_id", "system_id"])
def test_400_missing_field(client, relay_headers, new_session, standin, missing):
    body = token_body(new_session())
    del body[missing]
    resp = client.post("/register_token", headers=relay_headers, json=body)
    assert resp.status_code == 400
    assert resp.get_json()["error"] == f"Missing required field: {missing}"
    assert standin.received == []


def test_400_wrong_types(client, relay_headers, new_session):
    resp = client.post("/register_token", headers=relay_headers,
                       json=token_body(new_session(), token_metadata="not-an-object"))
    assert resp.status_code == 400 and resp.get_json()["error"].startswith("Invalid field token_metadata")


def test_404_unknown_or_malformed_session(client, relay_headers, standin):
    for sid in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        resp = client.post("/register_token", headers=relay_headers, json=token_body(sid))
        assert resp.status_code == 404 and resp.get_json() == {"error": "Session not found"}
    assert standin.received == []


@pytest.mark.parametrize("status, text", [
    (403, "Function not found in specified workflow or not accessible by system's group"),
    (404, "System not found"),
    (500, "Failed to record token"),
])
def test_502_for_alohomora_errors(client, relay_headers, new_session, standin, status, text):
    standin.mode = str(status)
    resp = client.post("/register_token", headers=relay_headers, json=token_body(new_session()))
    assert resp.status_code == 502
    assert resp.get_json() == {"error": "Failed to register token with alohomora", "alohomora_error": text,
                               "alohomora_status": status}


def test_502_for_alohomora_400_and_409(client, relay_headers, new_session, standin):
    sid = new_session()
    resp = client.post("/register_token", headers=relay_headers, json=token_body(sid, token="reject-400"))
    assert resp.status_code == 502 and resp.get_json()["alohomora_status"] == 400
    assert client.post("/register_token", headers=relay_headers, json=token_body(sid, token="dup")).status_code == 201
    resp = client.post("/register_token", headers=relay_headers, json=token_body(sid, token="dup"))
    assert resp.status_code == 502
    assert resp.get_json()["alohomora_error"] == "Token already exists"
    assert resp.get_json()["alohomora_status"] == 409


@pytest.mark.parametrize("mode", ["garbage", "no_token_id"])
def test_502_for_malformed_peer_replies(client, relay_headers, new_session, standin, mode):
    standin.mode = mode
    resp = client.post("/register_token", headers=relay_headers, json=token_body(new_session()))
    assert resp.status_code == 502
    body = resp.get_json()
    assert body["error"] == "Failed to register token with alohomora" and body["alohomora_status"] == 201
    assert "token_id" in body["alohomora_error"]


def test_503_on_timeout(client, relay_headers, new_session, standin):
    standin.mode, standin.delay = "slow", 2.0  # the app's timeout is 0.5 s
    resp = client.post("/register_token", headers=relay_headers, json=token_body(new_session()))
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["error"] == "Failed to connect to alohomora server"
    assert "Timeout" in body["details"]


def test_503_when_alohomora_is_down(client, relay_headers, new_session, standin):
    sid = new_session()
    standin.stop()
    resp = client.post("/register_token", headers=relay_headers, json=token_body(sid))
    assert resp.status_code == 503
    assert resp.get_json()["error"] == "Failed to connect to alohomora server"
    assert "ConnectionError" in resp.get_json()["details"]


def test_every_call_is_logged_without_the_token(client, db, relay_headers, admin_headers, new_session, standin):
    sid = new_session()
    secret_token = "very-secret-token-value-42"
    assert client.post("/register_token", headers=relay_headers,
                       json=token_body(sid, token=secret_token)).status_code == 201
    standin.mode = "404"
    assert client.post("/register_token", headers=relay_headers, json=token_body(sid, token="t-2")).status_code == 502
    standin.mode, standin.delay = "slow", 2.0
    assert client.post("/register_token", headers=relay_headers, json=token_body(sid, token="t-3")).status_code == 503

    resp = client.get("/api/admin/relay/interactions", headers=admin_headers)
    assert resp.status_code == 200
    rows = resp.get_json()["data"]
    assert [(r["method"], r["url"], r["status"]) for r in rows] == [
        ("POST", f"{standin.url}/record_token", None),
        ("POST", f"{standin.url}/record_token", 404),
        ("POST", f"{standin.url}/record_token", 201),
    ]
    assert rows[0]["error"].startswith("ReadTimeout") and rows[1]["error"] == "System not found"
    assert rows[2]["error"] is None and all(r["latency_ms"] >= 0 for r in rows)
    assert secret_token not in resp.get_data(as_text=True)
    assert all(secret_token not in (r.error or "") + r.url for r in ApiInteraction.query.all())


def test_token_echoed_by_a_peer_error_is_scrubbed_from_the_log(client, relay_headers, new_session, standin):
    standin.record_token = lambda data: (500, {"error": f"could not store {data['token']}"})
    client.post("/register_token", headers=relay_headers, json=token_body(new_session(), token="leaky-token"))
    assert ApiInteraction.query.one().error == "could not store ***"


def test_interaction_log_is_admin_only(client, alice_headers):
    resp = client.get("/api/admin/relay/interactions", headers=alice_headers)
    assert resp.status_code == 403 and resp.get_json()["message"] == "Admin privileges required"


def test_interaction_log_keeps_30_days(client, relay_headers, new_session, standin):
    import jobs
    from services import clock

    clock.freeze(datetime(2026, 10, 1))
    sid = new_session()
    client.post("/register_token", headers=relay_headers, json=token_body(sid, token="old"))
    clock.freeze(datetime(2026, 10, 1, 0, 30))
    client.post("/register_token", headers=relay_headers, json=token_body(sid, token="newer"))
    clock.freeze(datetime(2026, 10, 31, 0, 10))
    assert jobs.execute("purge_api_interactions") == 1
    assert ApiInteraction.query.count() == 1


def test_base_url_from_config_json_and_env_override(make_app, standin, tmp_path, monkeypatch):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"alohomora": {"base_url": standin.url, "timeout": 2},
                                  "app": {"host": "0.0.0.0", "port": 8001, "debug": False}}))
    app = make_app({"config_json": str(config)})
    with app.app_context():
        assert (settings.static("alohomora.base_url"), settings.static("alohomora.timeout")) == (standin.url, 2.0)
    monkeypatch.setenv("ALOHOMORA_BASE_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("ALOHOMORA_TIMEOUT", "0.25")
    app = make_app({"config_json": str(config)})
    with app.app_context():
        assert (settings.static("alohomora.base_url"), settings.static("alohomora.timeout")) == (
            "http://127.0.0.1:1", 0.25)
