"""Retention purge job and erasure of one (app, user) pair."""

from datetime import datetime

import pytest

import jobs
from services import clock
from tests.activity.conftest import APP, Tracker


@pytest.fixture(autouse=True)
def frozen_clock(app):
    clock.freeze(datetime(2024, 6, 1, 12, 0))


@pytest.fixture
def data(admin_tracker):
    admin_tracker.session("alice", "2024-01-01T09:00:00Z", "2024-01-01T10:00:00Z")
    admin_tracker.session("alice", "2024-05-30T09:00:00Z", "2024-05-30T10:00:00Z")
    admin_tracker.session("bob", "2024-05-30T09:00:00Z", "2024-05-30T09:30:00Z")
    admin_tracker.session("alice", "2024-05-30T09:00:00Z", "2024-05-30T09:30:00Z", app="other")
    for user, when in (("alice", "2024-01-01T09:10:00Z"), ("alice", "2024-05-30T09:10:00Z"),
                       ("bob", "2024-05-30T09:10:00Z")):
        assert admin_tracker.track(user, "/home", 60, when).status_code == 200


def _count(tracker, user, app=APP):
    summary = tracker.report("summary", user=user, app=app).get_json()["data"]["total_sessions"]
    pages = tracker.post("/api/pages/stats", {"app": app, "user": user}).get_json()["data"]["page_stats"]
    return summary, sum(p["visits"] for p in pages.values())


def test_erasure_removes_every_trace(client, admin_headers, admin_tracker, data):
    resp = client.delete(f"/api/analytics/apps/{APP}/users/alice", headers=admin_headers)
    assert resp.status_code == 200
    assert resp.get_json()["data"] == {"sessions": 2, "page_visits": 2}
    assert _count(admin_tracker, "alice") == (0, 0)
    detail = admin_tracker.report("session-timeline-detail", user="all").get_json()["data"]["detailed_timeline"]
    assert len(detail) == 1  # bob's only
    assert _count(admin_tracker, "bob") == (1, 1)
    assert _count(admin_tracker, "alice", app="other") == (1, 0)


def test_erasure_by_app_key_and_refused_to_accounts(client, factory, tracker, data):
    denied = client.delete(f"/api/analytics/apps/{APP}/users/alice", headers=tracker.headers)
    assert denied.status_code == 403
    other_key = {"X-API-Key": factory.api_key(["track:write"], "other")}
    assert client.delete(f"/api/analytics/apps/{APP}/users/alice", headers=other_key).status_code == 403
    key = {"X-API-Key": factory.api_key(["track:write"], APP)}
    resp = client.delete(f"/api/analytics/apps/{APP}/users/alice", headers=key)
    assert resp.status_code == 200 and resp.get_json()["data"]["sessions"] == 2
    assert client.delete(f"/api/analytics/apps/{APP}/users/alice").status_code == 401


def test_retention_purge_job(make_app):
    app = make_app({"analytics.retention_days": 30})
    with app.app_context():
        from tests.conftest import Factory

        factory = Factory(app)
        admin_tracker = Tracker(app.test_client(), factory.headers(factory.user("root", is_admin=True)))
        clock.freeze(datetime(2024, 6, 1, 12, 0))
        admin_tracker.session("alice", "2024-01-01T09:00:00Z", "2024-01-01T10:00:00Z")
        kept = admin_tracker.session("alice", "2024-05-30T09:00:00Z", "2024-05-30T10:00:00Z")
        old_open = admin_tracker.start("alice", "2024-04-01T09:00:00Z")
        admin_tracker.track("alice", "/old", 5, "2024-01-01T09:10:00Z")
        admin_tracker.track("alice", "/new", 5, "2024-05-30T09:10:00Z")
        assert jobs.execute("purge_activity_data") == {"sessions": 2, "page_visits": 1}
        timeline = admin_tracker.report("timeline", user="alice").get_json()["data"]["timeline"]
        assert [t["session_id"] for t in timeline] == [kept]
        assert old_open not in str(admin_tracker.report("session-timeline-detail", user="all").get_json())
        pages = admin_tracker.post("/api/pages/stats", {"app": APP, "user": "alice"}).get_json()["data"]
        assert list(pages["page_stats"]) == ["/new"]
        assert jobs.execute("purge_activity_data") == {"sessions": 0, "page_visits": 0}  # idempotent


def test_retention_zero_keeps_everything(admin_tracker, data):
    assert jobs.execute("purge_activity_data") == {"sessions": 0, "page_visits": 0}
    assert _count(admin_tracker, "alice") == (2, 2)


def test_purge_job_is_declared():
    assert jobs.job_by_id("purge_activity_data").target == "services.activity:purge_expired"


def test_cli_erase_and_purge(runner, admin_tracker, data):
    result = runner.invoke(args=["analytics", "erase", APP, "alice"])
    assert result.exit_code == 0 and result.output.strip() == 'erased: {"sessions": 2, "page_visits": 2}'
    assert _count(admin_tracker, "alice") == (0, 0)
    result = runner.invoke(args=["analytics", "purge"])
    assert result.exit_code == 0 and result.output.strip() == 'purged: {"sessions": 0, "page_visits": 0}'
