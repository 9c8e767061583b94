"""Session Server API reports: exact shapes, "all" aggregation, from/to, tz buckets (DST, +05:30), idle rule, CSV."""

import csv
import io
from datetime import datetime

import pytest

from services import clock
from tests.activity.conftest import APP


@pytest.fixture(autouse=True)
def frozen_clock(app):
    clock.freeze(datetime(2024, 6, 1, 12, 0))


@pytest.fixture
def week(admin_tracker):
    """alice: Mon 09:00-10:00 (paused 15 min), Mon 14:00-14:30, Tue 14:10-14:20; bob: Tue 14:00-16:00."""
    t = admin_tracker
    first = t.start("alice", "2024-01-01T09:00:00Z")
    t.event("pause", "alice", first, "2024-01-01T09:30:00Z")
    t.event("resume", "alice", first, "2024-01-01T09:45:00Z")
    t.event("end", "alice", first, "2024-01-01T10:00:00Z")
    second = t.session("alice", "2024-01-01T14:00:00Z", "2024-01-01T14:30:00Z")
    third = t.session("alice", "2024-01-02T14:10:00Z", "2024-01-02T14:20:00Z")
    t.session("bob", "2024-01-02T14:00:00Z", "2024-01-02T16:00:00Z")
    t.session("alice", "2024-01-03T09:00:00Z", "2024-01-03T12:00:00Z", app="other")  # another app
    return first, second, third


def test_heatmap_shape_is_top_level(tracker, week):
    resp = tracker.report("heatmap")
    assert resp.status_code == 200
    assert resp.get_json() == {"heatmap_data": {
        "daily_sessions": {"2024-01-01": 2, "2024-01-02": 1},
        "weekly_hourly": {"0": {"9": 1, "14": 1}, "1": {"14": 1}},
        "total_sessions": 3,
        "total_days_with_activity": 2,
        "date_range": {"start_date": "2024-01-01", "end_date": "2024-01-02"},
    }}


def test_heatmap_all_users(admin_tracker, week):
    data = admin_tracker.report("heatmap", user="all").get_json()["heatmap_data"]
    assert data["daily_sessions"] == {"2024-01-01": 2, "2024-01-02": 2}
    assert data["weekly_hourly"] == {"0": {"9": 1, "14": 1}, "1": {"14": 2}}


def test_empty_heatmap(tracker):
    assert tracker.report("heatmap").get_json()["heatmap_data"] == {
        "daily_sessions": {}, "weekly_hourly": {}, "total_sessions": 0, "total_days_with_activity": 0,
        "date_range": {"start_date": None, "end_date": None}}


def test_most_active(admin_tracker, week):
    resp = admin_tracker.report("most-active", user="all")
    assert resp.status_code == 200 and resp.get_json()["status"] == "success"
    assert resp.get_json()["data"] == {"most_active_day": "Monday", "most_active_hour": 14, "peak_sessions": 2}
    empty = admin_tracker.report("most-active", user="nobody").get_json()["data"]
    assert empty == {"most_active_day": None, "most_active_hour": None, "peak_sessions": 0}


def test_stats_and_summary(tracker, admin_tracker, week):
    stats = tracker.report("stats")
    assert stats.status_code == 200
    # alice: 45 + 30 + 10 minutes
    assert stats.get_json()["data"] == {"total_sessions": 3, "average_session_duration": "00:28:20",
                                        "total_time_spent": "01:25:00", "active_days": 2}
    summary = admin_tracker.report("summary", user="all").get_json()["data"]
    assert summary == {"total_sessions": 4, "total_duration": "03:25:00", "average_duration": "00:51:15",
                       "longest_session": "02:00:00", "shortest_session": "00:10:00"}


def test_durations_pass_24_hours(admin_tracker):
    for day in range(1, 6):
        admin_tracker.session("carol", f"2024-02-0{day}T00:00:00Z", f"2024-02-0{day}T10:00:00Z")
    summary = admin_tracker.report("summary", user="carol").get_json()["data"]
    assert summary["total_duration"] == "50:00:00"


def test_timeline_newest_first(tracker, week):
    first, second, third = week
    timeline = tracker.report("timeline").get_json()["data"]["timeline"]
    assert timeline == [
        {"session_id": third, "start_time": "2024-01-02T14:10:00.000Z", "end_time": "2024-01-02T14:20:00.000Z",
         "duration": "00:10:00"},
        {"session_id": second, "start_time": "2024-01-01T14:00:00.000Z", "end_time": "2024-01-01T14:30:00.000Z",
         "duration": "00:30:00"},
        {"session_id": first, "start_time": "2024-01-01T09:00:00.000Z", "end_time": "2024-01-01T10:00:00.000Z",
         "duration": "00:45:00"},
    ]


