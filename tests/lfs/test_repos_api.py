"""Repositories over REST and the CLI, and who may use a repository's LFS endpoint (both lanes)."""

import pytest

from models import Lock, LockRelease, Repository, RepositoryMember
from services import locks, repos
from tests.lfs.conftest import MEDIA, basic, lfs_json


def test_admin_creates_lists_gets_and_deletes(client, admin_headers, alice_headers):
    made = client.post("/api/repos", headers=admin_headers, json={"name": "game-art", "quota_bytes": 1000})
    assert made.status_code == 201
    assert made.get_json()["data"]["name"] == "game-art" and made.get_json()["data"]["lfs_path"] == \
        "/api/repos/game-art/lfs"
    assert client.post("/api/repos", headers=admin_headers, json={"name": "game-art"}).status_code == 409
    names = [r["name"] for r in client.get("/api/repos", headers=alice_headers).get_json()["data"]]
    assert "game-art" in names
    got = client.get("/api/repos/game-art", headers=alice_headers).get_json()["data"]
    assert (got["objects"], got["used_bytes"], got["quota_bytes"], got["access"]) == (0, 0, 1000, "write")
    client.post("/api/locks?repo=game-art", headers=alice_headers, json={"asset_path": "A.uasset", "branch": "main"})
    gone = client.delete("/api/repos/game-art", headers=admin_headers)
    assert gone.status_code == 200 and gone.get_json()["data"]["locks_deleted"] == 1
    assert client.get("/api/repos/game-art", headers=alice_headers).status_code == 404
    assert Lock.query.count() == 0


def test_restricted_repository_members_read_and_write(client, admin_headers, alice_headers, bob_headers, factory):
    factory.user("carol")
    client.post("/api/repos", headers=admin_headers, json={"name": "secret", "restricted": True})
    assert client.put("/api/repos/secret/members", headers=admin_headers,
                      json={"username": "alice", "access": "write"}).status_code == 200
    client.put("/api/repos/secret/members", headers=admin_headers, json={"username": "carol", "access": "read"})
    carol = factory.headers(repos.accounts.find_by_username("carol"))
    lock = {"asset_path": "A.uasset", "branch": "main"}
    assert client.post("/api/locks?repo=secret", headers=alice_headers, json=lock).status_code == 201
    assert client.get("/api/locks?repo=secret", headers=carol).status_code == 200
    assert client.post("/api/locks?repo=secret", headers=carol, json={**lock, "asset_path": "B"}).status_code == 403
    assert client.get("/api/locks?repo=secret", headers=bob_headers).status_code == 403
    assert client.get("/api/repos/secret", headers=bob_headers).status_code == 403
    assert "secret" not in [r["name"] for r in client.get("/api/repos", headers=bob_headers).get_json()["data"]]
    members = client.get("/api/repos/secret/members", headers=admin_headers).get_json()["data"]
    assert members == [{"username": "alice", "access": "write"}, {"username": "carol", "access": "read"}]
    assert client.delete("/api/repos/secret/members/carol", headers=admin_headers).status_code == 200
    assert client.get("/api/locks?repo=secret", headers=carol).status_code == 403


def test_deleting_a_repository_audits_each_of_its_locks(client, admin, admin_headers, alice_headers, bob_headers):
    repos.create("art")
    lock = {"asset_path": "A.uasset", "branch": "main"}
    client.post("/api/locks?repo=art", headers=alice_headers, json=lock)
    client.post("/api/locks?repo=art", headers=bob_headers, json={**lock, "asset_path": "B.uasset"})
    client.post("/api/locks", headers=alice_headers, json=lock)  # `default`: not touched
    gone = client.delete("/api/repos/art", headers=admin_headers)
    assert gone.status_code == 200 and gone.get_json()["data"]["locks_deleted"] == 2
    rows = sorted((r.asset_path, r.owner, r.repository, r.reason, r.released_by) for r in LockRelease.query.all())
    assert rows == [("A.uasset", "alice", "art", "repo_deleted", admin.username),
                    ("B.uasset", "bob", "art", "repo_deleted", admin.username)]
    assert [lk.asset_path for lk in Lock.query.all()] == ["A.uasset"]
    audit = client.get("/api/admin/lock-releases?repo=art&reason=repo_deleted", headers=admin_headers)
    assert audit.status_code == 200 and audit.get_json()["data"]["total"] == 2


