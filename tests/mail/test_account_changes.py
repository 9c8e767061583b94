"""The Asset Lock Manager's e-mail and password changes, confirmed through links mailed by a real SMTP server."""

from datetime import datetime, timedelta

import pytest

from models import AccountChange, User
from services import account_changes, clock
from tests.conftest import PASSWORD
from tests.mail.conftest import FRONTEND, outbox, settle


def login(client, username: str, password: str) -> int:
    return client.post("/api/login", json={"username": username, "password": password}).status_code


def test_email_change_end_to_end(client, db, smtp, alice, alice_headers):
    resp = client.put("/api/users/me/email", headers=alice_headers,
                      json={"password": PASSWORD, "new_email": "Alice.New@Example.com"})
    assert resp.status_code == 202
    body = resp.get_json()
    assert body["status"] == "success"
    assert body["data"]["pending"] is True and body["data"]["sent_to"] == "alice.new@example.com"
    assert body["data"]["expires_at"].endswith("Z")
    settle()

    confirm = smtp.to("alice.new@example.com")
    assert len(confirm) == 1 and confirm[0].subject == "Confirm your new e-mail address"
    assert confirm[0].sender == "concierge@example.com"
    assert f"{FRONTEND}/confirm-email/" in confirm[0].text and f"{FRONTEND}/confirm-email/" in confirm[0].html
    token = confirm[0].link("confirm-email")
    notice = smtp.to("alice@example.com")
    assert len(notice) == 1 and "alice.new@example.com" in notice[0].text and "/confirm-email/" not in notice[0].text
    # the token is stored hashed only
    change = db.session.query(AccountChange).one()
    assert change.token_hash == account_changes.hash_token(token) and token not in change.token_hash

    # unchanged until confirmed: the old token still works and shows the old address
    me = client.get("/api/currentuser", headers=alice_headers)
    assert me.status_code == 200 and me.get_json()["data"]["email"] == "alice@example.com"

    done = client.get(f"/api/confirm-email/{token}")
    assert done.status_code == 200
    assert done.get_json()["data"]["user"]["email"] == "alice.new@example.com"
    db.session.expire_all()
    assert db.session.get(User, alice.id).email == "alice.new@example.com"
    assert client.get("/api/currentuser", headers=alice_headers).status_code == 401  # email change revokes

    again = client.get(f"/api/confirm-email/{token}")
    assert again.status_code == 409 and again.get_json()["message"] == "This confirmation link has already been used"
    assert {m.status for m in outbox()} == {"sent"}


def test_expired_email_link_is_refused(client, db, smtp, alice, alice_headers):
    clock.freeze(datetime(2026, 3, 1, 12, 0, 0))
    resp = client.put("/api/users/me/email", headers=alice_headers,
                      json={"password": PASSWORD, "new_email": "late@example.com"})
    assert resp.status_code == 202 and resp.get_json()["data"]["expires_at"] == "2026-03-02T12:00:00.000Z"
    settle()
    token = smtp.to("late@example.com")[0].link("confirm-email")
    clock.advance(timedelta(hours=24))
    resp = client.get(f"/api/confirm-email/{token}")
    assert resp.status_code == 410 and resp.get_json()["message"] == "This confirmation link has expired"
    db.session.expire_all()
    assert db.session.get(User, alice.id).email == "alice@example.com"


@pytest.mark.parametrize("mail_settings", [{"mail.confirmation_hours": 2}])
def test_expiry_follows_the_setting(client, smtp, alice, alice_headers):
    clock.freeze(datetime(2026, 3, 1, 12, 0, 0))
    resp = client.put("/api/users/me/email", headers=alice_headers,
                      json={"password": PASSWORD, "new_email": "soon@example.com"})
    assert resp.get_json()["data"]["expires_at"] == "2026-03-01T14:00:00.000Z"
    settle()
    token = smtp.to("soon@example.com")[0].link("confirm-email")
    clock.advance(timedelta(hours=1, minutes=59))
    assert client.get(f"/api/confirm-email/{token}").status_code == 200