def test_timeline_limit_setting(client, admin_headers, admin_tracker, week):
    client.put("/api/admin/config", headers=admin_headers, json={"analytics.report_row_limit": 2})
    assert len(admin_tracker.report("timeline", user="all").get_json()["data"]["timeline"]) == 2


def test_daily_time_spent(tracker, week):
    resp = tracker.report("daily-time-spent")
    assert resp.status_code == 200
    assert resp.get_json()["data"] == {"daily_time": {"2024-01-01": "01:15:00", "2024-01-02": "00:10:00"}}


def test_session_timeline_detail(tracker, week):
    first, second, third = week
    detail = tracker.report("session-timeline-detail").get_json()["data"]["detailed_timeline"]
    assert [item["session_id"] for item in detail] == [third, second, first]
    assert detail[2]["events"] == [
        {"type": "start", "timestamp": "2024-01-01T09:00:00.000Z"},
        {"type": "pause", "timestamp": "2024-01-01T09:30:00.000Z"},
        {"type": "resume", "timestamp": "2024-01-01T09:45:00.000Z"},
        {"type": "end", "timestamp": "2024-01-01T10:00:00.000Z"},
    ]


def test_from_to_filter(tracker, week):
    resp = tracker.report("summary", **{"from": "2024-01-01T12:00:00Z", "to": "2024-01-02T00:00:00Z"})
    assert resp.get_json()["data"]["total_sessions"] == 1
    assert resp.get_json()["data"]["total_duration"] == "00:30:00"
    bad = tracker.report("summary", **{"from": "2024-01-02T00:00:00Z", "to": "2024-01-01T00:00:00Z"})
    assert bad.status_code == 422


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "../etc/passwd", "+05:30"])
def test_invalid_tz_is_422(tracker, tz):
    resp = tracker.report("heatmap", tz=tz)
    assert resp.status_code == 422 and resp.get_json()["details"][0]["loc"] == ["tz"]


def test_bad_report_input(tracker):
    assert tracker.post("/api/sessions/stats", {"app": APP}).status_code == 422
    assert tracker.report("stats", **{"from": "not a date"}).status_code == 422
    assert tracker.report("stats", format="xml").status_code == 422


def test_tz_buckets_across_dst_change(admin_tracker):
    # Europe/Berlin switches to summer time at 2024-03-31 01:00 UTC (02:00 -> 03:00 local)
    for start in ("2024-03-30T23:30:00Z",   # 00:30 CET on Sunday 31 March
                  "2024-03-31T00:30:00Z",   # 01:30 CET
                  "2024-03-31T01:30:00Z",   # 03:30 CEST
                  "2024-03-31T22:30:00Z"):  # 00:30 CEST on Monday 1 April
        admin_tracker.session("dora", start, start.replace(":30:00Z", ":40:00Z"))
    heatmap = admin_tracker.report("heatmap", user="dora", tz="Europe/Berlin").get_json()["heatmap_data"]
    assert heatmap["daily_sessions"] == {"2024-03-31": 3, "2024-04-01": 1}
    assert heatmap["weekly_hourly"] == {"6": {"0": 1, "1": 1, "3": 1}, "0": {"0": 1}}
    utc = admin_tracker.report("heatmap", user="dora").get_json()["heatmap_data"]
    assert utc["daily_sessions"] == {"2024-03-30": 1, "2024-03-31": 3}
    daily = admin_tracker.report("daily-time-spent", user="dora", tz="Europe/Berlin").get_json()["data"]
    assert daily == {"daily_time": {"2024-03-31": "00:30:00", "2024-04-01": "00:10:00"}}
    # the same buckets when the range is given explicitly (SQLite lays out the offsets over [from, to))
    ranged = admin_tracker.report("heatmap", user="dora", tz="Europe/Berlin",
                                  **{"from": "2024-03-01T00:00:00Z", "to": "2024-05-01T00:00:00Z"})
    assert ranged.get_json()["heatmap_data"]["weekly_hourly"] == heatmap["weekly_hourly"]


