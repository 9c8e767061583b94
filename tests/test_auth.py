"""Login, tokens, revocation and the Session Server API's token endpoints."""

import time
from datetime import timedelta

import pytest

from tests.conftest import PASSWORD, Factory, reset_rate_limits


def login(client, username="alice", password=PASSWORD, **extra):
    return client.post("/api/login", json={"username": username, "password": password, **extra})


def test_login_returns_access_and_refresh_tokens(client, alice):
    resp = login(client, app="my_app")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "success"
    assert body["access_token"] and body["refresh_token"]
    assert body["data"]["user"]["username"] == "alice"
    assert body["data"]["expires_in"] == 3600


def test_login_is_case_insensitive_on_username(client, alice):
    assert login(client, username="ALICE").status_code == 200


def test_unknown_user_and_wrong_password_get_the_same_401(client, alice):
    wrong = login(client, password="not the password")
    unknown = login(client, username="nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json()["message"] == unknown.get_json()["message"] == "Invalid username or password"


def test_login_validation_errors_are_422_with_fields(client):
    resp = client.post("/api/login", json={"username": "alice"})
    assert resp.status_code == 422
    assert resp.get_json()["details"][0]["loc"] == ["password"]


def test_currentuser(client, alice, alice_headers):
    resp = client.get("/api/currentuser", headers=alice_headers)
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert data["username"] == "alice" and data["is_admin"] is False and data["id"] == str(alice.id)


def test_missing_garbage_and_wrong_scheme_tokens_are_401(client, alice):
    missing = client.get("/api/currentuser")
    garbage = client.get("/api/currentuser", headers={"Authorization": "Bearer not.a.jwt"})
    assert missing.status_code == garbage.status_code == 401
    assert missing.get_json()["status"] == "error"
    assert missing.headers["WWW-Authenticate"] == "Bearer"


def test_token_signed_with_another_secret_is_401(client, alice, make_app):
    other = make_app({"jwt.secret_key": "another-secret-" + "y" * 40})
    with other.app_context():
        from services import tokens

        forged = tokens.issue_tokens(alice)["access_token"]
    resp = client.get("/api/currentuser", headers={"Authorization": f"Bearer {forged}"})
    assert resp.status_code == 401


def test_expired_token_is_401(client, alice, factory):
    from flask_jwt_extended import create_access_token

    stale = create_access_token(identity=str(alice.id), additional_claims={"tv": alice.token_version},
                                expires_delta=timedelta(seconds=-5))
    resp = client.get("/api/currentuser", headers={"Authorization": f"Bearer {stale}"})
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "Token has expired"
    assert client.get("/api/currentuser", headers=factory.headers(alice)).status_code == 200


def test_jwt_expiry_follows_runtime_settings(client, alice, admin_headers):
    client.put("/api/admin/config", json={"jwt.expiry.minutes": 0}, headers=admin_headers)
    body = login(client).get_json()
    assert body["expires_in"] is None
    info = client.post("/api/auth/token-info", json={}, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.get_json()["data"]["exp"] is None
    client.put("/api/admin/config", json={"jwt.expiry.minutes": 5}, headers=admin_headers)
    assert login(client).get_json()["expires_in"] == 300


def test_refresh_issues_a_new_access_token(client, alice):
    tokens = login(client).get_json()
    resp = client.post("/api/token/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    assert resp.status_code == 200
    new = resp.get_json()["access_token"]
    assert client.get("/api/currentuser", headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_access_token_cannot_refresh(client, alice):
    tokens = login(client).get_json()
    resp = client.post("/api/token/refresh", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert resp.status_code == 401


def test_logout_revokes_access_and_refresh_tokens(client, alice):
    tokens = login(client).get_json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    resp = client.post("/api/logout", json={"refresh_token": tokens["refresh_token"]}, headers=bearer)
    assert resp.status_code == 200
    again = client.get("/api/currentuser", headers=bearer)
    assert again.status_code == 401 and again.get_json()["message"] == "Token has been revoked"
    refresh = client.post("/api/token/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    assert refresh.status_code == 401


def test_logout_everywhere_revokes_other_sessions(client, alice):
    first = login(client).get_json()["access_token"]
    second = login(client).get_json()["access_token"]
    client.post("/api/logout", json={"everywhere": True}, headers={"Authorization": f"Bearer {first}"})
    assert client.get("/api/currentuser", headers={"Authorization": f"Bearer {second}"}).status_code == 401


def test_validate_token_session_server_shape(client, alice):
    token = login(client, app="my_app").get_json()["access_token"]
    resp = client.post("/api/auth/validate-token", json={"app": "my_app"},
                       headers={"Authorization": f"Bearer {token}"})
    body = resp.get_json()
    assert resp.status_code == 200
    assert body["status"] == "success" and body["message"] == "Token is valid"
    assert body["data"]["user"] == "alice" and body["data"]["app"] == "my_app"
    assert body["data"]["token_info"]["sub"] == str(alice.id)


def test_token_info_has_sub_exp_app(client, alice):
    token = login(client, app="my_app").get_json()["access_token"]
    resp = client.post("/api/auth/token-info", json={"app": "my_app"}, headers={"Authorization": f"Bearer {token}"})
    body = resp.get_json()
    assert body["message"] == "Token information retrieved"
    assert body["data"]["sub"] == str(alice.id)
    assert body["data"]["app"] == "my_app"
    assert isinstance(body["data"]["exp"], int)


def test_auth_health_is_public(client):
    resp = client.post("/api/auth/health", json={"app": "my_app"})
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "success", "message": "Authentication service is healthy"}


def test_login_rate_limit_returns_429(make_app):
    app = make_app({"ratelimit.login": "3 per minute"})
    client = app.test_client()
    with app.app_context():
        reset_rate_limits(app)
    codes = [client.post("/api/login", json={"username": "mallory", "password": "guess-1234"}).status_code
             for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    resp = client.post("/api/login", json={"username": "mallory", "password": "guess-1234"})
    assert resp.get_json()["status"] == "error"
    assert "Retry-After" in resp.headers


# ------------------------------------------------------------------ immediate revocation
# Two apps on one database stand for two gunicorn workers: a logout, password change, demotion or deletion
# made through one applies on the very next request in the other (one indexed query per request).

def _two_workers(make_app):
    """Two workers' test clients, and alice's token logged in through the first."""
    first, second = make_app(), make_app()
    mine, other = first.test_client(), second.test_client()
    with first.app_context():
        Factory(first).user("alice")
    return mine, other, {"Authorization": f"Bearer {login(mine).get_json()['access_token']}"}


def test_a_logout_applies_in_every_worker_on_the_next_request(make_app):
    mine, other, bearer = _two_workers(make_app)
    assert other.get("/api/currentuser", headers=bearer).status_code == 200
    assert mine.post("/api/logout", json={}, headers=bearer).status_code == 200
    resp = other.get("/api/currentuser", headers=bearer)
    assert resp.status_code == 401 and resp.get_json()["message"] == "Token has been revoked"


def test_a_password_change_demotion_and_deletion_apply_in_every_worker(make_app):
    from models import User

    mine, other, bearer = _two_workers(make_app)
    admin_app = mine.application
    with admin_app.app_context():
        factory = Factory(admin_app)
        admin = factory.user("root", is_admin=True)
        bob = factory.user("bob", is_admin=True)
        admin_bearer, bob_bearer = factory.headers(admin), factory.headers(bob)
        alice_id = str(User.query.filter_by(username="alice").one().id)
    assert other.get("/api/admin/users", headers=bob_bearer).status_code == 200
    demoted = mine.put(f"/api/admin/users/{bob.id}/status", json={"is_admin": False}, headers=admin_bearer)
    assert demoted.status_code == 200, demoted.get_json()
    assert other.get("/api/admin/users", headers=bob_bearer).status_code == 401  # its token carried is_admin
    changed = mine.put(f"/api/admin/users/{alice_id}/password", json={"password": "a-brand-new-password"},
                       headers=admin_bearer)
    assert changed.status_code == 200, changed.get_json()
    assert other.get("/api/currentuser", headers=bearer).status_code == 401
    assert mine.delete(f"/api/admin/users/{bob.id}", headers=admin_bearer).status_code == 200
    assert other.get("/api/currentuser", headers=bob_bearer).status_code == 401


def test_each_authenticated_request_reads_its_account_in_one_query(app, client, alice_headers):
    from sqlalchemy import event

    from extensions import db

    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        for _ in range(3):
            assert client.get("/api/currentuser", headers=alice_headers).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len([s for s in statements if "FROM users" in s]) == 3  # no memo: every request asks
    assert all("revoked_tokens" in s for s in statements if "FROM users" in s)  # user and jti together


def test_expired_token_is_refused(app, client, alice):
    from flask_jwt_extended import create_access_token

    token = create_access_token(identity=str(alice.id), additional_claims={"tv": alice.token_version},
                                expires_delta=timedelta(seconds=-1))
    resp = client.get("/api/currentuser", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401 and resp.get_json()["message"] == "Token has expired"


def test_429_says_when_to_retry(make_app):
    app = make_app({"ratelimit.public": "2 per minute"})
    client = app.test_client()
    with app.app_context():
        reset_rate_limits(app)
    codes = [client.post("/api/auth/health", json={"app": "a"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    resp = client.post("/api/auth/health", json={"app": "a"})
    assert resp.status_code == 429
    body = resp.get_json()
    assert (body["status"], body["message"]) == ("error", "Too many requests: limit is 2 per 1 minute")
    assert 55 <= int(resp.headers["Retry-After"]) <= 60
    assert resp.headers["X-RateLimit-Limit"] == "2" and resp.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(resp.headers["X-RateLimit-Reset"]) - time.time() <= 61
    # another client (address) has its own count
    other = client.post("/api/auth/health", json={"app": "a"}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200


def test_requests_carry_no_session_cookie(client, alice_headers):
    """No Flask session: neither read nor written (JWTs and API keys carry identity)."""
    resp = client.get("/api/currentuser", headers={**alice_headers, "Cookie": "session=forged.value"})
    assert resp.status_code == 200
    assert "Set-Cookie" not in resp.headers
    with client.application.test_request_context("/"):
        from flask import session

        with pytest.raises(RuntimeError):
            session["anything"] = 1  # a NullSession refuses writes
