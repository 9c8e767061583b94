"""Asset Lock Manager lock endpoints: acquire, get, filtered lists, release rules, notify, branch release, audit."""

import pytest

from models import Lock


def test_acquire_get_and_list(client, alice_headers, lock_path):
    resp = lock_path(alice_headers, "Content/Maps/Level01.umap", comment="lighting pass")
    assert resp.status_code == 201
    lock = resp.get_json()["data"]
    assert lock["asset_path"] == "Content/Maps/Level01.umap" and lock["owner"] == "alice"
    assert lock["branch"] == "main" and lock["comment"] == "lighting pass" and lock["created_at"].endswith("Z")
    got = client.get("/api/locks/Content/Maps/Level01.umap", headers=alice_headers)
    assert got.status_code == 200 and got.get_json()["data"]["id"] == lock["id"]
    listed = client.get("/api/locks", headers=alice_headers).get_json()["data"]
    assert listed["total"] == 1 and [item["id"] for item in listed["items"]] == [lock["id"]]


def test_second_acquire_is_409_naming_the_holder(client, alice_headers, bob_headers, lock_path):
    first = lock_path(alice_headers, "Content/Hero.uasset")
    resp = lock_path(bob_headers, "content/hero.uasset", branch="dev")  # same file on a case-insensitive disk
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["status"] == "error"
    assert "alice" in body["message"] and first.get_json()["data"]["created_at"] in body["message"]
    assert body["details"]["holder"] == "alice"
    assert body["details"]["locked_at"] == first.get_json()["data"]["created_at"]
    assert body["details"]["lock"]["asset_path"] == "Content/Hero.uasset"


@pytest.mark.parametrize("raw, stored", [
    ("/Content/A.uasset", "Content/A.uasset"),
    ("Content\\Sub\\B.uasset", "Content/Sub/B.uasset"),
    ("./Content/./C.uasset", "Content/C.uasset"),
    ("  Content/D.uasset  ", "Content/D.uasset"),
])
def test_paths_are_normalized(client, alice_headers, lock_path, raw, stored):
    resp = lock_path(alice_headers, raw)
    assert resp.status_code == 201 and resp.get_json()["data"]["asset_path"] == stored


@pytest.mark.parametrize("raw, reason", [
    ("../etc/passwd", "'..' segments are not allowed"),
    ("Content/../../secret", "'..' segments are not allowed"),
    ("Content//A.uasset", "empty segments are not allowed"),
    ("Content/", "empty segments are not allowed"),
    ("/", "empty"),
    ("C:/Windows/x", "absolute paths are not allowed"),
    ("Content/a\x01b", "control characters are not allowed"),
    ("a" * 1025, "longer than 1024 characters"),
])
def test_bad_paths_are_rejected(client, alice_headers, lock_path, raw, reason):
    resp = lock_path(alice_headers, raw)
    assert resp.status_code == 422
    assert resp.get_json()["details"] == {"field": "asset_path", "reason": reason}
    assert Lock.query.count() == 0


def test_a_nul_byte_in_a_path_stores_nothing(client, alice_headers, lock_path):
    resp = lock_path(alice_headers, "Content/a\x00b")
    assert resp.status_code in (400, 422) and resp.get_json()["status"] == "error"  # the JSON reader may refuse NUL
    assert Lock.query.count() == 0


def test_missing_fields_are_422(client, alice_headers):
    resp = client.post("/api/locks", headers=alice_headers, json={"asset_path": "A.uasset"})
    assert resp.status_code == 422 and resp.get_json()["details"][0]["loc"] == ["branch"]
    assert client.post("/api/locks", json={"asset_path": "A", "branch": "main"}).status_code == 401


def test_traversal_in_url_is_rejected(client, alice_headers):
    resp = client.get("/api/locks/Content/%2E%2E/x", headers=alice_headers)
    assert resp.status_code == 422 and "'..'" in resp.get_json()["message"]


def test_get_unknown_lock_is_404(client, alice_headers):
    resp = client.get("/api/locks/Nope.uasset", headers=alice_headers)
    assert resp.status_code == 404 and resp.get_json()["message"] == "Lock not found"


