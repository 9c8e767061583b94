"""Login, tokens, revocation and seed 003's token endpoints."""

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


def test_validate_token_seed_003_shape(client, alice):
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


# --------------------------------------------------- tokens this process verified before (services/tokens.py)
# The signature check is remembered per Authorization header; everything that can change afterwards must
# still be checked on every request. Each test uses the token once first, so the second use takes the
# remembered path, and asserts that it did.

def remembered(app, token: str) -> bool:
    return f"Bearer {token}" in app.extensions.get("concierge.verified_tokens", {})


def test_remembered_token_still_expires(app, client, alice):
    from flask_jwt_extended import create_access_token, decode_token

    token = create_access_token(identity=str(alice.id), additional_claims={"tv": alice.token_version},
                                expires_delta=timedelta(seconds=2))
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/currentuser", headers=bearer).status_code == 200
    assert remembered(app, token)
    time.sleep(max(0.0, decode_token(token)["exp"] - time.time()) + 0.05)
    resp = client.get("/api/currentuser", headers=bearer)
    assert resp.status_code == 401 and resp.get_json()["message"] == "Token has expired"


def test_remembered_token_is_revoked_by_logout(app, client, alice):
    token = login(client).get_json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/currentuser", headers=bearer).status_code == 200
    assert remembered(app, token)
    assert client.post("/api/logout", json={}, headers=bearer).status_code == 200
    resp = client.get("/api/currentuser", headers=bearer)
    assert resp.status_code == 401 and resp.get_json()["message"] == "Token has been revoked"


def test_remembered_token_dies_with_a_password_change_and_with_its_user(app, client, alice, bob, admin_headers):
    alice_token, bob_token = login(client).get_json()["access_token"], login(client, "bob").get_json()["access_token"]
    for token in (alice_token, bob_token):
        assert client.get("/api/currentuser", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert remembered(app, token)
    changed = client.put(f"/api/admin/users/{alice.id}/password", json={"password": "a-brand-new-password"},
                         headers=admin_headers)
    assert changed.status_code == 200, changed.get_json()
    assert client.get("/api/currentuser", headers={"Authorization": f"Bearer {alice_token}"}).status_code == 401
    assert client.delete(f"/api/admin/users/{bob.id}", headers=admin_headers).status_code == 200
    assert client.get("/api/currentuser", headers={"Authorization": f"Bearer {bob_token}"}).status_code == 401


def test_remembered_verifications_are_bounded(app, client, factory, alice, monkeypatch):
    from services import tokens

    monkeypatch.setattr(tokens, "VERIFIED_MEMO_SIZE", 3)
    issued = [factory.token(alice) for _ in range(7)]
    for token in issued:
        assert client.get("/api/currentuser", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert remembered(app, token)
        assert len(app.extensions["concierge.verified_tokens"]) <= 3


# The token check (its user's row, its jti revoked?) is trusted per process for jwt.recheck_seconds. Two
# apps on one database stand for two gunicorn workers: a change made through one applies there at once,
# and in the other once its check is that old.

def _two_workers(make_app, recheck_seconds: float):
    """Two workers' test clients, and alice's token logged in through the first."""
    first, second = (make_app({"jwt.recheck_seconds": recheck_seconds}) for _ in range(2))
    mine, other = first.test_client(), second.test_client()
    with first.app_context():
        Factory(first).user("alice")
    return mine, other, {"Authorization": f"Bearer {login(mine).get_json()['access_token']}"}


def test_a_logout_applies_in_its_own_worker_at_once_and_in_others_within_recheck_seconds(make_app):
    mine, other, bearer = _two_workers(make_app, 0.5)
    assert other.get("/api/currentuser", headers=bearer).status_code == 200  # checked, trusted for 0.5 s
    assert mine.get("/api/currentuser", headers=bearer).status_code == 200
    assert mine.post("/api/logout", json={}, headers=bearer).status_code == 200
    assert mine.get("/api/currentuser", headers=bearer).status_code == 401
    assert other.get("/api/currentuser", headers=bearer).status_code == 200  # the documented window
    time.sleep(0.55)
    resp = other.get("/api/currentuser", headers=bearer)
    assert resp.status_code == 401 and resp.get_json()["message"] == "Token has been revoked"


def test_with_recheck_zero_every_request_checks_the_database(make_app):
    mine, other, bearer = _two_workers(make_app, 0)
    assert other.get("/api/currentuser", headers=bearer).status_code == 200
    assert mine.post("/api/logout", json={}, headers=bearer).status_code == 200
    assert other.get("/api/currentuser", headers=bearer).status_code == 401


def test_bulk_account_changes_through_the_session_are_seen_at_once(app, client, alice, alice_headers):
    from sqlalchemy import update

    from extensions import db
    from models import User

    assert client.get("/api/currentuser", headers=alice_headers).status_code == 200
    db.session.execute(update(User).where(User.id == alice.id).values(token_version=User.token_version + 1))
    db.session.commit()
    assert client.get("/api/currentuser", headers=alice_headers).status_code == 401


def test_a_rolled_back_change_forgets_nothing(app, client, alice, alice_headers):
    from extensions import db
    from services import tokens

    assert client.get("/api/currentuser", headers=alice_headers).status_code == 200
    generation = tokens._token_checks().generation
    alice.display_name = "Not Saved"
    db.session.flush()
    db.session.rollback()
    db.session.commit()
    assert tokens._token_checks().generation == generation


def test_token_checks_are_bounded_and_not_stored_across_a_forget(app, factory, monkeypatch):
    from services import tokens

    monkeypatch.setattr(tokens.TokenChecks, "SIZE", 2)
    users = [factory.user() for _ in range(5)]
    checks = tokens._token_checks()
    for user in users:
        assert tokens._token_check(user.id, None)[0]["username"] == user.username
        assert len(checks.entries) <= 2
    read = tokens._read_token_check

    def read_while_an_account_changes(user_id, jti):
        found = read(user_id, jti)
        tokens.forget_token_checks()  # another thread committed a change meanwhile
        return found

    monkeypatch.setattr(tokens, "_read_token_check", read_while_an_account_changes)
    tokens._token_check(users[0].id, "some-jti")
    assert (users[0].id, "some-jti") not in checks.entries


def test_every_limit_is_declared_with_rate_limit(app):
    """Flask-Limiter's own checks skip every request (extensions._checked_by_rate_limit), so a view decorated
    with limiter.limit directly (not extensions.rate_limit) would silently have no limit."""
    from extensions import RATE_LIMITED_VIEWS, limiter

    assert not limiter.limit_manager._decorated_limits  # Flask-Limiter's own registry
    assert {"blueprints.auth.login.login", "blueprints.pages.track.track"} <= RATE_LIMITED_VIEWS


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
