"""Hardening by default (issue 17.8), on both lanes: security headers on every response (errors included),
no-store on everything that carries a token or a key, the API docs from our own assets, /metrics for allowed
addresses only, and private files (instance folder 0700, database and secrets 0600)."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask_migrate import upgrade

import hardening
from extensions import db
from models import ApiKey
from tests.conftest import PASSWORD, LiveServer, free_port, reset_rate_limits
from tests.console.conftest import ConsoleClient
from tests.lfs.conftest import MEDIA, basic, blob, lfs_json

FRAMED_BY_NOBODY = re.compile(r"frame-ancestors 'none'")


def assert_hardened(response, *, cacheable: bool = False) -> None:
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] in ("no-referrer", "same-origin")
    assert headers["X-Frame-Options"] == "DENY"
    assert FRAMED_BY_NOBODY.search(headers["Content-Security-Policy"])
    if cacheable:
        assert "no-store" not in headers.get("Cache-Control", "")
    else:
        assert headers["Cache-Control"] == "no-store"


# ------------------------------------------------------------------ headers on answers and errors

def test_security_headers_on_a_200_and_on_json_errors(client, alice_headers):
    ok = client.get("/api/currentuser", headers=alice_headers)
    assert ok.status_code == 200
    assert_hardened(ok)
    assert ok.headers["Content-Security-Policy"].startswith("default-src 'none'")  # JSON loads nothing

    unauthorized = client.get("/api/currentuser")
    not_found = client.get("/api/no-such-route")
    invalid = client.post("/api/login", json={"username": "alice"})  # a 4xx from validation, not a 500
    wrong_method = client.delete("/api/login")
    nul_in_url = client.get("/api/locks?path=a%00b", headers=alice_headers)
    for response, status in ((unauthorized, 401), (not_found, 404), (invalid, 422), (wrong_method, 405),
                             (nul_in_url, 400)):
        assert response.status_code == status, response.get_data(as_text=True)
        assert response.get_json()["status"] == "error"
        assert_hardened(response)


def test_security_headers_on_a_429(make_app, factory):
    app = make_app({"ratelimit.login": "2 per minute"})
    with app.app_context():
        reset_rate_limits(app)
        client = app.test_client()
        statuses = [client.post("/api/login", json={"username": "nobody", "password": "wrong"}) for _ in range(3)]
        assert [r.status_code for r in statuses] == [401, 401, 429]
        assert_hardened(statuses[-1])
        assert statuses[-1].headers["Retry-After"]


def test_security_headers_on_a_crash(make_app):
    app = make_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    crashed = app.test_client().get("/boom")
    assert crashed.status_code == 500 and crashed.get_json()["status"] == "error"
    assert_hardened(crashed)


def test_headers_on_other_contract_families(client, alice):
    app1 = client.post("/new_session", json={})  # App1's own error shape
    lfs = client.get("/api/repos/default/lfs/locks", headers={"Accept": MEDIA})  # Git LFS's own shape
    assert app1.status_code in (400, 401, 422) and lfs.status_code == 401
    assert_hardened(app1)
    assert_hardened(lfs)


# ------------------------------------------------------------------ no-store where tokens and keys travel

def test_no_store_on_login_refresh_and_account_changes(client, alice):
    login = client.post("/api/login", json={"username": "alice", "password": PASSWORD})
    assert login.status_code == 200 and login.get_json()["access_token"]
    assert_hardened(login)
    refreshed = client.post("/api/token/refresh",
                            headers={"Authorization": f"Bearer {login.get_json()['refresh_token']}"})
    assert refreshed.status_code == 200 and refreshed.get_json()["access_token"]
    assert_hardened(refreshed)
    access = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    changed = client.put("/api/users/me/password", headers=access,
                         json={"current_password": PASSWORD, "new_password": "another long passphrase"})
    assert changed.status_code < 300, changed.get_json()
    assert_hardened(changed)


def test_no_store_on_api_key_creation(client, admin_headers):
    created = client.post("/api/admin/api-keys", headers=admin_headers,
                          json={"name": "ci", "scopes": ["model:read"]})
    assert created.status_code == 201 and created.get_json()["data"]["key"].startswith("ck_")
    assert_hardened(created)
    assert ApiKey.query.count() == 1


def test_no_store_on_the_console_sign_in_and_its_pages_but_not_its_assets(app, alice):
    console = ConsoleClient(app.test_client())
    form = console.client.get("/console/login")
    assert form.status_code == 200
    assert_hardened(form)
    signed_in = console.sign_in("alice")
    assert "access_token_cookie=" in " ".join(signed_in.headers.getlist("Set-Cookie"))
    assert_hardened(signed_in)
    assert_hardened(console.call("GET", "/console/locks"))
    asset = console.client.get("/console/static/console.css")
    assert asset.status_code == 200
    assert_hardened(asset, cacheable=True)  # static files may be cached (and revalidated)


def test_no_store_on_lfs_batch_answers_with_signed_links(client, alice):
    data, oid = blob(1000)
    batch = client.post("/api/repos/default/lfs/objects/batch", headers=basic("alice"),
                        **lfs_json({"operation": "upload", "transfers": ["basic"],
                                    "objects": [{"oid": oid, "size": len(data)}], "hash_algo": "sha256"}))
    assert batch.status_code == 200, batch.get_data(as_text=True)
    assert "token=" in batch.get_json()["objects"][0]["actions"]["upload"]["href"]
    assert_hardened(batch)


# ------------------------------------------------------------------ the API docs from our own assets

LINKS = re.compile(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", re.I)


def test_api_docs_page_uses_only_its_own_assets(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    links = LINKS.findall(html)
    assert links and all(link.startswith("/") and not link.startswith("//") for link in links), links
    assert "https://" not in html and "//cdn" not in html and "unpkg" not in html
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert_hardened(page)
    for link in links:
        asset = client.get(link)
        assert asset.status_code == 200, link
        assert_hardened(asset, cacheable=True)
    assert b"SwaggerUIBundle" in client.get(next(link for link in links if "bundle" in link)).data
    assert "/api/openapi.json" in html and client.get("/api/openapi.json").status_code == 200


CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.mark.skipif(not CHROMIUM or not Path(CHROMEDRIVER).exists(),
                    reason="chromium / chromium-driver are not installed (scripts/test.sh installs them)")
def test_api_docs_render_in_chromium_from_this_origin_only(live_server):
    """The page works under its own CSP (no violation), draws the operations, and asks no other origin."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-default-apps"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(live_server.url + "/api/docs")
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
        paths = {e.text.replace("\u200b", "") for e in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
        assert "/api/login" in paths
        # open an operation: its parameters, schemas and the highlighted example draw under the policy too
        login = "#operations-auth-post__api_login"
        driver.find_element(By.CSS_SELECTOR, f"{login} .opblock-summary-control").click()
        WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, f"{login} .try-out"))
        driver.find_element(By.CSS_SELECTOR, f"{login} .try-out__btn").click()
        WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, f"{login} textarea"))
        requested = [json.loads(entry["message"])["message"]["params"]["request"]["url"]
                     for entry in driver.get_log("performance")
                     if json.loads(entry["message"])["message"]["method"] == "Network.requestWillBeSent"]
        foreign = [url for url in requested if not url.startswith((live_server.url + "/", "data:", "blob:"))]
        assert requested and foreign == [], foreign
        violations = [entry["message"] for entry in driver.get_log("browser")
                      if "Content Security Policy" in entry["message"]]
        assert violations == []
    finally:
        driver.quit()