def test_tz_half_hour_offset_kolkata(admin_tracker):
    admin_tracker.session("ravi", "2024-01-01T18:29:00Z", "2024-01-01T18:39:00Z")  # 23:59 IST Monday
    admin_tracker.session("ravi", "2024-01-01T18:30:00Z", "2024-01-01T18:50:00Z")  # 00:00 IST Tuesday
    admin_tracker.session("ravi", "2024-01-01T20:00:00Z", "2024-01-01T20:05:00Z")  # 01:30 IST Tuesday
    heatmap = admin_tracker.report("heatmap", user="ravi", tz="Asia/Kolkata").get_json()["heatmap_data"]
    assert heatmap["daily_sessions"] == {"2024-01-01": 1, "2024-01-02": 2}
    assert heatmap["weekly_hourly"] == {"0": {"23": 1}, "1": {"0": 1, "1": 1}}
    most = admin_tracker.report("most-active", user="ravi", tz="Asia/Kolkata").get_json()["data"]
    assert most["most_active_day"] == "Tuesday"
    stats = admin_tracker.report("stats", user="ravi", tz="Asia/Kolkata").get_json()["data"]
    assert stats["active_days"] == 2
    assert admin_tracker.report("stats", user="ravi").get_json()["data"]["active_days"] == 1


def test_idle_rule_caps_open_sessions(admin_tracker):
    # clock: 2024-06-01 12:00; idle cap 30 minutes (default)
    admin_tracker.start("erin", "2024-06-01T10:00:00Z")  # open for 2 h: counts 30 min
    recent = admin_tracker.start("erin", "2024-06-01T11:50:00Z")  # open for 10 min: counts 10 min
    paused = admin_tracker.start("erin", "2024-06-01T09:00:00Z")
    admin_tracker.event("pause", "erin", paused, "2024-06-01T09:20:00Z")  # paused: counts its 20 min
    summary = admin_tracker.report("summary", user="erin").get_json()["data"]
    assert summary["total_duration"] == "01:00:00"
    assert summary["longest_session"] == "00:30:00" and summary["shortest_session"] == "00:10:00"
    timeline = admin_tracker.report("timeline", user="erin").get_json()["data"]["timeline"]
    assert timeline[0]["session_id"] == recent and timeline[0]["end_time"] is None


def test_csv_from_body_and_query(tracker, week):
    resp = tracker.report("daily-time-spent", format="csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert list(csv.reader(io.StringIO(resp.data.decode()))) == [
        ["date", "time_spent"], ["2024-01-01", "01:15:00"], ["2024-01-02", "00:10:00"]]
    query = tracker.client.post("/api/sessions/summary?format=csv", json={"app": APP, "user": "alice"},
                                headers=tracker.headers)
    rows = list(csv.reader(io.StringIO(query.data.decode())))
    assert query.mimetype == "text/csv" and rows[0][0] == "total_sessions" and rows[1][0] == "3"


@pytest.mark.parametrize("report, header", [
    ("heatmap", ["bucket", "date", "weekday", "hour", "sessions"]),
    ("most-active", ["most_active_day", "most_active_hour", "peak_sessions"]),
    ("stats", ["total_sessions", "average_session_duration", "total_time_spent", "active_days"]),
    ("timeline", ["session_id", "start_time", "end_time", "duration"]),
    ("time-by-page", ["page", "time_spent"]),
    ("session-timeline-detail", ["session_id", "type", "timestamp"]),
])
def test_every_report_has_csv(tracker, week, report, header):
    resp = tracker.report(report, format="csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.data.decode())))
    assert rows[0] == header
    if report == "heatmap":
        assert ["daily", "2024-01-01", "", "", "2"] in rows
    if report == "session-timeline-detail":
        assert len(rows) == 1 + 3 * 2 + 2  # header, two events per session, pause + resume once


def test_extreme_range_is_cheap_and_correct(admin_tracker):
    admin_tracker.session("ravi", "2024-01-01T20:00:00Z", "2024-01-01T20:05:00Z")
    resp = admin_tracker.report("heatmap", user="ravi", tz="America/New_York",
                                **{"from": "0001-01-01T00:00:00Z", "to": "9999-12-31T00:00:00Z"})
    assert resp.status_code == 200
    assert resp.get_json()["heatmap_data"]["daily_sessions"] == {"2024-01-01": 1}
    assert resp.get_json()["heatmap_data"]["weekly_hourly"] == {"0": {"15": 1}}
