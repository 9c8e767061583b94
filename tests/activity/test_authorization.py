"""DESIGN.md: an account acts for its username; admins and app-bound keys for anyone; "all" needs one of those."""

from datetime import datetime

import pytest

from services import clock
from tests.activity.conftest import APP, Tracker
from tests.conftest import reset_rate_limits


@pytest.fixture(autouse=True)
def frozen_clock(app):
    clock.freeze(datetime(2024, 6, 1, 12, 0))


def test_no_credentials_is_401(client):
    for path in ("/api/sessions/start", "/api/sessions/summary", "/api/pages/stats"):
        resp = client.post(path, json={"user": "alice", "app": APP})
        assert resp.status_code == 401 and resp.get_json()["status"] == "error", path


def test_account_may_not_act_for_another_user(tracker, admin_tracker):
    sid = admin_tracker.start("bob", "2024-01-01T09:00:00Z")
    start = tracker.post("/api/sessions/start", {"user": "bob", "app": APP})
    assert start.status_code == 403
    assert start.get_json()["message"] == "Not allowed to act for user 'bob' in app 'shop'"
    assert tracker.event("end", "bob", sid).status_code == 403
    for report in ("summary", "heatmap", "timeline"):
        assert tracker.report(report, user="bob").status_code == 403
        assert tracker.report(report, user="all").status_code == 403
    assert tracker.post("/api/pages/stats", {"app": APP, "user": "bob"}).status_code == 403


def test_admin_acts_for_anyone_and_all(admin_tracker):
    admin_tracker.session("bob", "2024-01-01T09:00:00Z", "2024-01-01T09:20:00Z")
    admin_tracker.session("carol", "2024-01-01T10:00:00Z", "2024-01-01T10:10:00Z")
    resp = admin_tracker.report("summary", user="all")
    assert resp.status_code == 200 and resp.get_json()["data"]["total_sessions"] == 2


def test_app_bound_key_acts_for_its_app_only(client, factory):
    writer = Tracker(client, {"X-API-Key": factory.api_key(["track:write"], APP)})
    reader = Tracker(client, {"X-API-Key": factory.api_key(["analytics:read"], APP)})
    sid = writer.start("zoe", "2024-01-01T09:00:00Z")
    assert writer.event("end", "zoe", sid, "2024-01-01T09:05:00Z").status_code == 200
    assert reader.report("stats", user="all").get_json()["data"]["total_sessions"] == 1
    assert reader.report("stats", user="zoe").status_code == 200
    # another app: 403; a missing scope: 403
    assert writer.post("/api/sessions/start", {"user": "zoe", "app": "other"}).status_code == 403
    assert reader.report("stats", user="all", app="other").status_code == 403
    denied = reader.post("/api/sessions/start", {"user": "zoe", "app": APP})
    assert denied.status_code == 403 and denied.get_json()["message"] == "API key lacks the required scope"


def test_unbound_key_acts_for_nobody(client, factory):
    key = Tracker(client, {"X-API-Key": factory.api_key(["track:write", "analytics:read"])})
    assert key.post("/api/sessions/start", {"user": "zoe", "app": APP}).status_code == 403


def test_public_reports_404_until_app_is_public(client, admin_headers, admin_tracker):
    admin_tracker.session("bob", "2024-01-01T09:00:00Z", "2024-01-01T09:30:00Z")
    for path in ("/api/sessions/public-summary", "/api/sessions/public-timeline"):
        resp = client.post(path, json={"app": APP, "user": "bob"})
        assert resp.status_code == 404 and resp.get_json()["message"] == "Public analytics for this app not found"
    put = client.put("/api/admin/config", headers=admin_headers, json={"analytics.public_apps": [APP]})
    assert put.status_code == 200
    summary = client.post("/api/sessions/public-summary", json={"app": APP, "user": "bob"})
    private = admin_tracker.report("summary", user="bob")
    assert summary.status_code == 200 and summary.get_json()["data"] == private.get_json()["data"]
    assert summary.get_json()["data"]["total_duration"] == "00:30:00"
    timeline = client.post("/api/sessions/public-timeline", json={"app": APP, "user": "all"})
    assert timeline.status_code == 200
    assert timeline.get_json()["data"] == admin_tracker.report("timeline", user="all").get_json()["data"]
    assert client.post("/api/sessions/public-summary", json={"app": "other", "user": "bob"}).status_code == 404


def test_public_apps_setting_is_strictly_typed(client, admin_headers):
    resp = client.put("/api/admin/config", headers=admin_headers, json={"analytics.public_apps": "shop"})
    assert resp.status_code == 422


def test_public_endpoints_are_rate_limited(make_app):
    app = make_app({"ratelimit.public": "2 per minute", "analytics.public_apps": [APP]})
    client = app.test_client()
    with app.app_context():
        reset_rate_limits(app)
    visit = {"user": "u", "app": APP, "page": "/a", "timespent": 1}
    codes = [client.post("/api/pages/track", json=visit).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    codes = [client.post("/api/sessions/public-summary", json={"app": APP, "user": "u"}).status_code
             for _ in range(3)]
    assert codes == [200, 200, 429]
