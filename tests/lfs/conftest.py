"""LFS fixtures: an app per storage backend (local files, or S3 on a real moto server the tests start),
Basic credentials, and helpers for the Batch API."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import time

import pytest
import requests

from tests.conftest import PASSWORD, PROJECT_ROOT, Factory, free_port, reset_rate_limits

MEDIA = "application/vnd.git-lfs+json"
BACKENDS = ("local", "s3")


def basic(username: str, secret: str = PASSWORD) -> dict:
    token = base64.b64encode(f"{username}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Accept": MEDIA}


def lfs_json(body) -> dict:
    return {"data": json.dumps(body), "content_type": MEDIA}


def blob(n: int, seed: bytes = b"x") -> tuple[bytes, str]:
    data = (hashlib.sha256(seed).digest() * (n // 32 + 1))[:n]
    return data, hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="session")
def s3_server():
    """moto's standalone S3 server (a real HTTP server), started once per run on a free port."""
    port = free_port()
    proc = subprocess.Popen([str(PROJECT_ROOT / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(url, timeout=2)
            break
        except requests.RequestException:
            time.sleep(0.1)
    else:
        proc.kill()
        raise AssertionError("moto_server did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def s3_settings(url: str, bucket: str) -> dict:
    import boto3

    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=bucket)
    return {"lfs.storage": "s3", "lfs.s3.bucket": bucket, "lfs.s3.endpoint_url": url,
            "lfs.s3.access_key_id": "testing", "lfs.s3.secret_access_key": "testing", "lfs.s3.prefix": "lfs/"}


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    """Setting overrides for one storage backend (the test runs once per backend)."""
    if request.param == "s3":
        bucket = f"lfs-{os.urandom(4).hex()}"
        return "s3", s3_settings(request.getfixturevalue("s3_server"), bucket)
    return "local", {"lfs.local_root": str(tmp_path / "lfs-store")}


@pytest.fixture
def lfs_app(make_app, backend):
    app = make_app(backend[1])
    with app.app_context():
        reset_rate_limits(app)
        yield app


@pytest.fixture
def lfs_client(lfs_app):
    return lfs_app.test_client()


@pytest.fixture
def lfs_factory(lfs_app):
    return Factory(lfs_app)
