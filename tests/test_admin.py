"""The Asset Lock Manager's admin API: users, the last-admin rule, runtime configuration."""

from tests.conftest import PASSWORD


def test_admin_lists_and_creates_users(client, admin_headers):
    resp = client.post("/api/admin/users", headers=admin_headers,
                       json={"username": "Bob", "email": "bob@example.com", "password": "a-long-password"})
    assert resp.status_code == 201
    created = resp.get_json()["data"]
    assert created["username"] == "bob" and created["is_admin"] is False
    listed = client.get("/api/admin/users", headers=admin_headers).get_json()["data"]
    assert [u["username"] for u in listed] == ["admin", "bob"]
    assert client.post("/api/login", json={"username": "bob", "password": "a-long-password"}).status_code == 200


def test_duplicate_username_is_409(client, admin_headers, alice):
    resp = client.post("/api/admin/users", headers=admin_headers,
                       json={"username": "alice", "email": "other@example.com", "password": "a-long-password"})
    assert resp.status_code == 409
    assert resp.get_json()["details"] == {"field": "username"}


def test_create_user_validation(client, admin_headers):
    resp = client.post("/api/admin/users", headers=admin_headers,
                       json={"username": "bad name!", "email": "not-an-email", "password": "short"})
    assert resp.status_code == 422
    fields = {d["loc"][0] for d in resp.get_json()["details"]}
    assert fields == {"username", "email", "password"}


def test_non_admin_gets_403(client, alice_headers):
    for method, path in [("get", "/api/admin/users"), ("get", "/api/admin/config"),
                         ("put", "/api/admin/config")]:
        resp = getattr(client, method)(path, headers=alice_headers, json={"mail.enabled": True})
        assert resp.status_code == 403, path
        assert resp.get_json()["message"] == "Admin privileges required"


def test_admin_changes_password_and_old_tokens_die(client, admin_headers, alice, alice_headers):
    resp = client.put(f"/api/admin/users/{alice.id}/password", headers=admin_headers,
                      json={"password": "brand-new-password"})
    assert resp.status_code == 200
    assert client.get("/api/currentuser", headers=alice_headers).status_code == 401
    assert client.post("/api/login", json={"username": "alice", "password": PASSWORD}).status_code == 401
    assert client.post("/api/login", json={"username": "alice", "password": "brand-new-password"}).status_code == 200


def test_admin_changes_email(client, admin_headers, alice):
    resp = client.put(f"/api/admin/users/{alice.id}/email", headers=admin_headers, json={"email": "A2@Example.com"})
    assert resp.status_code == 200 and resp.get_json()["data"]["email"] == "a2@example.com"


def test_admin_status_change_revokes_tokens(client, admin_headers, alice, alice_headers):
    resp = client.put(f"/api/admin/users/{alice.id}/status", headers=admin_headers, json={"is_admin": True})
    assert resp.status_code == 200 and resp.get_json()["data"]["is_admin"] is True
    assert client.get("/api/currentuser", headers=alice_headers).status_code == 401


def test_last_admin_cannot_be_demoted_or_deleted(client, admin, admin_headers):
    demote = client.put(f"/api/admin/users/{admin.id}/status", headers=admin_headers, json={"is_admin": False})
    assert demote.status_code == 409 and demote.get_json()["message"] == "Cannot remove the last admin"
    delete = client.delete(f"/api/admin/users/{admin.id}", headers=admin_headers)
    assert delete.status_code == 409 and delete.get_json()["message"] == "Cannot delete the last admin"


def test_second_admin_can_be_demoted(client, admin_headers, factory):
    other = factory.user("root2", is_admin=True)
    resp = client.put(f"/api/admin/users/{other.id}/status", headers=admin_headers, json={"is_admin": False})
    assert resp.status_code == 200


def test_delete_user_revokes_tokens(client, admin_headers, alice, alice_headers):
    assert client.delete(f"/api/admin/users/{alice.id}", headers=admin_headers).status_code == 200
    assert client.get("/api/currentuser", headers=alice_headers).status_code == 401
    assert client.delete(f"/api/admin/users/{alice.id}", headers=admin_headers).status_code == 404


def test_unknown_and_malformed_user_ids_are_404(client, admin_headers):
    assert client.delete("/api/admin/users/not-a-uuid", headers=admin_headers).status_code == 404
    resp = client.put("/api/admin/users/00000000-0000-0000-0000-000000000000/status", headers=admin_headers,
                      json={"is_admin": True})
    assert resp.status_code == 404


def test_config_get_shows_effective_runtime_keys(client, admin_headers):
    data = client.get("/api/admin/config", headers=admin_headers).get_json()["data"]
    assert set(data["effective"]) >= {"jwt.expiry.enabled", "jwt.expiry.minutes", "auto_release.enabled",
                                      "auto_release.hours", "mail.enabled"}
    secret = next(row for row in data["settings"] if row["key"] == "jwt.secret_key")
    assert secret["value"] == "***"


def test_config_put_validates_types_and_keys(client, admin_headers):
    ok = client.put("/api/admin/config", headers=admin_headers, json={"auto_release.hours": 48,
                                                                      "auto_release.enabled": False})
    assert ok.status_code == 200
    assert ok.get_json()["data"]["effective"]["auto_release.hours"] == 48
    wrong_type = client.put("/api/admin/config", headers=admin_headers, json={"auto_release.hours": "48"})
    unknown = client.put("/api/admin/config", headers=admin_headers, json={"no.such.key": 1})
    negative = client.put("/api/admin/config", headers=admin_headers, json={"jwt.expiry.minutes": -1})
    static_key = client.put("/api/admin/config", headers=admin_headers, json={"jwt.secret_key": "x"})
    for resp in (wrong_type, unknown, negative, static_key):
        assert resp.status_code == 422
    # a batch with one bad key writes nothing
    mixed = client.put("/api/admin/config", headers=admin_headers,
                       json={"auto_release.hours": 10, "mail.enabled": "yes"})
    assert mixed.status_code == 422
    effective = client.get("/api/admin/config", headers=admin_headers).get_json()["data"]["effective"]
    assert effective["auto_release.hours"] == 48


def test_config_status_for_signed_in_users(client, alice_headers, admin_headers):
    resp = client.get("/api/config/status", headers=alice_headers)
    assert resp.status_code == 200 and resp.get_json()["data"] == {"mail_enabled": False}
    assert client.get("/api/config/status").status_code == 401


def test_deleting_a_user_cascades_to_their_rows(client, admin_headers, alice, factory, db):
    """ON DELETE CASCADE holds on SQLite too (foreign keys are switched on per connection)."""
    from models import ApiKey

    factory.api_key(["relay"], "my_app", alice)
    assert db.session.query(ApiKey).count() == 1
    assert client.delete(f"/api/admin/users/{alice.id}", headers=admin_headers).status_code == 200
    db.session.expire_all()
    assert db.session.query(ApiKey).count() == 0
