"""One rule for e-mail addresses (issue 17): a syntactically valid address is accepted, private-network names
included (`.local` Active Directory domains, `.test`, dotless intranet hosts); the confirmation mail proves it
works. The same rule for the admin API, self-service changes, the CLI and the initial admin."""

import pytest

from errors import ApiError
from models import User
from services import accounts
from tests.conftest import PASSWORD

PRIVATE = ["alice@studio.local", "x@example.test", "ops@fileserver", "Bob.Smith@Corp.Studio.LOCAL", "a@home.arpa",
           "build@[10.0.0.7]", "dev@localhost"]
INVALID = ["nope", "a b@c.d", "a@", "@studio.local", "a@b..local", "a@-x.local", ("x" * 65) + "@a.local",
           "a@" + ".".join(["abcdefghij" * 6] * 5), "alice@studio.local\nBcc: x@y.z", "\u00e9@"]


def new_user(client, headers, email, username="carol"):
    return client.post("/api/admin/users", headers=headers,
                       json={"username": username, "email": email, "password": PASSWORD})


@pytest.mark.parametrize("email", PRIVATE)
def test_private_network_addresses_are_accepted(email, client, admin_headers):
    resp = new_user(client, admin_headers, email)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["data"]["email"] == email.lower()


@pytest.mark.parametrize("email", INVALID)
def test_invalid_addresses_are_422_and_nothing_is_stored(email, client, db, admin_headers):
    resp = new_user(client, admin_headers, email)
    assert resp.status_code == 422, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "error" and body["details"][0]["loc"] == ["email"]
    assert db.session.query(User).filter_by(username="carol").count() == 0


@pytest.mark.parametrize("email", PRIVATE[:3])
def test_admin_and_self_service_changes_take_private_addresses(email, client, db, admin_headers, alice,
                                                               alice_headers):
    resp = client.put(f"/api/admin/users/{alice.id}/email", headers=admin_headers, json={"email": email})
    assert resp.status_code == 200 and resp.get_json()["data"]["email"] == email
    login = client.post("/api/login", json={"username": "alice", "password": PASSWORD})
    fresh = {"Authorization": f"Bearer {login.get_json()['access_token']}"}  # the change revoked the old token
    other = email.replace("@", ".2@")
    resp = client.put("/api/users/me/email", headers=fresh, json={"password": PASSWORD, "new_email": other})
    assert resp.status_code == 200, resp.get_json()  # mail is off: applied at once
    assert resp.get_json()["data"]["user"]["email"] == other


def test_self_service_refuses_an_invalid_address(client, alice_headers):
    resp = client.put("/api/users/me/email", headers=alice_headers, json={"password": PASSWORD, "new_email": "a b@c"})
    assert resp.status_code == 422 and resp.get_json()["details"][0]["loc"] == ["new_email"]


def test_cli_create_admin_uses_the_same_rule(runner, db):
    ok = runner.invoke(args=["create-admin", "--username", "root", "--email", "root@studio.local",
                             "--password", "a-long-password"])
    assert ok.exit_code == 0 and "created root" in ok.output
    bad = runner.invoke(args=["create-admin", "--username", "boss", "--email", "boss@@studio.local",
                              "--password", "a-long-password"])
    assert bad.exit_code != 0 and "Invalid e-mail address" in bad.output
    assert [u.email for u in db.session.query(User).all()] == ["root@studio.local"]


def test_initial_admin_address_is_checked(make_app):
    app = make_app({"admin.initial.username": "boss", "admin.initial.email": "not an address",
                    "admin.initial.password": "a-long-password"})
    result = app.test_cli_runner().invoke(args=["create-admin"])
    assert result.exit_code != 0 and "Invalid e-mail address" in result.output
    with app.app_context():
        assert User.query.count() == 0


@pytest.mark.parametrize("email", PRIVATE + INVALID)
def test_service_and_schema_agree(email, app):
    from pydantic import ValidationError

    from schemas import EmailIn

    try:
        EmailIn.model_validate({"email": email})
        schema_accepts = True
    except ValidationError:
        schema_accepts = False
    try:
        accounts.create_user(f"u{abs(hash(email)) % 10**8}", email, PASSWORD)
        service_accepts = True
    except ApiError as exc:
        assert exc.status == 422
        service_accepts = False
    assert schema_accepts == service_accepts == (email in PRIVATE)