def test_list_filters_and_pagination(client, alice_headers, bob_headers, lock_path):
    lock_path(alice_headers, "Content/Maps/A.umap", branch="main")
    lock_path(alice_headers, "Content/Chars/Hero.uasset", branch="dev")
    lock_path(bob_headers, "Content/Maps/B.umap", branch="main")
    lock_path(bob_headers, "Content/Maps_Old/C.umap", branch="main")

    def paths(**params):
        data = client.get("/api/locks", headers=alice_headers, query_string=params).get_json()["data"]
        return [item["asset_path"] for item in data["items"]], data["total"]

    assert paths(owner="ALICE") == (["Content/Chars/Hero.uasset", "Content/Maps/A.umap"], 2)
    assert paths(branch="main")[1] == 3
    assert paths(prefix="content/maps/") == (["Content/Maps/B.umap", "Content/Maps/A.umap"], 2)
    assert paths(prefix="Content/Maps_")[0] == ["Content/Maps_Old/C.umap"]  # `_` is not a wildcard
    assert paths(owner="bob", branch="main", prefix="Content/Maps/") == (["Content/Maps/B.umap"], 1)
    page2 = client.get("/api/locks?per_page=3&page=2", headers=alice_headers).get_json()["data"]
    assert page2["total"] == 4 and [i["asset_path"] for i in page2["items"]] == ["Content/Maps/A.umap"]
    assert client.get("/api/locks?per_page=0", headers=alice_headers).status_code == 422


def test_only_the_owner_releases(client, alice_headers, bob_headers, lock_path):
    lock_path(alice_headers, "Content/A.uasset")
    refused = client.delete("/api/locks/Content/A.uasset", headers=bob_headers)
    assert refused.status_code == 403 and "alice" in refused.get_json()["message"]
    ok = client.delete("/api/locks/Content/A.uasset", headers=alice_headers)
    assert ok.status_code == 200 and ok.get_json()["data"]["owner"] == "alice"
    assert client.get("/api/locks/Content/A.uasset", headers=alice_headers).status_code == 404
    assert client.delete("/api/locks/Content/A.uasset", headers=alice_headers).status_code == 404
    assert lock_path(bob_headers, "Content/A.uasset").status_code == 201


def test_admin_force_releases_and_audit_records_it(client, alice_headers, admin_headers, lock_path):
    lock_path(alice_headers, "Content/A.uasset")
    resp = client.delete("/api/locks/Content/A.uasset", headers=admin_headers)
    assert resp.status_code == 200 and resp.get_json()["data"]["owner"] == "alice"
    audit = client.get("/api/admin/lock-releases", headers=admin_headers).get_json()["data"]
    assert audit["total"] == 1
    row = audit["items"][0]
    assert (row["asset_path"], row["owner"], row["released_by"], row["reason"]) == \
        ("Content/A.uasset", "alice", "admin", "admin")


def test_release_audit_is_admin_only_and_filters(client, alice_headers, admin_headers, lock_path):
    lock_path(alice_headers, "Content/A.uasset")
    lock_path(alice_headers, "Content/B.uasset")
    client.delete("/api/locks/Content/A.uasset", headers=alice_headers)
    client.delete("/api/locks/Content/B.uasset", headers=admin_headers)
    assert client.get("/api/admin/lock-releases", headers=alice_headers).status_code == 403
    owner_rows = client.get("/api/admin/lock-releases?reason=owner", headers=admin_headers).get_json()["data"]
    assert [r["asset_path"] for r in owner_rows["items"]] == ["Content/A.uasset"]
    assert owner_rows["items"][0]["released_by"] == "alice"
    assert client.get("/api/admin/lock-releases?reason=bogus", headers=admin_headers).status_code == 422


def test_branch_release_by_owner_and_by_admin(client, alice_headers, bob_headers, admin_headers, lock_path):
    lock_path(alice_headers, "A.uasset", branch="feature/x")
    lock_path(bob_headers, "B.uasset", branch="feature/x")
    lock_path(alice_headers, "C.uasset", branch="main")
    mine = client.post("/api/locks/auto-release", headers=alice_headers, json={"branch": "feature/x"})
    assert mine.status_code == 200 and mine.get_json()["data"] == {"branch": "feature/x", "released": 1}
    remaining = {lock.asset_path for lock in Lock.query.all()}
    assert remaining == {"B.uasset", "C.uasset"}
    everyone = client.post("/api/locks/auto-release", headers=admin_headers, json={"branch": "feature/x"})
    assert everyone.get_json()["data"]["released"] == 1
    assert {lock.asset_path for lock in Lock.query.all()} == {"C.uasset"}
    audit = client.get("/api/admin/lock-releases?reason=branch", headers=admin_headers).get_json()["data"]
    assert sorted((r["asset_path"], r["released_by"]) for r in audit["items"]) == \
        [("A.uasset", "alice"), ("B.uasset", "admin")]
    assert client.post("/api/locks/auto-release", headers=alice_headers, json={}).status_code == 422


