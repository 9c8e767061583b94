"""Every error is JSON; the Session Server API's health endpoints; liveness and readiness."""

import pytest
from flask import Blueprint

from errors import use_family


def test_root_and_api_health_are_public_with_timestamp(client):
    root = client.post("/", json={"app": "my_app"}).get_json()
    api = client.post("/api/health", json={"app": "my_app"}).get_json()
    assert root["status"] == "success" and root["message"] == "Session Server is running"
    assert api["message"] == "API is healthy"
    assert api["timestamp"].endswith("Z") and "T" in api["timestamp"]


def test_health_accepts_an_empty_body(client):
    assert client.post("/api/health").status_code == 200


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["database"] == "ok"


def test_readyz_reports_an_unreachable_redis(make_app):
    app = make_app({"ratelimit.storage_uri": "redis://127.0.0.1:1/0"})
    with app.app_context():
        from services import readiness

        assert readiness.check_all()["redis"].startswith("error")


def test_unknown_route_is_json_404(client):
    resp = client.get("/no/such/thing")
    assert resp.status_code == 404
    assert resp.is_json and resp.get_json()["status"] == "error"


def test_wrong_method_is_json_405(client):
    resp = client.get("/api/login")
    assert resp.status_code == 405 and resp.is_json
    assert "POST" in resp.headers["Allow"]


def test_malformed_json_is_400(client):
    resp = client.post("/api/login", data='{"username": ', content_type="application/json")
    assert resp.status_code == 400
    assert resp.get_json()["message"] == "Malformed JSON body"


def test_non_json_body_is_415(client):
    resp = client.post("/api/login", data="username=a&password=b", content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 415 and resp.is_json


def test_oversize_body_is_json_413(make_app):
    app = make_app({"http.max_body_bytes": 1024})
    resp = app.test_client().post("/api/login", data="x" * 4096, content_type="application/json")
    assert resp.status_code == 413 and resp.is_json


def test_request_id_is_echoed(client):
    resp = client.get("/no/such/thing", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["X-Request-ID"] == "abc-123"
    assert resp.get_json()["request_id"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["X-Request-ID"]
    assert generated != "bad id with spaces" and len(generated) == 32


@pytest.mark.parametrize("family,expected", [
    ("envelope", {"status": "error", "message": "Internal server error", "details": None}),
    ("checkin", {"success": False, "error": "Internal server error"}),
    ("app1", {"error": "Internal server error"}),
])
def test_crash_is_json_500_in_each_family(make_app, family, expected):
    app = make_app()
    bp = use_family(Blueprint(f"boom_{family}", __name__), family)

    @bp.get(f"/boom/{family}")
    def boom():
        raise RuntimeError("secret internals")

    app.register_blueprint(bp)
    resp = app.test_client().get(f"/boom/{family}")
    assert resp.status_code == 500
    body = resp.get_json()
    for key, value in expected.items():
        assert body[key] == value
    assert "secret internals" not in resp.get_data(as_text=True)
