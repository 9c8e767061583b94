"""Database unreachable: each contract family answers a JSON 503 in its own error shape, never a 500.

On both lanes: the app under test points its real driver at a loopback port nobody listens on, so every
query meets a refused connection (what a stopped PostgreSQL looks like). tests/deploy/test_faults.py
checks the same through gunicorn while a real PostgreSQL restarts under load.
"""

from __future__ import annotations

import uuid

import pytest
from flask_jwt_extended import create_access_token

from app import create_app
from errors import LFS_MEDIA_TYPE
from tests.conftest import free_port


@pytest.fixture
def unreachable(base_settings, tmp_path, monkeypatch):
    """A client of an app whose database refuses connections, and a well-signed token (checking it needs
    the database)."""
    monkeypatch.setenv("CONCIERGE_INSTANCE", str(tmp_path / "instance"))
    app = create_app({**base_settings, "database.uri": f"postgresql://nobody@127.0.0.1:{free_port()}/none"})
    with app.app_context():
        token = create_access_token(identity=str(uuid.uuid4()))
    return app.test_client(), {"Authorization": f"Bearer {token}"}


def _unavailable(response, media_type: str = "application/json") -> dict:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == media_type
    assert response.headers["Retry-After"] == "1"
    return response.get_json(force=True)


def test_envelope_family(unreachable):
    client, _ = unreachable
    body = _unavailable(client.post("/api/login", json={"username": "someone", "password": "a-password-1"}))
    assert body["status"] == "error" and body["message"] == "Database unavailable, retry shortly"
    assert body["request_id"]


def test_checkin_family_the_session_systems_shape(unreachable):
    client, bearer = unreachable
    body = _unavailable(client.post("/api/checkin", headers=bearer))
    assert body["success"] is False and body["error"] == "Database unavailable, retry shortly"


def test_git_lfs_family(unreachable):
    client, bearer = unreachable
    body = _unavailable(client.post("/api/lfs/locks", headers=bearer, json={"path": "Content/a.uasset"}),
                        LFS_MEDIA_TYPE)
    assert body["message"] == "Database unavailable, retry shortly" and body["request_id"]


def test_relay_family_a_flat_error(unreachable):
    client, bearer = unreachable
    body = _unavailable(client.post("/new_session", headers=bearer, json={"user_id": "u1", "app_id": "a1"}))
    assert body["error"] == "Database unavailable, retry shortly"
    assert "status" not in body and "success" not in body
