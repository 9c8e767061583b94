"""Console sign-in, the cookie session and its CSRF protection, on the real app (both lanes)."""

from __future__ import annotations

from tests.console.conftest import ConsoleClient


def test_pages_redirect_and_endpoints_refuse_without_a_session(client):
    page = client.get("/console/locks")
    assert page.status_code == 302
    assert page.headers["Location"].endswith("/console/login?next=/console/locks")
    assert client.get("/console/api/locks").status_code == 401
    assert client.delete("/console/api/repos/default/locks/1", json={}).status_code == 401
    assert client.get("/console/").status_code == 302


def test_sign_in_sets_an_httponly_samesite_cookie_scoped_to_the_console(console, alice):
    session = console()
    response = session.sign_in("alice")
    assert response.headers["Location"].endswith("/console/locks")
    cookies = response.headers.getlist("Set-Cookie")
    access = next(c for c in cookies if c.startswith("access_token_cookie="))
    assert "HttpOnly" in access and "SameSite=Lax" in access and "Path=/console/" in access
    csrf = next(c for c in cookies if c.startswith("csrf_access_token="))
    assert "HttpOnly" not in csrf and "Path=/console/" in csrf  # the page's script reads it
    page = session.call("GET", "/console/locks")
    assert page.status_code == 200 and b"alice" in page.data
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_cookies_are_secure_when_the_request_came_over_https(make_app, factory):
    app = make_app({"http.trusted_proxies": 1})
    with app.app_context():
        factory.user("carol")
        session = ConsoleClient(app.test_client())
        page = session.client.get("/console/login", headers={"X-Forwarded-Proto": "https"})
        nonce = page.get_data(as_text=True).split('name="nonce" value="')[1].split('"')[0]
        response = session.client.post("/console/login", headers={"X-Forwarded-Proto": "https"},
                                        data={"username": "carol", "password": "correct horse battery", "nonce": nonce})
        assert response.status_code == 302
        assert all("; Secure" in c for c in response.headers.getlist("Set-Cookie"))


def test_wrong_password_and_unknown_user_are_refused_alike(console, alice):
    wrong = console().sign_in("alice", "not the password", expect=401)
    unknown = console().sign_in("nobody", "not the password", expect=401)
    assert b"Wrong username or password" in wrong.data and b"Wrong username or password" in unknown.data
    assert "access_token_cookie" not in " ".join(wrong.headers.getlist("Set-Cookie"))


def test_sign_in_without_the_form_nonce_is_refused(client, alice):
    response = client.post("/console/login", data={"username": "alice", "password": "correct horse battery"})
    assert response.status_code == 403
    assert client.get_cookie("access_token_cookie", path="/console/") is None


def test_hostile_sign_in_input_is_a_4xx(client, alice):
    for username, password in (("al\x00ice", "x"), ("a" * 65, "x"), ("alice", "p" * 257), ("", "")):
        page = client.get("/console/login")
        nonce = page.get_data(as_text=True).split('name="nonce" value="')[1].split('"')[0]
        response = client.post("/console/login", data={"username": username, "password": password, "nonce": nonce})
        assert response.status_code == 422, username


def test_sign_in_shares_the_login_rate_limit_with_the_api(make_app, factory):
    app = make_app({"ratelimit.login": "2 per minute"})
    with app.app_context():
        from tests.conftest import reset_rate_limits

        reset_rate_limits(app)
        factory.user("dave")
        api = app.test_client()
        assert api.post("/api/login", json={"username": "dave", "password": "wrong-wrong"}).status_code == 401
        session = ConsoleClient(app.test_client())
        session.sign_in("dave", "wrong-wrong", expect=401)
        refused = session.sign_in("dave", "correct horse battery", expect=429)
        assert b"Too many sign-in attempts" in refused.data
        assert api.post("/api/login", json={"username": "dave", "password": "wrong-wrong"}).status_code == 429


def test_state_change_without_csrf_token_is_refused(console, alice, alice_headers, take_lock):
    lock = take_lock(alice_headers, "Content/Hero.uasset")
    session = console("alice")
    url = f"/console/api/repos/default/locks/{lock['id']}"
    missing = session.call("DELETE", url, json={}, csrf=False)
    assert missing.status_code == 403 and "CSRF" in missing.get_json()["message"]
    wrong = session.client.delete(url, json={}, headers={"X-CSRF-TOKEN": "not-the-token"})
    assert wrong.status_code == 403
    still = session.call("GET", "/console/api/locks").get_json()["data"]
    assert [item["asset_path"] for item in still["items"]] == ["Content/Hero.uasset"]


def test_sign_out_revokes_the_session_token(console, alice):
    session = console("alice")
    token = session.client.get_cookie("access_token_cookie", path="/console/").value
    assert session.client.post("/console/logout", data={}).status_code == 403  # no CSRF field: refused
    response = session.client.post("/console/logout", data={"csrf_token": session.csrf})
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/login")
    assert session.call("GET", "/console/api/locks").status_code == 401
    # the old cookie, replayed, is revoked (not merely deleted from the browser)
    session.client.set_cookie("access_token_cookie", token, path="/console/")
    assert session.call("GET", "/console/api/locks").status_code == 401


def test_api_ignores_the_console_cookie_and_the_console_ignores_api_keys(console, client, alice, factory):
    session = console("alice")
    token = session.client.get_cookie("access_token_cookie", path="/console/").value
    assert client.get("/api/locks", headers={"Cookie": f"access_token_cookie={token}"}).status_code == 401
    key = factory.api_key(["analytics:read"], user=alice)
    assert client.get("/console/api/locks", headers={"X-API-Key": key}).status_code == 401
    bearer = {"Authorization": f"Bearer {factory.token(alice)}"}
    assert client.get("/console/api/locks", headers=bearer).status_code == 401