def test_newer_request_voids_the_older_and_tokens_are_bound_to_their_kind(client, db, smtp, alice, alice_headers):
    for address in ("first@example.com", "second@example.com"):
        resp = client.put("/api/users/me/email", headers=alice_headers,
                          json={"password": PASSWORD, "new_email": address})
        assert resp.status_code == 202
    settle()
    first = smtp.to("first@example.com")[0].link("confirm-email")
    second = smtp.to("second@example.com")[0].link("confirm-email")
    resp = client.get(f"/api/confirm-email/{first}")
    assert resp.status_code == 400 and resp.get_json()["message"] == "Invalid confirmation link"
    assert client.get(f"/api/confirm-password/{second}").status_code == 400  # an email token is no password token
    assert client.get(f"/api/confirm-email/{second}").status_code == 200
    db.session.expire_all()
    assert db.session.get(User, alice.id).email == "second@example.com"
    assert client.get("/api/confirm-email/not-a-token").status_code == 400


def test_password_change_flow(client, db, smtp, alice, alice_headers):
    resp = client.put("/api/users/me/password", headers=alice_headers,
                      json={"current_password": PASSWORD, "new_password": "a-brand-new-secret"})
    assert resp.status_code == 202
    assert resp.get_json()["data"] == {"pending": True, "kind": "password", "sent_to": "alice@example.com",
                                       "expires_at": resp.get_json()["data"]["expires_at"]}
    settle()
    sent = smtp.to("alice@example.com")
    assert len(sent) == 1 and sent[0].subject == "Confirm your new password"
    token = sent[0].link("confirm-password")
    assert f"{FRONTEND}/confirm-password/{token}" in sent[0].html
    # the plaintext is never stored: only an argon2 hash of it
    change = db.session.query(AccountChange).one()
    assert change.new_password_hash.startswith("$argon2id$") and "a-brand-new-secret" not in change.new_password_hash

    # nothing changes before the link is opened
    assert login(client, "alice", PASSWORD) == 200
    assert login(client, "alice", "a-brand-new-secret") == 401
    assert client.get("/api/currentuser", headers=alice_headers).status_code == 200

    done = client.get(f"/api/confirm-password/{token}")
    assert done.status_code == 200 and done.get_json()["message"] == "Password updated"
    assert login(client, "alice", PASSWORD) == 401
    assert login(client, "alice", "a-brand-new-secret") == 200
    assert client.get("/api/currentuser", headers=alice_headers).status_code == 401  # older tokens revoked
    assert client.get(f"/api/confirm-password/{token}").status_code == 409


def test_wrong_password_is_refused_and_nothing_is_mailed(client, smtp, alice, alice_headers):
    resp = client.put("/api/users/me/password", headers=alice_headers,
                      json={"current_password": "wrong-password", "new_password": "a-brand-new-secret"})
    assert resp.status_code == 403 and resp.get_json()["message"] == "Current password is incorrect"
    resp = client.put("/api/users/me/email", headers=alice_headers,
                      json={"password": "wrong-password", "new_email": "x@example.com"})
    assert resp.status_code == 403 and resp.get_json()["message"] == "Password is incorrect"
    settle()
    assert smtp.messages == [] and outbox() == []


def test_email_change_validation(client, factory, alice, alice_headers):
    factory.user("bob")
    taken = client.put("/api/users/me/email", headers=alice_headers, json={"password": PASSWORD,
                                                                          "new_email": "BOB@example.com"})
    assert taken.status_code == 409 and taken.get_json()["details"] == {"field": "email"}
    same = client.put("/api/users/me/email", headers=alice_headers, json={"password": PASSWORD,
                                                                         "new_email": "alice@example.com"})
    assert same.status_code == 400
    bad = client.put("/api/users/me/email", headers=alice_headers, json={"password": PASSWORD, "new_email": "nope"})
    assert bad.status_code == 422 and bad.get_json()["details"][0]["loc"] == ["new_email"]
    short = client.put("/api/users/me/password", headers=alice_headers,
                       json={"current_password": PASSWORD, "new_password": "short"})
    assert short.status_code == 422
    assert client.put("/api/users/me/password", json={"current_password": PASSWORD,
                                                      "new_password": "long-enough"}).status_code == 401


