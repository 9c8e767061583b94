"""Who may call the relay: JWT, relay key, open endpoints; notifications by secret path or source address."""

from services import configuration
from tests.relay.conftest import SECRET, notification, token_body


def test_new_session_needs_credentials_by_default(client):
    resp = client.post("/new_session", json={"user_id": "u"})
    assert resp.status_code == 401
    assert resp.get_json() == {"error": "Missing credentials"}


def test_key_without_relay_scope_is_403(client, factory):
    resp = client.post("/new_session", headers={"X-API-Key": factory.api_key(["track:write"])}, json={"user_id": "u"})
    assert resp.status_code == 403 and resp.get_json()["error"] == "API key lacks the required scope"


def test_relay_key_acts_for_anyone(client, relay_headers):
    assert client.post("/new_session", headers=relay_headers, json={"user_id": "anyone"}).status_code == 201


def test_jwt_account_acts_only_for_itself(client, alice_headers, standin):
    resp = client.post("/new_session", headers=alice_headers, json={"user_id": "bob"})
    assert resp.status_code == 403 and "own username" in resp.get_json()["error"]
    sid = client.post("/new_session", headers=alice_headers, json={"user_id": "alice"}).get_json()["session_id"]
    assert client.post("/register_token", headers=alice_headers, json=token_body(sid)).status_code == 201
    resp = client.post("/register_token", headers=alice_headers, json=token_body(sid, token="t2", user_id="bob"))
    assert resp.status_code == 403


def test_jwt_cannot_use_another_users_session(client, relay_headers, factory, alice_headers, standin):
    sid = client.post("/new_session", headers=relay_headers, json={"user_id": "bob"}).get_json()["session_id"]
    resp = client.post("/register_token", headers=alice_headers, json=token_body(sid))
    assert resp.status_code == 403
    assert standin.received == []


def test_admin_jwt_acts_for_anyone(client, admin_headers):
    assert client.post("/new_session", headers=admin_headers, json={"user_id": "whoever"}).status_code == 201


def test_open_endpoints_serve_app1_as_is(client, standin):
    configuration.set_overrides({"alohomora.open_endpoints": True}, "test")
    resp = client.post("/new_session", json={"user_id": "u"})
    assert resp.status_code == 201
    sid = resp.get_json()["session_id"]
    assert client.post("/register_token", json=token_body(sid)).status_code == 201
    assert client.post("/receive_session_notification", json=notification("t-open")).status_code == 200


def test_open_endpoints_env_variable(make_app, monkeypatch):
    monkeypatch.setenv("ALOHOMORA_OPEN_ENDPOINTS", "true")
    app = make_app()
    with app.app_context():
        resp = app.test_client().post("/new_session", json={"user_id": "u"})
    assert resp.status_code == 201


def test_plain_notification_path_refused_by_default(client):
    resp = client.post("/receive_session_notification", json=notification())
    assert resp.status_code == 403
    assert resp.get_json()["error"].startswith("Notifications are accepted on the secret callback path")


def test_plain_notification_path_from_configured_source(client, static_setting):
    static_setting("alohomora.notification_sources", ["10.0.0.0/8", "192.0.2.7"])
    resp = client.post("/receive_session_notification", json=notification("t-1"),
                       environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert resp.status_code == 200
    resp = client.post("/receive_session_notification", json=notification("t-2"),
                       environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert resp.status_code == 200
    resp = client.post("/receive_session_notification", json=notification("t-3"),
                       environ_base={"REMOTE_ADDR": "192.0.2.8"})
    assert resp.status_code == 403


def test_wrong_secret_is_404_before_the_body_is_read(client):
    resp = client.post("/relay/wrong-secret/receive_session_notification", json={"nonsense": True})
    assert resp.status_code == 404 and resp.get_json() == {"error": "Not Found"}
    assert client.post(f"/relay/{SECRET}/receive_session_notification", json=notification()).status_code == 200


def test_generated_secret_is_kept_in_the_instance_folder(make_app, runner):
    from pathlib import Path

    from services import alohomora

    app = make_app({"alohomora.notification_secret": ""})
    with app.app_context():
        secret = alohomora.notification_secret()
        assert len(secret) >= 32 and alohomora.notification_secret() == secret
        assert (Path(app.instance_path) / "alohomora_notification_secret").read_text().strip() == secret
        resp = app.test_client().post(f"/relay/{secret}/receive_session_notification", json=notification())
        assert resp.status_code == 200
