"""Local-storage transfers through gunicorn, as deployed (both lanes): the upload reads gunicorn's `wsgi.input`
directly (Content-Length or chunked), the download goes out through sendfile, Range answers 206, and a body
that is not the announced object stores nothing."""

from __future__ import annotations

import hashlib
import uuid

import pytest
import requests

from tests.conftest import RUN_ID, throwaway_database
from tests.deploy.throwaway import Gunicorn
from tests.lfs.conftest import MEDIA, blob

ADMIN, ADMIN_PASSWORD = "lfsadmin", "lfs admin password"


@pytest.fixture(scope="module")
def server_database(tmp_path_factory):
    """The lane's database for this server alone: a temp SQLite file, or a new PostgreSQL database."""
    name = f"concierge_lfs_{RUN_ID}_{uuid.uuid4().hex[:6]}"
    with throwaway_database(tmp_path_factory.mktemp("gunicorn-db"), name) as url:
        yield url


@pytest.fixture(scope="module")
def gunicorn(server_database, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("lfs-gunicorn")
    with Gunicorn(workdir, {
        "CONCIERGE_ENV": "production", "DATABASE_URI": server_database, "JWT_SECRET_KEY": "l" * 48,
        "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4", "SCHEDULER_ENABLED": "false", "ACCESS_LOG": "false",
        "ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "8", "MAIL_ENABLED": "false", "LFS_STORAGE": "local",
        "LFS_LOCAL_ROOT": str(workdir / "lfs"), "PUBLIC_RATE_LIMIT": "100000 per minute",
        "LOGIN_RATE_LIMIT": "100000 per minute", "INITIAL_ADMIN_USER": ADMIN,
        "INITIAL_ADMIN_EMAIL": "lfsadmin@example.com", "INITIAL_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }) as server:
        yield server


def _batch(server: Gunicorn, operation: str, oid: str, size: int) -> dict:
    resp = requests.post(f"{server.url}/api/lfs/objects/batch", auth=(ADMIN, ADMIN_PASSWORD), timeout=30,
                         headers={"Accept": MEDIA, "Content-Type": MEDIA},
                         json={"operation": operation, "objects": [{"oid": oid, "size": size}]})
    assert resp.status_code == 200, resp.text
    return resp.json()["objects"][0]


def _stored(server: Gunicorn, oid: str, size: int) -> bool:
    return "actions" in _batch(server, "download", oid, size)


def _chunks(data: bytes, size: int = 65536):
    for start in range(0, len(data), size):
        yield data[start:start + size]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_upload_download_and_ranges_through_gunicorn(gunicorn, chunked):
    data, oid = blob(5_000_003, b"gunicorn-chunked" if chunked else b"gunicorn")
    actions = _batch(gunicorn, "upload", oid, len(data))["actions"]
    put = requests.put(actions["upload"]["href"], data=_chunks(data) if chunked else data, timeout=60)
    assert put.status_code == 200, put.text
    assert requests.post(actions["verify"]["href"], timeout=30).status_code == 200

    href = _batch(gunicorn, "download", oid, len(data))["actions"]["download"]["href"]
    whole = requests.get(href, timeout=60)
    assert whole.status_code == 200 and hashlib.sha256(whole.content).hexdigest() == oid
    for spec, expected in (("bytes=1000-1999", data[1000:2000]), ("bytes=4999990-", data[4999990:]),
                           ("bytes=-7", data[-7:]), ("bytes=0-0", data[:1])):
        part = requests.get(href, headers={"Range": spec}, timeout=60)
        assert part.status_code == 206 and part.content == expected, spec
        assert part.headers["Content-Range"].endswith(f"/{len(data)}")
    assert requests.get(href, headers={"Range": f"bytes={len(data)}-"}, timeout=30).status_code == 416


@pytest.mark.parametrize("body", ["longer", "shorter", "forged", "chunked-longer", "chunked-forged"])
def test_a_body_that_is_not_the_object_stores_nothing(gunicorn, body):
    data, oid = blob(300_000, body.encode())
    actions = _batch(gunicorn, "upload", oid, len(data))["actions"]
    sent = {"longer": data + b"x", "shorter": data[:-1], "forged": b"y" * len(data),
            "chunked-longer": _chunks(data + b"x" * 5), "chunked-forged": _chunks(b"y" * len(data))}[body]
    put = requests.put(actions["upload"]["href"], data=sent, timeout=60)
    assert put.status_code in (413, 422) and put.headers["Content-Type"].startswith(MEDIA), put.text
    assert requests.post(actions["verify"]["href"], timeout=30).status_code == 404
    assert not _stored(gunicorn, oid, len(data))
