"""Activity fixtures: a session driver and report posting helpers."""

from __future__ import annotations

import pytest

APP = "shop"


class Tracker:
    """Drives the Session Server API's endpoints the way a client app does."""

    def __init__(self, client, headers):
        self.client, self.headers = client, headers

    def post(self, path: str, body, headers=None, **kwargs):
        return self.client.post(path, json=body, headers=self.headers if headers is None else headers, **kwargs)

    def start(self, user: str, time: str | None = None, app: str = APP):
        body = {"user": user, "app": app, "status": "active"}
        if time:
            body["time"] = time
        resp = self.post("/api/sessions/start", body)
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()["data"]["session_id"]

    def event(self, kind: str, user: str, session_id: str, time: str | None = None, app: str = APP):
        body = {"user": user, "app": app, "session_id": session_id}
        if time:
            body["time"] = time
        return self.post(f"/api/sessions/{kind}", body)

    def session(self, user: str, start: str, end: str, app: str = APP) -> str:
        sid = self.start(user, start, app)
        assert self.event("end", user, sid, end, app).status_code == 200
        return sid

    def report(self, name: str, user: str = "alice", app: str = APP, headers=None, **extra):
        return self.post(f"/api/sessions/{name}", {"app": app, "user": user, **extra}, headers)

    def track(self, user: str, page: str, seconds, time: str | None = None, app: str = APP):
        body = {"user": user, "app": app, "page": page, "timespent": seconds}
        if time:
            body["time"] = time
        return self.client.post("/api/pages/track", json=body)


@pytest.fixture
def tracker(client, alice_headers):
    """Alice tracking herself with her own JWT."""
    return Tracker(client, alice_headers)


@pytest.fixture
def admin_tracker(client, admin_headers):
    return Tracker(client, admin_headers)
