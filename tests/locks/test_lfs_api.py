"""The Git LFS locking API over the same lock table: shapes, media type, auth challenge, cursors, force."""

import base64

from tests.conftest import PASSWORD

MEDIA = "application/vnd.git-lfs+json"


def basic(username, secret=PASSWORD):
    token = base64.b64encode(f"{username}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Accept": MEDIA}


def post(client, path, body, headers):
    import json

    return client.post(f"/api/lfs{path}", data=json.dumps(body), headers=headers,
                       content_type=f"{MEDIA}; charset=utf-8")


def test_unauthenticated_gets_a_basic_challenge(client):
    resp = client.get("/api/lfs/locks", headers={"Accept": MEDIA})
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert resp.mimetype == MEDIA and resp.get_json()["message"] == "Missing credentials"
    wrong = client.get("/api/lfs/locks", headers=basic("alice", "wrong-password"))
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Basic")


def test_create_lock_and_conflict(client, alice, bob):
    resp = post(client, "/locks", {"path": "Content/Hero.uasset", "ref": {"name": "refs/heads/main"}}, basic("alice"))
    assert resp.status_code == 201 and resp.mimetype == MEDIA
    lock = resp.get_json()["lock"]
    assert set(lock) == {"id", "path", "locked_at", "owner"} and isinstance(lock["id"], str)
    assert lock["path"] == "Content/Hero.uasset" and lock["owner"] == {"name": "alice"}
    assert lock["locked_at"].endswith("Z") and len(lock["locked_at"]) == 20
    clash = post(client, "/locks", {"path": "Content/Hero.uasset"}, basic("bob"))
    assert clash.status_code == 409 and clash.mimetype == MEDIA
    body = clash.get_json()
    assert body["lock"] == lock and "alice" in body["message"]


def test_same_table_as_the_rest_api(client, alice, alice_headers):
    post(client, "/locks", {"path": "A.uasset", "ref": {"name": "refs/heads/feature/x"}}, basic("alice"))
    rest = client.get("/api/locks/A.uasset", headers=alice_headers).get_json()["data"]
    assert rest["owner"] == "alice" and rest["branch"] == "feature/x"
    client.post("/api/locks", headers=alice_headers, json={"asset_path": "B.uasset", "branch": "main"})
    listed = client.get("/api/lfs/locks?path=B.uasset", headers=basic("alice")).get_json()
    assert [lk["path"] for lk in listed["locks"]] == ["B.uasset"]


def test_list_filters_and_cursor_pagination(client, alice):
    ids = [post(client, "/locks", {"path": f"F{i}.uasset"}, basic("alice")).get_json()["lock"]["id"] for i in range(5)]
    empty = client.get("/api/lfs/locks?path=Nope.uasset", headers=basic("alice")).get_json()
    assert empty == {"locks": []}
    by_id = client.get(f"/api/lfs/locks?id={ids[2]}", headers=basic("alice")).get_json()
    assert [lk["path"] for lk in by_id["locks"]] == ["F2.uasset"]
    first = client.get("/api/lfs/locks?limit=2&refspec=refs/heads/main", headers=basic("alice")).get_json()
    assert [lk["id"] for lk in first["locks"]] == [ids[4], ids[3]] and first["next_cursor"] == ids[2]
    second = client.get(f"/api/lfs/locks?limit=2&cursor={first['next_cursor']}", headers=basic("alice")).get_json()
    assert [lk["id"] for lk in second["locks"]] == [ids[2], ids[1]]
    last = client.get(f"/api/lfs/locks?limit=2&cursor={second['next_cursor']}", headers=basic("alice")).get_json()
    assert [lk["id"] for lk in last["locks"]] == [ids[0]] and "next_cursor" not in last
    bad = client.get("/api/lfs/locks?cursor=abc", headers=basic("alice"))
    assert bad.status_code == 422 and bad.mimetype == MEDIA


def test_verify_splits_ours_and_theirs(client, alice, bob):
    post(client, "/locks", {"path": "Mine.uasset"}, basic("alice"))
    post(client, "/locks", {"path": "Theirs.uasset"}, basic("bob"))
    resp = post(client, "/locks/verify", {"ref": {"name": "refs/heads/main"}, "limit": 100}, basic("alice"))
    assert resp.status_code == 200 and resp.mimetype == MEDIA
    body = resp.get_json()
    assert [lk["path"] for lk in body["ours"]] == ["Mine.uasset"]
    assert [lk["path"] for lk in body["theirs"]] == ["Theirs.uasset"]
    empty = post(client, "/locks/verify", {}, basic("admin-less")).status_code
    assert empty == 401


def test_verify_with_no_locks_returns_empty_arrays(client, alice):
    assert post(client, "/locks/verify", {}, basic("alice")).get_json() == {"ours": [], "theirs": []}


def test_unlock_owner_refusal_and_admin_force(client, alice, bob, admin):
    lock = post(client, "/locks", {"path": "A.uasset"}, basic("alice")).get_json()["lock"]
    refused = post(client, f"/locks/{lock['id']}/unlock", {}, basic("bob"))
    assert refused.status_code == 403 and "alice" in refused.get_json()["message"]
    not_admin = post(client, f"/locks/{lock['id']}/unlock", {"force": True}, basic("bob"))
    assert not_admin.status_code == 403
    assert not_admin.get_json()["message"] == "Only an admin can release another user's lock"
    forced = post(client, f"/locks/{lock['id']}/unlock", {"force": True}, basic("admin"))
    assert forced.status_code == 200 and forced.get_json()["lock"] == lock
    gone = post(client, f"/locks/{lock['id']}/unlock", {}, basic("alice"))
    assert gone.status_code == 404 and gone.mimetype == MEDIA and gone.get_json()["message"] == "Lock not found"


def test_owner_unlocks_with_an_api_key_as_password_and_bearer_works(client, factory, alice, alice_headers):
    key = factory.api_key(["lfs"], user=alice)
    lock = post(client, "/locks", {"path": "K.uasset"}, basic("alice", key)).get_json()["lock"]
    assert lock["owner"] == {"name": "alice"}
    listed = client.get("/api/lfs/locks", headers={**alice_headers, "Accept": MEDIA})
    assert listed.status_code == 200 and listed.get_json()["locks"][0]["id"] == lock["id"]
    done = post(client, f"/locks/{lock['id']}/unlock", {"force": False}, basic("alice", key))
    assert done.status_code == 200 and done.get_json()["lock"]["path"] == "K.uasset"


def test_invalid_path_and_unknown_route_speak_lfs(client, alice):
    bad = post(client, "/locks", {"path": "../x"}, basic("alice"))
    assert bad.status_code == 422 and bad.mimetype == MEDIA and "'..'" in bad.get_json()["message"]
    unknown = client.get("/api/lfs/objects/batch", headers=basic("alice"))
    assert unknown.status_code in (404, 405) and unknown.mimetype == MEDIA


def test_a_key_without_the_lfs_scope_is_refused(client, factory, alice):
    key = factory.api_key(["model:read"], user=alice)
    refused = post(client, "/locks", {"path": "K.uasset"}, basic("alice", key))
    assert refused.status_code in (401, 403) and refused.mimetype == MEDIA
    assert client.get("/api/lfs/locks", headers=basic("alice", key)).status_code in (401, 403)
