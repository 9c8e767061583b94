"""The Session Server API's session lifecycle: shapes, state rules, time rules, bad input."""

from datetime import datetime

import pytest

from services import clock
from tests.activity.conftest import APP


@pytest.fixture(autouse=True)
def frozen_clock(app):
    clock.freeze(datetime(2024, 6, 1, 12, 0))


def test_full_lifecycle_shapes_and_active_duration(tracker):
    resp = tracker.post("/api/sessions/start", {"user": "alice", "time": "2024-01-01T09:00:00.000Z",
                                                "status": "active", "app": APP})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "success" and body["message"] == "Session started successfully"
    sid = body["data"]["session_id"]
    assert body["data"] == {"session_id": sid, "user": "alice", "start_time": "2024-01-01T09:00:00.000Z",
                            "status": "active"}

    paused = tracker.event("pause", "alice", sid, "2024-01-01T09:30:00.000Z").get_json()
    assert paused["message"] == "Session paused successfully"
    assert paused["data"] == {"session_id": sid, "status": "paused", "pause_time": "2024-01-01T09:30:00.000Z"}

    resumed = tracker.event("resume", "alice", sid, "2024-01-01T09:45:00.000Z").get_json()
    assert resumed["message"] == "Session resumed successfully"
    assert resumed["data"] == {"session_id": sid, "status": "active", "resume_time": "2024-01-01T09:45:00.000Z"}

    ended = tracker.event("end", "alice", sid, "2024-01-01T10:30:00.000Z").get_json()
    assert ended["message"] == "Session ended successfully"
    # 30 min + 45 min active; the 15 min pause is excluded
    assert ended["data"] == {"session_id": sid, "status": "ended", "end_time": "2024-01-01T10:30:00.000Z",
                             "total_duration": "01:15:00"}


def test_time_defaults_to_server_clock(tracker):
    resp = tracker.post("/api/sessions/start", {"user": "alice", "app": APP})
    assert resp.status_code == 200 and resp.get_json()["data"]["start_time"] == "2024-06-01T12:00:00.000Z"


def test_end_from_paused_counts_only_active_time(tracker):
    sid = tracker.start("alice", "2024-01-01T09:00:00Z")
    tracker.event("pause", "alice", sid, "2024-01-01T09:10:00Z")
    ended = tracker.event("end", "alice", sid, "2024-01-01T11:00:00Z")
    assert ended.status_code == 200 and ended.get_json()["data"]["total_duration"] == "00:10:00"


@pytest.mark.parametrize("steps, kind, status", [
    ((), "resume", "active"),
    (("pause",), "pause", "paused"),
    (("end",), "pause", "ended"),
    (("end",), "resume", "ended"),
    (("end",), "end", "ended"),
    (("pause", "end"), "resume", "ended"),
])
def test_invalid_transitions_are_409(tracker, steps, kind, status):
    sid = tracker.start("alice", "2024-01-01T09:00:00Z")
    for minute, step in enumerate(steps, start=1):
        assert tracker.event(step, "alice", sid, f"2024-01-01T09:0{minute}:00Z").status_code == 200
    resp = tracker.event(kind, "alice", sid, "2024-01-01T09:30:00Z")
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["status"] == "error" and body["message"] == f"Cannot {kind} a session that is {status}"
    assert body["details"]["status"] == status


def test_time_may_not_go_backwards(tracker):
    sid = tracker.start("alice", "2024-01-01T09:00:00Z")
    assert tracker.event("pause", "alice", sid, "2024-01-01T09:30:00Z").status_code == 200
    resp = tracker.event("resume", "alice", sid, "2024-01-01T09:29:59Z")
    assert resp.status_code == 409
    assert resp.get_json()["message"] == "time is before the session's last event"
    # the session is unchanged: resuming at a later time still works
    assert tracker.event("resume", "alice", sid, "2024-01-01T09:31:00Z").get_json()["data"]["status"] == "active"


def test_future_time_is_refused_but_small_skew_is_fine(tracker):
    far = tracker.post("/api/sessions/start", {"user": "alice", "app": APP, "time": "2024-06-01T12:05:01Z"})
    assert far.status_code == 422 and far.get_json()["message"] == "time is in the future"
    near = tracker.post("/api/sessions/start", {"user": "alice", "app": APP, "time": "2024-06-01T12:04:59Z"})
    assert near.status_code == 200


def test_time_with_offset_is_stored_as_utc(tracker):
    resp = tracker.post("/api/sessions/start", {"user": "alice", "app": APP, "time": "2024-01-01T14:30:00+05:30"})
    assert resp.get_json()["data"]["start_time"] == "2024-01-01T09:00:00.000Z"


@pytest.mark.parametrize("body, field", [
    ({"app": APP}, "user"),
    ({"user": "alice"}, "app"),
    ({"user": "alice", "app": APP, "time": "yesterday"}, "time"),
    ({"user": "alice", "app": APP, "time": "2024-13-01T00:00:00Z"}, "time"),
    ({"user": "alice", "app": APP, "status": "paused"}, "status"),
    ({"user": "", "app": APP}, "user"),
])
def test_start_bad_input_is_422(tracker, body, field):
    resp = tracker.post("/api/sessions/start", body)
    assert resp.status_code == 422
    assert field in {d["loc"][0] for d in resp.get_json()["details"]}


def test_all_is_not_a_tracked_user_for_lifecycle(admin_tracker):
    resp = admin_tracker.post("/api/sessions/start", {"user": "all", "app": APP})
    assert resp.status_code == 422 and resp.get_json()["details"] == {"field": "user"}


def test_event_needs_session_id(tracker):
    resp = tracker.post("/api/sessions/pause", {"user": "alice", "app": APP})
    assert resp.status_code == 422 and resp.get_json()["details"][0]["loc"] == ["session_id"]


@pytest.mark.parametrize("session_id", ["0b5f4b4e-8d2c-4a43-9d4e-1b2f3c4d5e6f", "not-a-uuid"])
def test_unknown_session_is_404(tracker, session_id):
    resp = tracker.event("pause", "alice", session_id)
    assert resp.status_code == 404 and resp.get_json()["message"] == "Session not found"


def test_session_of_another_app_is_404(tracker):
    sid = tracker.start("alice", "2024-01-01T09:00:00Z", app="other")
    assert tracker.event("pause", "alice", sid, "2024-01-01T09:10:00Z").status_code == 404


def test_malformed_json_is_400(client, alice_headers):
    resp = client.post("/api/sessions/start", data="{nope", headers={**alice_headers,
                                                                       "Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.get_json()["status"] == "error"


def test_concurrent_events_apply_once(live_server, factory, admin):
    import threading

    import requests

    headers = factory.headers(admin)
    sid = requests.post(f"{live_server.url}/api/sessions/start", headers=headers,
                        json={"user": "zoe", "app": APP, "time": "2024-01-01T09:00:00Z"}).json()["data"]["session_id"]
    codes: list[int] = []

    def end():
        resp = requests.post(f"{live_server.url}/api/sessions/end", headers=headers,
                             json={"user": "zoe", "app": APP, "session_id": sid, "time": "2024-01-01T10:00:00Z"})
        codes.append(resp.status_code)

    threads = [threading.Thread(target=end) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200] + [409] * 7
    detail = requests.post(f"{live_server.url}/api/sessions/session-timeline-detail", headers=headers,
                           json={"user": "zoe", "app": APP}).json()["data"]["detailed_timeline"]
    assert [e["type"] for e in detail[0]["events"]] == ["start", "end"]
