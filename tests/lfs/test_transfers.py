"""Transfers on both backends: links are bound and short-lived, an interrupted upload leaves nothing, quota."""

import socket
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import requests

from models import LfsObject, RepositoryObject
from services import clock, repos
from tests.conftest import Factory, LiveServer, reset_rate_limits
from tests.lfs.conftest import basic, blob, lfs_json, s3_settings


def _upload_actions(client, repo, oid, size, who="alice"):
    resp = client.post(f"/api/repos/{repo}/lfs/objects/batch", headers=basic(who),
                       **lfs_json({"operation": "upload", "objects": [{"oid": oid, "size": size}]}))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["objects"][0]["actions"]


def test_an_interrupted_upload_leaves_no_object(lfs_app, lfs_client, lfs_factory, backend, tmp_path):
    lfs_factory.user("alice")
    data, oid = blob(2_000_000, b"cut")
    actions = _upload_actions(lfs_client, "default", oid, len(data))
    href = urlsplit(actions["upload"]["href"])
    with LiveServer(lfs_app) as live:
        if backend[0] == "local":
            href = urlsplit(live.url + actions["upload"]["href"].removeprefix("http://localhost"))
        with socket.create_connection((href.hostname, href.port), timeout=10) as sock:
            sock.sendall(f"PUT {href.path}?{href.query} HTTP/1.1\r\nHost: {href.netloc}\r\n"
                         f"Content-Length: {len(data)}\r\n\r\n".encode() + data[: len(data) // 2])
        # the connection is gone half-way; git-lfs would never call verify, but even if someone does:
        verify = urlsplit(actions["verify"]["href"])
        requests.post(f"{live.url}{verify.path}?{verify.query}", timeout=30)
    assert LfsObject.query.count() == 0 and RepositoryObject.query.count() == 0
    if backend[0] == "local":
        root = tmp_path / "lfs-store"
        assert [p for p in root.rglob("*") if p.is_file()] == []


def test_links_are_bound_to_one_object_and_operation_and_expire(lfs_client, lfs_factory, backend):
    lfs_factory.user("alice")
    data, oid = blob(1000)
    other, other_oid = blob(1000, b"other")
    verify = urlsplit(_upload_actions(lfs_client, "default", oid, len(data))["verify"]["href"])
    # the token of one object used for another, or for another operation: refused
    assert lfs_client.post(f"{verify.path.replace(oid, other_oid)}?{verify.query}").status_code == 401
    assert lfs_client.put(f"{verify.path.removesuffix('/verify')}?{verify.query}", data=data).status_code == 401
    assert lfs_client.put(f"{verify.path.removesuffix('/verify')}?token=forged", data=data).status_code == 401
    assert lfs_client.get(f"{verify.path.removesuffix('/verify')}").status_code == 401  # no token
    upload = f"{verify.path.removesuffix('/verify')}"
    fresh = urlsplit(_upload_actions(lfs_client, "default", oid, len(data))["upload"]["href"])
    clock.freeze(clock.now() + timedelta(seconds=settings_expiry(lfs_client) + 1))
    expired = lfs_client.put(f"{upload}?{fresh.query}", data=data) if backend[0] == "local" else \
        lfs_client.post(f"{verify.path}?{verify.query}")
    assert expired.status_code == 401 and "expired" in expired.get_json()["message"]
    assert LfsObject.query.count() == 0


def settings_expiry(client) -> int:
    return client.application.extensions["concierge.settings"]["lfs.transfer_expiry_seconds"]


def test_quota_is_413_with_a_clear_message(lfs_client, lfs_factory, backend):
    lfs_factory.user("alice")
    repos.create("small", quota_bytes=1500)
    data, oid = blob(1000)
    actions = _upload_actions(lfs_client, "small", oid, len(data))
    if backend[0] == "local":
        lfs_client.put(actions["upload"]["href"].removeprefix("http://localhost"), data=data)
    else:
        requests.put(actions["upload"]["href"], data=data, timeout=30)
    assert lfs_client.post(actions["verify"]["href"].removeprefix("http://localhost")).status_code == 200
    big, big_oid = blob(600, b"big")
    resp = lfs_client.post("/api/repos/small/lfs/objects/batch", headers=basic("alice"),
                           **lfs_json({"operation": "upload", "objects": [{"oid": big_oid, "size": len(big)}]}))
    assert resp.status_code == 413
    assert resp.get_json()["message"].startswith("Repository small is over its quota: 1000 of 1500 bytes used")


def test_an_object_uploaded_elsewhere_is_not_readable_without_uploading_it(lfs_client, lfs_factory, backend):
    lfs_factory.user("alice")
    lfs_factory.user("bob")
    repos.create("secret", restricted=True)
    repos.set_member("secret", "alice", "write")
    repos.create("public")
    data, oid = blob(5000, b"classified")
    actions = _upload_actions(lfs_client, "secret", oid, len(data))
    if backend[0] == "local":
        lfs_client.put(actions["upload"]["href"].removeprefix("http://localhost"), data=data)
    else:
        requests.put(actions["upload"]["href"], data=data, timeout=30)
    lfs_client.post(actions["verify"]["href"].removeprefix("http://localhost"))
    # bob knows the oid: claiming it in a repository he can write gives him upload actions, not the bytes
    claim = _upload_actions(lfs_client, "public", oid, len(data), who="bob")
    assert "upload" in claim
    down = lfs_client.post("/api/repos/public/lfs/objects/batch", headers=basic("bob"),
                           **lfs_json({"operation": "download", "objects": [{"oid": oid, "size": len(data)}]}))
    assert down.get_json()["objects"][0]["error"]["code"] == 404


def test_an_s3_upload_never_verified_is_not_visible(make_app, s3_server):
    """The bytes reach the bucket under tmp/ only; without the verify action no key, row or download exists."""
    import boto3

    bucket = f"lfs-{uuid.uuid4().hex[:8]}"
    app = make_app(s3_settings(s3_server, bucket))
    with app.app_context():
        reset_rate_limits(app)
        client = app.test_client()
        Factory(app).user("alice")
        data, oid = blob(200_000, b"unverified")
        actions = _upload_actions(client, "default", oid, len(data))
        assert requests.put(actions["upload"]["href"], data=data, timeout=30).status_code == 200
        s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert len(keys) == 1 and keys[0].startswith("lfs/tmp/")  # received, waiting for verify
        down = client.post("/api/lfs/objects/batch", headers=basic("alice"),
                           **lfs_json({"operation": "download", "objects": [{"oid": oid, "size": len(data)}]}))
        assert down.get_json()["objects"][0]["error"]["code"] == 404
        assert LfsObject.query.count() == 0 and RepositoryObject.query.count() == 0
        assert client.get("/api/repos/default", headers=Factory(app).headers(
            repos.accounts.find_by_username("alice"))).get_json()["data"]["objects"] == 0
