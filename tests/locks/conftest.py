"""Lock fixtures: a helper to lock a path through the API."""

import pytest


@pytest.fixture
def lock_path(client):
    """lock_path(headers, path, branch="main") -> the response of POST /api/locks."""

    def acquire(headers, path, branch="main", comment=None):
        body = {"asset_path": path, "branch": branch}
        if comment is not None:
            body["comment"] = comment
        return client.post("/api/locks", headers=headers, json=body)

    return acquire
