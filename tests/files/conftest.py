"""Workspace fixtures: an app with its own storage root and small limits, a session owned by alice."""

import pytest

from services import app_sessions
from tests.conftest import reset_rate_limits

MAX_FILE = 1000
QUOTA = 2500


@pytest.fixture
def app(make_app, tmp_path):
    app = make_app({"workspace.root": str(tmp_path / "workspace"), "workspace.max_file_bytes": MAX_FILE,
                    "workspace.quota_bytes": QUOTA, "users.settings_max_bytes": 200})
    with app.app_context():
        reset_rate_limits(app)
        yield app


@pytest.fixture
def root(app):
    return app.extensions["concierge.settings"]["workspace.root"]


@pytest.fixture
def session_id(alice):
    return str(app_sessions.create_session("alice").session_id)


@pytest.fixture
def files_url(session_id):
    return f"/api/app-sessions/{session_id}/files"
