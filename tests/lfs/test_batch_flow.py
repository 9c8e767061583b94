"""The Batch API and the basic transfers through the test client, on both storage backends."""

import requests

from models import LfsObject, RepositoryObject
from tests.lfs.conftest import MEDIA, basic, blob, lfs_json


def _batch(client, repo, operation, objects, who="alice"):
    return client.post(f"/api/repos/{repo}/lfs/objects/batch", headers=basic(who),
                       **lfs_json({"operation": operation, "transfers": ["basic"], "ref": {"name": "refs/heads/main"},
                                   "objects": [{"oid": o, "size": s} for o, s in objects], "hash_algo": "sha256"}))


def _send(client, action, data=None, method="PUT"):
    """Follow an action href: through the test client for our own URLs, over HTTP for the bucket's."""
    href = action["href"]
    if href.startswith("http://localhost/"):
        path = href.removeprefix("http://localhost")
        return client.open(path, method=method, data=data, headers=action.get("header") or {})
    resp = requests.request(method, href, data=data, headers=action.get("header") or {}, timeout=30)
    resp.status_code, resp.data = resp.status_code, resp.content  # same reading as a test-client response
    return resp


def test_upload_verify_download_roundtrip(lfs_client, lfs_factory, backend):
    lfs_factory.user("alice")
    data, oid = blob(300_000)
    resp = _batch(lfs_client, "default", "upload", [(oid, len(data))])
    assert resp.status_code == 200 and resp.mimetype == MEDIA
    body = resp.get_json()
    assert body["transfer"] == "basic" and body["hash_algo"] == "sha256"
    [obj] = body["objects"]
    assert obj["oid"] == oid and obj["authenticated"] is True
    assert set(obj["actions"]) == {"upload", "verify"} and obj["actions"]["upload"]["expires_in"] > 0
    assert _send(lfs_client, obj["actions"]["upload"], data).status_code == 200
    verified = _send(lfs_client, obj["actions"]["verify"], method="POST")
    assert verified.status_code == 200
    assert RepositoryObject.query.count() == 1 and LfsObject.query.one().size == len(data)

    again = _batch(lfs_client, "default", "upload", [(oid, len(data))]).get_json()["objects"][0]
    assert "actions" not in again  # already stored in this repository

    down = _batch(lfs_client, "default", "download", [(oid, len(data))]).get_json()["objects"][0]
    got = _send(lfs_client, down["actions"]["download"], method="GET")
    assert got.status_code == 200 and got.data == data
    ranged = dict(down["actions"]["download"], header={"Range": "bytes=10-19"})
    part = _send(lfs_client, ranged, method="GET")
    assert part.status_code == 206 and part.data == data[10:20]


def test_wrong_sha256_is_refused_and_nothing_is_stored(lfs_client, lfs_factory, backend):
    lfs_factory.user("alice")
    data, oid = blob(4096)
    forged = b"y" * len(data)
    obj = _batch(lfs_client, "default", "upload", [(oid, len(data))]).get_json()["objects"][0]
    put = _send(lfs_client, obj["actions"]["upload"], forged)
    verify = _send(lfs_client, obj["actions"]["verify"], method="POST")
    assert put.status_code == 422 or verify.status_code == 422
    assert verify.status_code != 200
    assert LfsObject.query.count() == 0 and RepositoryObject.query.count() == 0
    down = _batch(lfs_client, "default", "download", [(oid, len(data))]).get_json()["objects"][0]
    assert down["error"]["code"] == 404