def test_no_cdn_pages_under_api_docs(app, client):
    pages = [rule.rule for rule in app.url_map.iter_rules()
             if rule.rule.startswith("/api/docs") and "<" not in rule.rule and "GET" in rule.methods]
    assert set(pages) == {"/api/docs", "/api/docs/openapi.json"}
    for path in ("/api/docs/swagger/", "/api/docs/redoc/", "/api/docs/scalar/"):
        assert client.get(path).status_code == 404


# ------------------------------------------------------------------ /metrics for allowed addresses only

def _metrics(client, remote: str, **headers):
    return client.get("/metrics", environ_base={"REMOTE_ADDR": remote}, headers=headers)


def test_metrics_refused_to_other_addresses_and_allowed_from_loopback(client):
    for remote in ("203.0.113.7", "10.1.2.3", "192.168.1.5", "::ffff:203.0.113.7", "2001:db8::1"):
        refused = _metrics(client, remote)
        assert refused.status_code == 403, remote
        assert refused.get_json()["status"] == "error" and b"flask_http" not in refused.data
        assert_hardened(refused)
    for remote in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        allowed = _metrics(client, remote)
        assert allowed.status_code == 200 and b"concierge_app_info" in allowed.data, remote
        assert_hardened(allowed)


def test_metrics_behind_a_proxy_judge_the_forwarded_client(make_app):
    client = make_app({"http.trusted_proxies": 1}).test_client()
    # nginx on loopback forwarding a public client: the client is who counts, not nginx
    assert _metrics(client, "127.0.0.1", **{"X-Forwarded-For": "203.0.113.7"}).status_code == 403
    assert _metrics(client, "127.0.0.1", **{"X-Forwarded-For": "127.0.0.1"}).status_code == 200
    # without a trusted proxy a forged header changes nothing
    direct = make_app().test_client()
    assert _metrics(direct, "203.0.113.7", **{"X-Forwarded-For": "127.0.0.1"}).status_code == 403


