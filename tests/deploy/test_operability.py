"""Operability: /metrics, the proxy fix, gunicorn with deploy/gunicorn.conf.py (shared metrics, JSON logs)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def _served(text: str, endpoint: str) -> float:
    pattern = rf'^flask_http_request_duration_seconds_count\{{[^}}]*endpoint="{re.escape(endpoint)}"[^}}]*\}} (\S+)$'
    return sum(float(v) for v in re.findall(pattern, text, re.M))


def test_metrics_are_prometheus_text_by_endpoint(client):
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = response.get_data(as_text=True)
    assert _served(text, "health.healthz") == 3
    assert 'concierge_app_info{version="1.0.0"} 1.0' in text
    assert "flask_http_request_total" in text
    assert response.headers["X-Request-ID"]


def test_metrics_can_be_switched_off(make_app):
    app = make_app({"metrics.enabled": False})
    response = app.test_client().get("/metrics")
    assert response.status_code == 404
    assert response.get_json()["status"] == "error"


def _whoami_client(app):
    """A client of `app` with one extra route that shows what the app believes about the caller."""
    from flask import jsonify, request

    app.add_url_rule("/_whoami", "whoami", lambda: jsonify(addr=request.remote_addr, scheme=request.scheme,
                                                            host=request.host))
    return app.test_client()


FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "concierge.example"}


def test_behind_one_proxy_client_address_and_scheme_come_from_x_forwarded(make_app):
    client = _whoami_client(make_app({"http.trusted_proxies": 1}))
    seen = client.get("/_whoami", headers=FORWARDED, environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json()
    assert seen == {"addr": "203.0.113.7", "scheme": "https", "host": "concierge.example"}
    # a client's own spoofed entry is left of the proxy's: only the last hop counts
    seen = client.get("/_whoami", headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.8"},
                      environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json()
    assert seen["addr"] == "203.0.113.8"


def test_without_trusted_proxies_x_forwarded_headers_are_ignored(make_app):
    client = _whoami_client(make_app({"http.trusted_proxies": 0}))
    seen = client.get("/_whoami", headers=FORWARDED, environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json()
    assert seen == {"addr": "10.0.0.2", "scheme": "http", "host": "localhost"}


def _access_pids(path: Path) -> set[int]:
    return {json.loads(line)["pid"] for line in path.read_text().splitlines() if '"gunicorn.access"' in line}


def _get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


@pytest.mark.slow
def test_gunicorn_workers_share_metrics_and_log_json_with_request_ids(base_settings, migrated, tmp_path):
    port = free_port()
    env = {**os.environ, "FLASK_APP": "app", "CONCIERGE_INSTANCE": str(tmp_path / "instance"),
           "CONCIERGE_CONFIG": str(tmp_path / "config.json"), "DATABASE_URI": base_settings["database.uri"],
           "JWT_SECRET_KEY": "k" * 40, "SCHEDULER_ENABLED": "false", "GUNICORN_BIND": f"127.0.0.1:{port}",
           "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "2", "LOG_JSON": "true", "ACCESS_LOG": "true",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
           # shared limits: in-memory ones would make gunicorn run a single worker
           "RATELIMIT_STORAGE_URI": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")}
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "counter_999999.db").write_bytes(b"stale")  # a previous run's file: removed at start
    log = open(tmp_path / "gunicorn.log", "w")  # noqa: SIM115
    server = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-c", "deploy/gunicorn.conf.py", "app:app"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if _get(url + "/healthz")[0] == 200:
                    break
            except OSError:
                assert time.time() < deadline and server.poll() is None, (tmp_path / "gunicorn.log").read_text()
                time.sleep(0.2)
        assert not (tmp_path / "metrics" / "counter_999999.db").exists()
        sent = 0
        with ThreadPoolExecutor(8) as pool:
            # concurrent batches until both workers have served some (bounded)
            while sent < 800 and len(_access_pids(tmp_path / "gunicorn.log")) < 2:
                results = list(pool.map(lambda i: _get(url + "/healthz", {"X-Request-ID": f"deploy-test-{i}"}),
                                        range(sent, sent + 40)))
                assert all(r[0] == 200 and r[1]["X-Request-ID"] == f"deploy-test-{sent + n}"
                           for n, r in enumerate(results))
                sent += 40
                time.sleep(0.1)
        _, _, body = _get(url + "/metrics")
        # every request counted, whichever worker served it and whichever answers /metrics
        assert _served(body.decode(), "health.healthz") == sent + 1  # + the readiness poll's success
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0
        log.close()
    lines = [json.loads(line) for line in (tmp_path / "gunicorn.log").read_text().splitlines() if line.startswith("{")]
    access = {e["request_id"]: e for e in lines if e["logger"] == "gunicorn.access"}
    assert {f"deploy-test-{i}" for i in range(sent)} <= set(access)
    entry = access["deploy-test-0"]
    assert entry["method"] == "GET" and entry["path"] == "/healthz" and entry["status"] == 200
    assert len({e["pid"] for e in access.values()}) == 2  # both workers served, yet /metrics counted all
    assert any(e["logger"] == "gunicorn.error" and "Booting worker" in e["message"] for e in lines)
