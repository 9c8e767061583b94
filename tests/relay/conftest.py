"""Relay fixtures: a real Alohomora stand-in over HTTP, an app pointed at it, relay credentials."""

import pytest

from tests.alohomora_standin import AlohomoraStandIn
from tests.conftest import reset_rate_limits

SECRET = "callback-secret-for-tests-0123456789"


@pytest.fixture
def standin():
    with AlohomoraStandIn() as server:
        yield server


@pytest.fixture
def app(make_app, standin, tmp_path):
    app = make_app({"alohomora.base_url": standin.url, "alohomora.timeout": 0.5,
                    "alohomora.notification_secret": SECRET, "workspace.root": str(tmp_path / "workspace")})
    with app.app_context():
        reset_rate_limits(app)
        yield app


@pytest.fixture
def static_setting(app):
    """Change a static setting of this test's app (each test builds its own app)."""

    def change(key: str, value):
        app.extensions["concierge.settings"][key] = value

    return change


@pytest.fixture
def relay_headers(factory):
    return {"X-API-Key": factory.api_key(["relay"])}


@pytest.fixture
def new_session(client, relay_headers):
    def create(user_id: str = "app-user-1", **extra) -> str:
        resp = client.post("/new_session", headers=relay_headers, json={"user_id": user_id, **extra})
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()["session_id"]

    return create


def token_body(session_id: str, token: str = "tok-abc-123", **extra) -> dict:
    body = {"session_id": session_id, "token": token, "workflow_id": "wf-1", "function_id": "fn-1",
            "system_id": "sys-1", "token_metadata": {"expires_at": "2030-01-01T00:00:00Z",
                                                     "additional_data": {"k": "v"}}}
    body.update(extra)
    return body


def notification(token_id: str = "tok-notify-1", create_local_session: bool = True, **status) -> dict:
    """Alohomora's exact notification payload (server/serverapp.py notify_systems_about_token)."""
    return {
        "token_id": token_id,
        "session_info": {"user_id": "app-user-9", "workflow_id": "wf-1", "session_id": None,
                         "create_local_session": create_local_session},
        "workflow_status": status if status else {"total_instances": None, "completed_instances": None,
                                                  "in_progress_instances": None, "failed_instances": None},
        "notification_metadata": {"sent_at": "2026-11-23T10:00:00.123456", "source_system_id": "sys-2",
                                  "token_metadata": {}},
    }