def test_metrics_allow_from_is_a_setting(make_app):
    client = make_app({"metrics.allow_from": ["10.0.0.0/8"]}).test_client()
    assert _metrics(client, "10.20.30.40").status_code == 200
    assert _metrics(client, "127.0.0.1").status_code == 403
    with pytest.raises(ValueError):
        make_app({"metrics.allow_from": ["not-an-address"]})


# ------------------------------------------------------------------ through nginx (deploy/nginx.conf)

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
ROOT = Path(__file__).resolve().parent.parent


def _get(port: int, method: str, path: str, body: bytes | None = None, source: str = "127.0.0.1"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data


@pytest.fixture
def nginx_in_front(make_app, tmp_path):
    """The real deploy/nginx.conf in front of the app (TRUSTED_PROXIES=1), as `make e2e` runs it."""
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (scripts/test.sh installs it)")
    sys.path.insert(0, str(ROOT / "scripts"))
    from render_template import render

    app = make_app({"http.trusted_proxies": 1})
    folder = tmp_path / "nginx"
    folder.mkdir()
    folder.chmod(0o755)  # nginx's workers (nobody) write their temp files here
    with LiveServer(app) as server:
        port = free_port()
        values = {"NGINX_LISTEN": f"127.0.0.1:{port}", "API_UPSTREAM": server.url.removeprefix("http://"),
                  "NGINX_CLIENT_MAX_BODY_SIZE": "1k", "NGINX_RUN_DIR": str(folder),
                  "NGINX_ACCESS_LOG": str(folder / "access.log"), "NGINX_ERROR_LOG": str(folder / "error.log"),
                  "METRICS_ALLOW_FROM": "127.0.0.1"}
        conf = folder / "nginx.conf"
        conf.write_text(render((ROOT / "deploy/nginx.conf").read_text(), list(values), values))
        process = subprocess.Popen([NGINX, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(conf),
                                    "-g", "daemon off;"])
        try:
            for _ in range(100):  # until nginx listens (bounded)
                try:
                    _get(port, "GET", "/healthz")
                    break
                except OSError:
                    time.sleep(0.1)
            yield port, server
        finally:
            process.terminate()
            process.wait(10)


def test_through_nginx_every_answer_is_hardened(nginx_in_front):
    port, server = nginx_in_front
    ok, _ = _get(port, "GET", "/healthz")
    metrics, text = _get(port, "GET", "/metrics")  # allowed by nginx, and by the app from X-Forwarded-For
    forbidden, denied = _get(port, "GET", "/metrics", source="127.0.0.2")  # nginx's own JSON 403
    too_large, _ = _get(port, "POST", "/api/login", body=b"{" + b" " * 4096 + b"}")  # nginx's own JSON 413
    assert (ok.status, metrics.status, forbidden.status, too_large.status) == (200, 200, 403, 413)
    assert b"concierge_app_info" in text and json.loads(denied)["status"] == "error"
    server.server.shutdown()  # the api is gone (refused connections): nginx's own JSON 502
    server.server.server_close()
    unavailable, body = _get(port, "GET", "/api/currentuser")
    assert unavailable.status == 502 and json.loads(body)["status"] == "error"
    for response in (ok, metrics, forbidden, too_large, unavailable):
        assert response.getheader("X-Content-Type-Options") == "nosniff"
        assert response.getheader("X-Frame-Options") == "DENY"
        assert response.getheader("Referrer-Policy") == "no-referrer"
        assert "frame-ancestors 'none'" in response.getheader("Content-Security-Policy")
        assert response.getheader("Cache-Control") == "no-store"
        assert len(response.headers.get_all("Content-Security-Policy")) == 1  # nginx adds none to the api's


def test_compose_lets_the_network_scrape_the_api_directly():
    import yaml

    sys.path.insert(0, str(ROOT / "scripts"))
    import env_example

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    value = compose["services"]["api"]["environment"]["METRICS_ALLOWED_SOURCES"]
    default = re.fullmatch(r"\$\{METRICS_ALLOWED_SOURCES:-(.+)\}", value).group(1)
    assert default == env_example.COMPOSE_VALUES["METRICS_ALLOWED_SOURCES"]
    networks = hardening._networks(json.loads(default))
    assert hardening.address_allowed("172.18.0.5", networks) and hardening.address_allowed("127.0.0.1", networks)
    assert not hardening.address_allowed("203.0.113.7", networks)


# ------------------------------------------------------------------ private files

def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    """The usual umask (022), so that only the app's own care can make the files private."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _fresh_app(make_app, monkeypatch, instance):
    from app import create_app

    monkeypatch.setenv("CONCIERGE_INSTANCE", str(instance))
    app = create_app({"app.env": "development", "database.uri": "", "jwt.secret_key": "", "scheduler.enabled": False,
                      "log.json": False, "config_json": str(instance.parent / "config.json"),
                      "security.argon2.time_cost": 1, "security.argon2.memory_kib": 8})
    with app.app_context():
        upgrade()  # creates every table in instance/concierge.db
        db.engine.dispose()
    return app


def test_fresh_instance_database_and_secrets_are_private(make_app, monkeypatch, tmp_path, open_umask):
    instance = tmp_path / "instance"
    app = _fresh_app(make_app, monkeypatch, instance)
    assert _mode(instance) == 0o700
    assert _mode(instance / "concierge.db") == 0o600
    assert _mode(instance / "jwt_secret") == 0o600
    with app.test_request_context():
        from services import alohomora, storage, workspace

        alohomora.notification_secret()
        workspace.root()
        storage.build(app.extensions["concierge.settings"], app.instance_path)
    assert _mode(instance / "alohomora_notification_secret") == 0o600
    assert _mode(instance / "workspace") == 0o700
    assert _mode(instance / "lfs") == 0o700
    leftovers = [p.name for p in instance.iterdir() if _mode(p) & 0o077]
    assert leftovers == []


def test_an_existing_open_instance_is_tightened(make_app, monkeypatch, tmp_path, open_umask):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    (instance / "concierge.db").touch(mode=0o644)
    assert _mode(instance) == 0o755 and _mode(instance / "concierge.db") == 0o644
    _fresh_app(make_app, monkeypatch, instance)
    assert _mode(instance) == 0o700
    assert _mode(instance / "concierge.db") == 0o600