def test_notify_answers_409_while_mail_is_disabled(client, alice_headers, bob_headers, lock_path):
    lock_path(alice_headers, "A.uasset")
    resp = client.post("/api/locks/path/A.uasset/notify", headers=bob_headers, json={"message": "need it"})
    assert resp.status_code == 409 and resp.get_json()["message"] == "Mail is disabled on this server"
    assert resp.get_json()["details"] == {"mail_enabled": False}
    missing = client.post("/api/locks/path/Nope.uasset/notify", headers=bob_headers, json={})
    assert missing.status_code == 404


def test_notify_queues_when_mail_is_enabled(make_app):
    app = make_app({"mail.enabled": True})
    with app.app_context():
        from tests.conftest import Factory

        factory = Factory(app)
        alice, bob = factory.user("alice"), factory.user("bob")
        client = app.test_client()
        client.post("/api/locks", headers=factory.headers(alice), json={"asset_path": "A.uasset", "branch": "main"})
        resp = client.post("/api/locks/path/A.uasset/notify", headers=factory.headers(bob), json={"message": "hi"})
        assert resp.status_code == 200
        assert resp.get_json()["data"] == {"asset_path": "A.uasset", "holder": "alice"}
        forced = client.delete("/api/locks/A.uasset", headers=factory.headers(factory.user("root", is_admin=True)))
        assert forced.status_code == 200


def test_batch_acquire_is_all_or_nothing(client, alice_headers, bob_headers, lock_path):
    lock_path(bob_headers, "B.uasset")
    refused = client.post("/api/locks/batch", headers=alice_headers,
                          json={"asset_paths": ["A.uasset", "B.uasset", "C.uasset"], "branch": "main"})
    assert refused.status_code == 409 and refused.get_json()["details"]["holder"] == "bob"
    assert {lock.asset_path for lock in Lock.query.all()} == {"B.uasset"}
    ok = client.post("/api/locks/batch", headers=alice_headers,
                     json={"asset_paths": ["A.uasset", "C.uasset", "/A.uasset"], "branch": "main"})
    assert ok.status_code == 201 and [x["asset_path"] for x in ok.get_json()["data"]] == ["A.uasset", "C.uasset"]
    bad = client.post("/api/locks/batch", headers=alice_headers,
                      json={"asset_paths": ["D.uasset", "../x"], "branch": "main"})
    assert bad.status_code == 422 and Lock.query.count() == 3


def test_batch_release_is_all_or_nothing(client, alice_headers, bob_headers, lock_path):
    lock_path(alice_headers, "A.uasset")
    lock_path(bob_headers, "B.uasset")
    refused = client.post("/api/locks/batch/release", headers=alice_headers,
                          json={"asset_paths": ["A.uasset", "B.uasset"]})
    assert refused.status_code == 403 and refused.get_json()["details"] == {"asset_paths": ["B.uasset"]}
    missing = client.post("/api/locks/batch/release", headers=alice_headers,
                          json={"asset_paths": ["A.uasset", "Z.uasset"]})
    assert missing.status_code == 404
    assert Lock.query.count() == 2
    ok = client.post("/api/locks/batch/release", headers=alice_headers, json={"asset_paths": ["a.uasset"]})
    assert ok.status_code == 200 and ok.get_json()["data"] == {"released": ["A.uasset"]}
    assert [lock.asset_path for lock in Lock.query.all()] == ["B.uasset"]


def test_the_audit_filter_knows_every_release_reason():
    """One list of reasons: what release_where() writes is what the API and the console filter on."""
    from typing import get_args

    from schemas import ReleaseReason
    from services import locks

    assert get_args(ReleaseReason) == locks.REASONS
