"""API keys on the feed (missing 401, wrong/revoked 401, wrong scope 403), MODEL_API_KEY, admin API, CLI."""

import pytest

FEED = "/api/model/active-users"


def test_missing_key_is_401(client):
    resp = client.get(FEED)
    assert resp.status_code == 401
    assert resp.get_json() == {"success": False, "error": "Missing credentials"}


@pytest.mark.parametrize("presented", ["nope", "ck_deadbeef_not-the-secret", "ck_", ""])
def test_wrong_key_is_401(client, model_key, presented):
    resp = client.get(FEED, headers={"X-API-Key": presented})
    assert resp.status_code == 401
    assert resp.get_json() == {"success": False, "error": "Invalid or revoked API key"}


def test_tampered_secret_of_a_real_prefix_is_401(client, model_key):
    resp = client.get(FEED, headers={"X-API-Key": model_key[:-2] + "xx"})
    assert resp.status_code == 401


def test_wrong_scope_is_403(client, factory):
    key = factory.api_key(["track:write", "analytics:read"])
    resp = client.get(FEED, headers={"X-API-Key": key})
    assert resp.status_code == 403
    assert resp.get_json() == {"success": False, "error": "API key lacks the required scope",
                               "details": {"required": ["model:read"]}}


def test_key_as_bearer_and_as_header(client, model_key):
    assert client.get(FEED, headers={"X-API-Key": model_key}).status_code == 200
    assert client.get(FEED, headers={"Authorization": f"Bearer {model_key}"}).status_code == 200


def test_user_tokens_admin_only(client, alice_headers, admin_headers):
    plain = client.get(FEED, headers=alice_headers)
    assert plain.status_code == 403 and plain.get_json()["success"] is False
    assert client.get(FEED, headers=admin_headers).get_json()["success"] is True


def test_model_api_key_from_environment(make_app):
    app = make_app({"model.api_key": "env-model-key-0123456789abcdef"})
    client = app.test_client()
    with app.app_context():
        ok = client.get(FEED, headers={"X-API-Key": "env-model-key-0123456789abcdef"})
        assert ok.status_code == 200 and ok.get_json()["success"] is True
        assert client.get(FEED, headers={"X-API-Key": "env-model-key-0123456789abcdeX"}).status_code == 401
        # a model:read key, nothing more: it cannot check anybody in
        assert client.post("/api/checkin", headers={"X-API-Key": "env-model-key-0123456789abcdef"}).status_code == 401


def test_model_api_key_unset_accepts_nothing_empty(client):
    assert client.get(FEED, headers={"X-API-Key": ""}).status_code == 401


def test_admin_creates_lists_and_revokes(client, admin_headers, alice):
    created = client.post("/api/admin/api-keys", headers=admin_headers,
                          json={"name": "ml-model", "scopes": ["model:read"], "app": "vibes",
                                "user_id": str(alice.id)})
    assert created.status_code == 201
    key = created.get_json()["data"]
    assert key["key"].startswith(f"ck_{key['prefix']}_") and key["scopes"] == ["model:read"]
    assert key["app"] == "vibes" and key["user_id"] == str(alice.id) and key["name"] == "ml-model"
    assert key["last_used_at"] is None and key["revoked_at"] is None and key["created_at"].endswith("Z")

    assert client.get(FEED, headers={"X-API-Key": key["key"]}).status_code == 200
    listed = client.get("/api/admin/api-keys", headers=admin_headers).get_json()["data"]
    assert len(listed) == 1 and "key" not in listed[0]
    assert listed[0]["prefix"] == key["prefix"] and listed[0]["last_used_at"] is not None
    assert key["key"] not in str(listed)

    revoked = client.delete(f"/api/admin/api-keys/{key['id']}", headers=admin_headers)
    assert revoked.status_code == 200 and revoked.get_json()["data"]["revoked_at"] is not None
    assert client.get(FEED, headers={"X-API-Key": key["key"]}).status_code == 401
    assert client.delete(f"/api/admin/api-keys/{key['id']}", headers=admin_headers).status_code == 200
    listed = client.get("/api/admin/api-keys", headers=admin_headers).get_json()["data"]
    assert listed[0]["revoked_at"] is not None


def test_admin_api_validation(client, admin_headers, alice_headers):
    bad_scope = client.post("/api/admin/api-keys", headers=admin_headers, json={"name": "x", "scopes": ["root"]})
    assert bad_scope.status_code == 422 and bad_scope.get_json()["status"] == "error"
    no_scope = client.post("/api/admin/api-keys", headers=admin_headers, json={"name": "x", "scopes": []})
    assert no_scope.status_code == 422
    no_user = client.post("/api/admin/api-keys", headers=admin_headers,
                          json={"name": "x", "scopes": ["relay"], "user_id": "00000000-0000-0000-0000-000000000000"})
    assert no_user.status_code == 404
    assert client.delete("/api/admin/api-keys/not-a-uuid", headers=admin_headers).status_code == 404
    for method, path in [("get", "/api/admin/api-keys"), ("post", "/api/admin/api-keys")]:
        resp = getattr(client, method)(path, headers=alice_headers, json={"name": "x", "scopes": ["relay"]})
        assert resp.status_code == 403 and resp.get_json()["message"] == "Admin privileges required"
    assert client.get("/api/admin/api-keys").status_code == 401


def test_cli_create_list_revoke(runner, client, alice):
    created = runner.invoke(args=["api-keys", "create", "ml-model", "--scope", "model:read", "--user", "alice"])
    assert created.exit_code == 0, created.output
    plaintext = created.output.split("key (shown once): ")[1].strip()
    key_id = created.output.split()[1]
    assert client.get(FEED, headers={"X-API-Key": plaintext}).status_code == 200
    listed = runner.invoke(args=["api-keys", "list"]).output
    assert key_id in listed and "ml-model\tmodel:read" in listed and listed.strip().endswith("live")
    assert plaintext not in listed
    revoked = runner.invoke(args=["api-keys", "revoke", key_id])
    assert revoked.exit_code == 0 and f"revoked {key_id}" in revoked.output
    assert client.get(FEED, headers={"X-API-Key": plaintext}).status_code == 401
    assert "revoked " in runner.invoke(args=["api-keys", "list"]).output


def test_cli_validates(runner):
    assert runner.invoke(args=["api-keys", "create", "x", "--scope", "root"]).exit_code != 0
    assert runner.invoke(args=["api-keys", "create", "x", "--scope", "relay", "--user", "ghost"]).exit_code != 0
    assert runner.invoke(args=["api-keys", "revoke", "nope"]).exit_code != 0
