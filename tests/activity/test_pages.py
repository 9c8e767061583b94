"""The Session Server API's page tracking: single and batch track, bad input, page stats and time by page."""

from datetime import datetime

import pytest

from services import clock
from tests.activity.conftest import APP


@pytest.fixture(autouse=True)
def frozen_clock(app):
    clock.freeze(datetime(2024, 6, 1, 12, 0))


def test_track_shape(client):
    resp = client.post("/api/pages/track", json={"user": "john_doe", "page": "/dashboard", "timespent": 120,
                                                 "app": APP})
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "success", "message": "Page visit tracked successfully",
                               "data": {"page": "/dashboard", "time_spent": 120,
                                        "timestamp": "2024-06-01T12:00:00.000Z"}}


def test_track_fractional_seconds_and_client_time(tracker):
    resp = tracker.track("alice", "/a", 1.5, "2024-05-31T10:00:00Z")
    assert resp.get_json()["data"] == {"page": "/a", "time_spent": 1.5, "timestamp": "2024-05-31T10:00:00.000Z"}


@pytest.mark.parametrize("body, field", [
    ({"user": "u", "page": "/a", "timespent": -1, "app": APP}, "timespent"),
    ({"user": "u", "page": "/a", "timespent": "abc", "app": APP}, "timespent"),
    ({"user": "u", "page": "/a", "timespent": "120", "app": APP}, "timespent"),
    ({"user": "u", "page": "/a", "timespent": True, "app": APP}, "timespent"),
    ({"user": "u", "page": "/a", "app": APP}, "timespent"),
    ({"user": "u", "timespent": 1, "app": APP}, "page"),
    ({"user": "u", "page": "dashboard", "timespent": 1, "app": APP}, "page"),
    ({"page": "/a", "timespent": 1, "app": APP}, "user"),
    ({"user": "u", "page": "/a", "timespent": 1}, "app"),
    ({"user": "u", "page": "/a", "timespent": 1, "app": APP, "time": "nope"}, "time"),
])
def test_track_bad_input_is_422(client, body, field):
    resp = client.post("/api/pages/track", json=body)
    assert resp.status_code == 422
    # a single visit is a batch of one: locations start with the item index
    assert [0, field] in [d["loc"][:2] for d in resp.get_json()["details"]]


def test_track_future_time_is_422(tracker):
    resp = tracker.track("alice", "/a", 1, "2024-06-01T13:00:00Z")
    assert resp.status_code == 422 and resp.get_json()["message"] == "time is in the future"


def test_batch_track(client, admin_tracker):
    visits = [{"user": "u1", "app": APP, "page": "/a", "timespent": 10},
              {"user": "u2", "app": APP, "page": "/b", "timespent": 20, "time": "2024-06-01T11:00:00Z"}]
    resp = client.post("/api/pages/track", json=visits)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["message"] == "Page visits tracked successfully" and body["data"]["tracked"] == 2
    assert body["data"]["visits"][1] == {"page": "/b", "time_spent": 20, "timestamp": "2024-06-01T11:00:00.000Z"}
    stats = admin_tracker.post("/api/pages/stats", {"app": APP, "user": "all"}).get_json()["data"]["page_stats"]
    assert set(stats) == {"/a", "/b"}


def test_batch_is_all_or_nothing(client, admin_tracker):
    visits = [{"user": "u1", "app": APP, "page": "/a", "timespent": 10},
              {"user": "u1", "app": APP, "page": "/b", "timespent": -5}]
    resp = client.post("/api/pages/track", json=visits)
    assert resp.status_code == 422 and resp.get_json()["details"][0]["loc"][:2] == [1, "timespent"]
    future = [{"user": "u1", "app": APP, "page": "/a", "timespent": 10},
              {"user": "u1", "app": APP, "page": "/b", "timespent": 5, "time": "2030-01-01T00:00:00Z"}]
    resp = client.post("/api/pages/track", json=future)
    assert resp.status_code == 422 and resp.get_json()["details"]["index"] == 1
    stats = admin_tracker.post("/api/pages/stats", {"app": APP, "user": "all"}).get_json()["data"]
    assert stats == {"page_stats": {}}


def test_batch_size_is_bounded(client, admin_headers):
    client.put("/api/admin/config", headers=admin_headers, json={"analytics.track_batch_max": 2})
    visit = {"user": "u1", "app": APP, "page": "/a", "timespent": 1}
    resp = client.post("/api/pages/track", json=[visit] * 3)
    assert resp.status_code == 422 and resp.get_json()["details"] == {"max": 2, "got": 3}
    assert client.post("/api/pages/track", json=[visit] * 2).status_code == 200
    empty = client.post("/api/pages/track", json=[])
    assert empty.status_code == 422 and empty.get_json()["message"] == "Empty batch"


def test_page_stats_shape(tracker):
    for seconds in (60, 120, 90):
        tracker.track("alice", "/dashboard", seconds)
    tracker.track("alice", "/profile", 270)
    tracker.track("bob", "/profile", 1000)
    resp = tracker.post("/api/pages/stats", {"app": APP, "user": "alice"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "success"
    assert resp.get_json()["data"] == {"page_stats": {
        "/dashboard": {"visits": 3, "total_time": "00:04:30", "average_time": "00:01:30"},
        "/profile": {"visits": 1, "total_time": "00:04:30", "average_time": "00:04:30"},
    }}
    page_time = tracker.report("time-by-page").get_json()["data"]
    assert page_time == {"page_time": {"/dashboard": "00:04:30", "/profile": "00:04:30"}}


def test_page_reports_filter_by_time_and_bucket_nothing_else(tracker):
    tracker.track("alice", "/a", 100, "2024-05-01T10:00:00Z")
    tracker.track("alice", "/a", 50, "2024-05-20T10:00:00Z")
    resp = tracker.post("/api/pages/stats", {"app": APP, "user": "alice", "from": "2024-05-10T00:00:00Z"})
    assert resp.get_json()["data"]["page_stats"]["/a"] == {"visits": 1, "total_time": "00:00:50",
                                                          "average_time": "00:00:50"}
    csv_resp = tracker.post("/api/pages/stats", {"app": APP, "user": "alice", "format": "csv"})
    assert csv_resp.mimetype == "text/csv"
    assert csv_resp.data.decode().splitlines() == ["page,visits,total_time,average_time", "/a,2,00:02:30,00:01:15"]
