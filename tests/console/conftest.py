"""Console helpers: sign in through the real form (nonce and all) and call the console's JSON endpoints with the
cookie and its CSRF token, as the console's own script does."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD

NONCE = re.compile(r'name="nonce" value="([^"]+)"')


class ConsoleClient:
    """A Flask test client signed in to the console (its cookie jar holds the session)."""

    def __init__(self, client):
        self.client = client
        self.csrf = ""

    def sign_in(self, username: str, password: str = PASSWORD, expect: int = 302):
        page = self.client.get("/console/login")
        nonce = NONCE.search(page.get_data(as_text=True)).group(1)
        response = self.client.post("/console/login", data={"username": username, "password": password,
                                                           "nonce": nonce, "next": "/console/locks"})
        assert response.status_code == expect, response.get_data(as_text=True)[:500]
        cookie = self.client.get_cookie("csrf_access_token", path="/console/")
        self.csrf = cookie.value if cookie else ""
        return response

    def call(self, method: str, url: str, json=None, csrf: bool = True, **kwargs):
        headers = {"X-CSRF-TOKEN": self.csrf} if csrf and method != "GET" else {}
        return self.client.open(url, method=method, json=json, headers=headers, **kwargs)


@pytest.fixture
def console(app):
    """A factory of signed-in console clients: `console("alice")`."""

    def make(username: str | None = None, password: str = PASSWORD) -> ConsoleClient:
        session = ConsoleClient(app.test_client())
        if username is not None:
            session.sign_in(username, password)
        return session

    return make


@pytest.fixture
def take_lock(client):
    """Lock a path through the JSON API (not the console)."""

    def take(headers: dict, path: str, branch: str = "main") -> dict:
        response = client.post("/api/locks", json={"asset_path": path, "branch": branch}, headers=headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["data"]

    return take