def test_cli_repository_deletion_audits_its_locks(runner, alice):
    art = repos.create("art")
    locks.acquire(art, alice, "A.uasset", "main")
    assert runner.invoke(args=["repos", "delete", "art"]).exit_code == 0
    [row] = LockRelease.query.all()
    assert (row.asset_path, row.repository, row.reason, row.released_by) == ("A.uasset", "art", "repo_deleted", "cli")
    assert Lock.query.count() == 0


def test_non_admins_cannot_manage_repositories(client, alice_headers, factory, alice):
    key = factory.api_key(["lfs"], user=alice)
    assert client.post("/api/repos", headers=alice_headers, json={"name": "mine"}).status_code == 403
    assert client.post("/api/repos", headers={"X-API-Key": key}, json={"name": "mine"}).status_code in (401, 403)
    assert client.post("/api/repos", json={"name": "mine"}).status_code == 401
    repos.create("theirs")
    assert client.delete("/api/repos/theirs", headers=alice_headers).status_code == 403
    assert client.patch("/api/repos/theirs", headers=alice_headers, json={"restricted": True}).status_code == 403
    assert client.put("/api/repos/theirs/members", headers=alice_headers,
                      json={"username": "alice", "access": "write"}).status_code == 403
    assert Repository.query.filter_by(name="mine").count() == 0 and RepositoryMember.query.count() == 0


@pytest.mark.parametrize("name", ["", "Upper", "-dash-first", "a" * 65, "bad/slash", "nul\x00", "x y", "ü"])
def test_hostile_repository_names_are_refused(client, admin_headers, name):
    resp = client.post("/api/repos", headers=admin_headers, json={"name": name})
    assert resp.status_code in (400, 422) and resp.get_json()["status"] == "error"
    assert Repository.query.filter(Repository.name != "default").count() == 0


@pytest.mark.parametrize("body", [
    {"name": "ok", "quota_bytes": 10**30},
    {"name": "ok", "quota_bytes": -1},
    {"name": "ok", "restricted": "yes please"},
    {"name": {"a": [[[[[[["deep"]]]]]]]}},
    {"name": "ok", "extra": 1},
])
def test_hostile_repository_bodies_are_refused(client, admin_headers, body):
    resp = client.post("/api/repos", headers=admin_headers, json=body)
    assert resp.status_code in (400, 422)
    assert Repository.query.filter_by(name="ok").count() == 0


def test_rest_lock_endpoints_take_an_optional_repo(client, alice_headers, bob_headers):
    repos.create("art")
    body = {"asset_path": "Content/Hero.uasset", "branch": "main"}
    assert client.post("/api/locks", headers=alice_headers, json=body).status_code == 201
    assert client.post("/api/locks?repo=art", headers=bob_headers, json=body).status_code == 201  # independent
    assert client.post("/api/locks?repo=art", headers=alice_headers, json=body).status_code == 409
    assert client.get("/api/locks/Content/Hero.uasset?repo=art", headers=alice_headers).get_json()["data"][
        "owner"] == "bob"
    assert client.get("/api/locks?repo=nope", headers=alice_headers).status_code == 404
    assert client.get("/api/locks?repo=Bad%00Name", headers=alice_headers).status_code in (400, 422)
    assert client.delete("/api/locks/Content/Hero.uasset?repo=art", headers=bob_headers).status_code == 200
    [audit] = LockRelease.query.all()
    assert (audit.repository, audit.reason, audit.released_by) == ("art", "owner", "bob")


