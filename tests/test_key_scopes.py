"""API keys grant only their scopes (issue 17): every route declares the key scopes it accepts, a key never
passes a route that declares none, X-API-Key and `Bearer ck_...` are judged alike, admin routes never take
keys, and git's `lfs` key works only on the Git LFS endpoints."""

import base64

import pytest

from extensions import db
from models import ApiKey, CheckIn, Lock, User


# Routes the libraries register themselves: Flask's static files (the app's and a blueprint's), spectree's
# API docs, Prometheus' /metrics.
def _library_route(endpoint: str) -> bool:
    return endpoint in ("static", "prometheus_metrics") or endpoint.endswith(".static") \
        or endpoint.startswith("openapi_")


def test_every_route_declares_its_key_scopes(app):
    undeclared = sorted(
        f"{rule.rule} ({rule.endpoint})" for rule in app.url_map.iter_rules()
        if not _library_route(rule.endpoint) and not hasattr(app.view_functions[rule.endpoint], "key_scopes"))
    assert undeclared == []


def test_scope_declarations_match_what_keys_are_for(app):
    declared = {rule.endpoint: app.view_functions[rule.endpoint].key_scopes for rule in app.url_map.iter_rules()
                if hasattr(app.view_functions[rule.endpoint], "key_scopes")}
    assert declared["checkin.active_users"] == ("model:read",)
    assert declared["pages.track"] == ()
    assert all(scopes == () for endpoint, scopes in declared.items() if "admin" in endpoint)
    assert {scope for scopes in declared.values() for scope in scopes} <= {
        "model:read", "track:write", "analytics:read", "relay", "lfs"}
    lfs_routes = {endpoint for endpoint, scopes in declared.items() if "lfs" in scopes}
    assert lfs_routes and all(endpoint.startswith(("lfs", "repos")) for endpoint in lfs_routes)


def _both_ways(key: str) -> list[dict]:
    return [{"X-API-Key": key}, {"Authorization": f"Bearer {key}"}]


@pytest.fixture
def admins_model_key(factory, admin):
    """The reported attack: a narrow model:read key bound to an admin account."""
    return factory.api_key(["model:read"], user=admin)


# (method, path, body): routes that declare no key scope, several of them admin-only.
UNSCOPED = [
    ("GET", "/api/currentuser", None),
    ("POST", "/api/admin/users", {"username": "mallory", "email": "m@example.com", "password": "pw-123456789",
                                   "is_admin": True}),
    ("GET", "/api/admin/api-keys", None),
    ("POST", "/api/admin/api-keys", {"name": "more", "scopes": ["relay"]}),
    ("PUT", "/api/admin/config", {"mail.enabled": True}),
    ("POST", "/api/locks", {"asset_path": "Maps/Key.umap", "branch": "main"}),
    ("PUT", "/api/users/me/settings", {"theme": "dark"}),
    ("POST", "/api/checkin", None),
    ("GET", "/api/users/me/profile", None),
]


@pytest.mark.parametrize(("method", "path", "body"), UNSCOPED)
def test_a_key_never_passes_a_route_that_declares_no_scope(client, admins_model_key, method, path, body):
    users, keys = db.session.query(User).count(), db.session.query(ApiKey).count()
    for headers in _both_ways(admins_model_key):
        resp = client.open(path, method=method, json=body, headers=headers)
        assert resp.status_code == 401, (headers, resp.get_json())
        answer = resp.get_json()  # each route's own error shape: envelope `message`, check-in `error`
        assert answer.get("message", answer.get("error")) == "This endpoint needs a user token, not an API key"
    db.session.expire_all()
    assert (db.session.query(User).count(), db.session.query(ApiKey).count()) == (users, keys)
    assert db.session.query(Lock).count() == 0 and db.session.query(CheckIn).count() == 0


def test_a_key_passes_its_own_scope_alike_in_either_header(client, admins_model_key):
    for headers in _both_ways(admins_model_key):
        resp = client.get("/api/model/active-users", headers=headers)
        assert resp.status_code == 200 and resp.get_json()["success"] is True


def test_a_wrongly_scoped_key_is_refused_alike_in_either_header(client, factory):
    track_key = factory.api_key(["track:write"], app_name="shop")
    for headers in _both_ways(track_key):
        resp = client.get("/api/model/active-users", headers=headers)
        assert resp.status_code == 403 and resp.get_json()["success"] is False
        report = client.post("/api/pages/stats", json={"app": "shop", "user": "all"}, headers=headers)
        assert report.status_code == 403


def test_admin_routes_refuse_a_key_with_every_scope_bound_to_an_admin(client, factory, admin):
    every = factory.api_key(["model:read", "track:write", "analytics:read", "relay", "lfs"], user=admin)
    for headers in _both_ways(every):
        assert client.get("/api/admin/users", headers=headers).status_code == 401
        assert client.get("/api/admin/lock-releases", headers=headers).status_code == 401


def _basic(username: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()}


def test_git_credentials_an_lfs_key_works_only_on_the_lfs_endpoints(client, factory, alice):
    lfs_key = factory.api_key(["lfs"], user=alice)
    listed = client.get("/api/lfs/locks", headers=_basic("alice", lfs_key))
    assert listed.status_code == 200, listed.get_json()
    assert client.get("/api/lfs/locks", headers={"X-API-Key": lfs_key}).status_code == 200
    for headers in _both_ways(lfs_key):
        assert client.get("/api/currentuser", headers=headers).status_code == 401
        assert client.post("/api/locks", json={"asset_path": "A.uasset"}, headers=headers).status_code == 401


def test_git_credentials_a_key_without_lfs_scope_is_refused_on_lfs(client, factory, alice):
    model_key = factory.api_key(["model:read"], user=alice)
    resp = client.get("/api/lfs/locks", headers=_basic("alice", model_key))
    assert resp.status_code == 403
    assert resp.mimetype == "application/vnd.git-lfs+json" and "scope" in resp.get_json()["message"]
    assert client.get("/api/lfs/locks", headers={"X-API-Key": model_key}).status_code == 403


def test_git_credentials_another_accounts_key_is_refused(client, factory, alice, bob):
    bobs_key = factory.api_key(["lfs"], user=bob)
    resp = client.get("/api/lfs/locks", headers=_basic("alice", bobs_key))
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Basic")
