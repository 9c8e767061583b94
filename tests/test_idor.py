"""IDOR (issue 17): every route that takes an object id or a tracked `user` answers another account's token,
a wrongly scoped key and no credentials with 401/403/404, never 2xx or 5xx, and changes nothing.

Alice owns everything below; bob (a plain account) and a key of the wrong scope try to reach it."""

import io

import pytest

from extensions import db
from models import ActivitySession, ApiKey, Lock, User, WorkspaceFile
from services import api_keys, app_sessions, workspace


@pytest.fixture
def owned(client, factory, alice, alice_headers, admin):
    """Alice's lock, LFS lock id, activity session, app session with a file, and an admin-made key."""
    assert client.post("/api/locks", json={"asset_path": "Maps/Alice.umap", "branch": "main"},
                       headers=alice_headers).status_code == 201
    lfs = client.post("/api/lfs/locks", json={"path": "Maps/AliceLfs.umap"}, headers=alice_headers)
    assert lfs.status_code == 201, lfs.get_json()
    started = client.post("/api/sessions/start", json={"user": "alice", "app": "shop",
                                                       "time": "2026-11-30T10:00:00Z"}, headers=alice_headers)
    assert started.status_code == 200, started.get_json()
    app_session = app_sessions.create_session("alice")
    workspace.save_file(app_session, "notes.txt", io.BytesIO(b"alice's notes").read, "text/plain", None)
    key_row, _ = api_keys.create_key("alice's", ["relay"])
    return {"lfs_id": lfs.get_json()["lock"]["id"], "session_id": started.get_json()["data"]["session_id"],
            "app_session": str(app_session.session_id), "alice_id": str(alice.id), "key_id": str(key_row.id)}


def _routes(o: dict) -> list[tuple[str, str, dict | None]]:
    session_event = {"user": "alice", "app": "shop", "session_id": o["session_id"], "time": "2026-11-30T10:05:00Z"}
    files = f"/api/app-sessions/{o['app_session']}/files"
    return [
        ("DELETE", "/api/locks/Maps/Alice.umap", None),
        ("POST", "/api/locks/batch/release", {"asset_paths": ["Maps/Alice.umap"]}),
        ("POST", f"/api/lfs/locks/{o['lfs_id']}/unlock", {"force": False}),
        ("POST", f"/api/lfs/locks/{o['lfs_id']}/unlock", {"force": True}),
        ("POST", "/api/sessions/pause", session_event),
        ("POST", "/api/sessions/end", session_event),
        ("POST", "/api/sessions/summary", {"app": "shop", "user": "alice"}),
        ("POST", "/api/sessions/heatmap", {"app": "shop", "user": "all"}),
        ("POST", "/api/pages/stats", {"app": "shop", "user": "alice"}),
        ("DELETE", "/api/analytics/apps/shop/users/alice", None),
        ("GET", files, None),
        ("GET", f"{files}/notes.txt", None),
        ("PUT", f"{files}/notes.txt", None),
        ("DELETE", f"{files}/notes.txt", None),
        ("PUT", f"/api/admin/users/{o['alice_id']}/password", {"password": "taken-over-123"}),
        ("PUT", f"/api/admin/users/{o['alice_id']}/email", {"email": "mallory@example.com"}),
        ("PUT", f"/api/admin/users/{o['alice_id']}/status", {"is_admin": False}),
        ("DELETE", f"/api/admin/users/{o['alice_id']}", None),
        ("DELETE", f"/api/admin/api-keys/{o['key_id']}", None),
    ]


def _state() -> tuple:
    db.session.expire_all()
    alice = db.session.query(User).filter_by(username="alice").one()
    return (db.session.query(Lock).count(), alice.password_hash, alice.email, alice.token_version,
            [(s.status, s.ended_at) for s in db.session.query(ActivitySession).all()],
            db.session.query(WorkspaceFile).count(),
            [k.revoked_at for k in db.session.query(ApiKey).order_by(ApiKey.created_at).all()])


def test_another_account_a_wrong_key_and_no_credentials_reach_nothing(client, factory, bob_headers, owned):
    wrong_key = {"X-API-Key": factory.api_key(["model:read"], app_name="other")}
    before = _state()
    for method, path, body in _routes(owned):
        for who, headers in (("bob", bob_headers), ("wrong key", wrong_key), ("nobody", {})):
            resp = client.open(path, method=method, json=body, headers=headers)
            assert resp.status_code in (401, 403, 404), (who, method, path, resp.status_code, resp.get_data()[:200])
            assert resp.is_json, (who, method, path)
    assert _state() == before


def test_the_owner_still_reaches_what_is_hers(client, alice_headers, owned):
    """The counter-check: the same routes are not simply closed to everyone."""
    assert client.get(f"/api/app-sessions/{owned['app_session']}/files", headers=alice_headers).status_code == 200
    assert client.post("/api/sessions/summary", json={"app": "shop", "user": "alice"},
                       headers=alice_headers).status_code == 200
    assert client.delete("/api/locks/Maps/Alice.umap", headers=alice_headers).status_code == 200