def test_address_taken_before_confirmation_keeps_the_link_unused(client, db, smtp, factory, alice, alice_headers):
    assert client.put("/api/users/me/email", headers=alice_headers,
                      json={"password": PASSWORD, "new_email": "wanted@example.com"}).status_code == 202
    settle()
    token = smtp.to("wanted@example.com")[0].link("confirm-email")
    factory.user("carol", email="wanted@example.com")
    resp = client.get(f"/api/confirm-email/{token}")
    assert resp.status_code == 409
    db.session.expire_all()
    assert db.session.query(AccountChange).one().used_at is None


@pytest.mark.parametrize("mail_settings", [{"mail.enabled": False}])
def test_mail_disabled_applies_changes_at_once(client, db, smtp, alice, alice_headers):
    resp = client.put("/api/users/me/email", headers=alice_headers,
                      json={"password": PASSWORD, "new_email": "now@example.com"})
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert data["pending"] is False and data["user"]["email"] == "now@example.com"
    new_headers = {"Authorization": f"Bearer {data['access_token']}"}
    assert client.get("/api/currentuser", headers=alice_headers).status_code == 401
    assert client.get("/api/currentuser", headers=new_headers).status_code == 200

    resp = client.put("/api/users/me/password", headers=new_headers,
                      json={"current_password": PASSWORD, "new_password": "changed-at-once"})
    assert resp.status_code == 200 and resp.get_json()["data"]["pending"] is False
    assert login(client, "alice", "changed-at-once") == 200
    assert client.get("/api/currentuser", headers=new_headers).status_code == 401
    settle()
    assert smtp.messages == [] and outbox() == [] and db.session.query(AccountChange).count() == 0


def test_db_override_turns_confirmations_off(client, smtp, admin_headers, alice, alice_headers):
    resp = client.put("/api/admin/config", headers=admin_headers, json={"mail.enabled": False})
    assert resp.status_code == 200
    assert client.get("/api/config/status", headers=alice_headers).get_json()["data"] == {"mail_enabled": False}
    resp = client.put("/api/users/me/email", headers=alice_headers,
                      json={"password": PASSWORD, "new_email": "direct@example.com"})
    assert resp.status_code == 200 and resp.get_json()["data"]["user"]["email"] == "direct@example.com"
    settle()
    assert smtp.messages == []


def test_a_later_account_change_voids_pending_links(client, db, smtp, admin_headers, alice, alice_headers):
    # someone with alice's session asks for a new address; alice reacts by changing her password
    assert client.put("/api/users/me/email", headers=alice_headers,
                      json={"password": PASSWORD, "new_email": "thief@example.com"}).status_code == 202
    assert client.put("/api/users/me/password", headers=alice_headers,
                      json={"current_password": PASSWORD, "new_password": "a-brand-new-secret"}).status_code == 202
    settle()
    email_token = smtp.to("thief@example.com")[0].link("confirm-email")
    password_token = [m for m in smtp.to("alice@example.com") if "confirm-password" in m.text][0].link(
        "confirm-password")
    assert client.get(f"/api/confirm-password/{password_token}").status_code == 200
    resp = client.get(f"/api/confirm-email/{email_token}")
    assert resp.status_code == 410
    assert resp.get_json()["message"] == "This confirmation link was voided by a later change to the account"
    db.session.expire_all()
    assert db.session.get(User, alice.id).email == "alice@example.com"


def test_admin_reset_voids_a_pending_password_change(client, smtp, admin_headers, alice, alice_headers):
    assert client.put("/api/users/me/password", headers=alice_headers,
                      json={"current_password": PASSWORD, "new_password": "a-brand-new-secret"}).status_code == 202
    settle()
    token = smtp.to("alice@example.com")[0].link("confirm-password")
    assert client.put(f"/api/admin/users/{alice.id}/password", headers=admin_headers,
                      json={"password": "set-by-the-admin"}).status_code == 200
    assert client.get(f"/api/confirm-password/{token}").status_code == 410
    assert login(client, "alice", "set-by-the-admin") == 200


@pytest.mark.parametrize("mail_settings", [{"ratelimit.login": "2 per minute"}])
def test_password_checks_are_rate_limited(client, alice, alice_headers):
    codes = [client.put("/api/users/me/password", headers=alice_headers,
                        json={"current_password": f"guess-{i}", "new_password": "a-brand-new-secret"}).status_code
             for i in range(3)]
    assert codes == [403, 403, 429]