def test_lfs_endpoint_auth_matrix(client, factory, alice, bob):
    repos.create("secret", restricted=True)
    repos.set_member("secret", "alice", "read")
    wrong_key = factory.api_key(["model:read"], user=alice)
    lfs_key = factory.api_key(["lfs"], user=alice)
    url = "/api/repos/secret/lfs/locks"
    anonymous = client.get(url, headers={"Accept": MEDIA})
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Basic")
    assert anonymous.mimetype == MEDIA
    assert client.get(url, headers=basic("bob")).status_code == 403  # not a member
    assert client.get(url, headers=basic("alice", wrong_key)).status_code in (401, 403)
    assert client.get(url, headers=basic("alice", lfs_key)).status_code == 200
    assert client.get(url, headers=basic("bob", lfs_key)).status_code == 401  # another account's key
    created = client.post(url, headers=basic("alice"), **lfs_json({"path": "A.uasset"}))
    assert created.status_code == 403 and Lock.query.count() == 0  # read access only
    batch = {"operation": "upload", "objects": [{"oid": "a" * 64, "size": 1}]}
    assert client.post("/api/repos/secret/lfs/objects/batch", headers=basic("alice"),
                       **lfs_json(batch)).status_code == 403
    assert client.get("/api/repos/nope/lfs/locks", headers=basic("alice")).status_code == 404


@pytest.mark.parametrize("objects", [
    [{"oid": "../../etc/passwd", "size": 1}],
    [{"oid": "A" * 64, "size": 1}],
    [{"oid": "a" * 64, "size": -1}],
    [{"oid": "a" * 64, "size": 10**40}],
    [{"oid": "a" * 64 + "\x00", "size": 1}],
    [{"oid": "a" * 64, "size": 1}] * 1001,
])
def test_hostile_batch_requests_are_refused(client, alice, objects):
    resp = client.post("/api/lfs/objects/batch", headers=basic("alice"),
                       **lfs_json({"operation": "upload", "objects": objects}))
    assert resp.status_code in (400, 422) and resp.mimetype == MEDIA


def test_batch_refuses_other_hash_algorithms_and_transfers(client, alice):
    obj = [{"oid": "a" * 64, "size": 1}]
    other = client.post("/api/lfs/objects/batch", headers=basic("alice"),
                        **lfs_json({"operation": "upload", "objects": obj, "hash_algo": "sha512"}))
    assert other.status_code == 409 and "sha256" in other.get_json()["message"]
    tus = client.post("/api/lfs/objects/batch", headers=basic("alice"),
                      **lfs_json({"operation": "upload", "objects": obj, "transfers": ["tus"]}))
    assert tus.status_code == 422


def test_sweep_and_branch_release_reach_every_repository(app, alice):
    from datetime import datetime, timedelta

    from services import clock

    art = repos.create("art")
    with clock.frozen(datetime(2026, 1, 1)):
        locks.acquire(repos.get("default"), alice, "A.uasset", "main")
        locks.acquire(art, alice, "A.uasset", "main")
    clock.freeze(datetime(2026, 1, 1) + timedelta(days=10))
    assert locks.release_expired_locks() == 2
    assert sorted(r.repository for r in LockRelease.query.all()) == ["art", "default"]


def test_cli_repos(runner, alice, bob):
    assert runner.invoke(args=["repos", "create", "art", "--restricted"]).exit_code == 0
    assert "exists" in runner.invoke(args=["repos", "create", "art"]).output
    assert runner.invoke(args=["repos", "grant", "art", "alice", "write"]).exit_code == 0
    listed = runner.invoke(args=["repos", "list"]).output
    assert "art\trestricted" in listed
    assert "alice\twrite" in runner.invoke(args=["repos", "members", "art"]).output
    assert runner.invoke(args=["repos", "revoke", "art", "alice"]).exit_code == 0
    assert runner.invoke(args=["repos", "open", "art"]).exit_code == 0
    assert repos.get("art").restricted is False
    assert runner.invoke(args=["repos", "delete", "art"]).exit_code == 0
    bad = runner.invoke(args=["repos", "create", "Bad Name"])
    assert bad.exit_code != 0 and "Invalid repository name" in bad.output
