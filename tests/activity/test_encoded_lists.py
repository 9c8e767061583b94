"""`timeline` and `session-timeline-detail` on PostgreSQL: the database encodes the list (services.analytics
json_statement). It must say exactly what the Python shaping says (envelope.iso_z / hhmmss) on other
databases: the same rows through both paths, including the awkward values."""

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from models import ActivitySession, SessionEvent
from services import analytics, clock
from tests.activity.conftest import APP
from tests.conftest import LANE

pytestmark = pytest.mark.skipif(LANE != "postgres", reason="the database-encoded lists are PostgreSQL's")

NOW = datetime(2025, 3, 30, 12, 0, 0)
# (started_at, ended_at, active_seconds): half-second ties (Python rounds half to even), a duration over
# 100 hours, a time with microseconds (milliseconds are truncated, not rounded), an open session
# whose running stretch counts, and a negative value that shows as zero.
ROWS = [
    (datetime(2025, 3, 1, 8, 0, 0), datetime(2025, 3, 1, 8, 0, 3), 2.5),
    (datetime(2025, 3, 2, 8, 0, 0), datetime(2025, 3, 2, 8, 0, 4), 3.5),
    (datetime(2025, 3, 3, 8, 0, 0, 999_999), datetime(2025, 3, 7, 20, 15, 0, 123_456), 404_100.0),
    (datetime(2025, 3, 4, 8, 0, 0), None, 61.0),
    (datetime(2025, 3, 5, 8, 0, 0), datetime(2025, 3, 5, 8, 0, 0), -4.0),
    (datetime(2025, 3, 5, 8, 0, 0), datetime(2025, 3, 5, 9, 0, 0), 3599.5),  # same start: ordered by id
]


@pytest.fixture
def sessions(db):
    clock.freeze(NOW)
    ids = []
    for started, ended, seconds in ROWS:
        sid = uuid.uuid4()
        ids.append(sid)
        status = "ended" if ended else "active"
        db.session.execute(insert(ActivitySession).values(
            id=sid, app=APP, user="alice", status=status, started_at=started, ended_at=ended,
            active_seconds=seconds, last_resumed_at=None if ended else NOW - timedelta(seconds=90),
            last_event_at=ended or started))
        db.session.execute(insert(SessionEvent).values(session_id=sid, type="start", at=started))
        if ended:
            db.session.execute(insert(SessionEvent).values(session_id=sid, type="end", at=ended))
    db.session.commit()
    return ids


@pytest.mark.parametrize("report", ["timeline", "session-timeline-detail"])
def test_database_encoding_matches_python_shaping(client, admin_headers, sessions, report):
    f = analytics.ReportFilter(app=APP, user="all", tz="UTC")
    python_shaped = analytics.run(report, f)
    assert len(next(iter(python_shaped.values()))) == len(ROWS)
    resp = client.post(f"/api/sessions/{report}", json={"app": APP, "user": "all"}, headers=admin_headers)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "success" and body["message"]
    assert body["data"] == python_shaped


# Each filter shape is its own statement, built once with bind parameters: every shape, twice each (the
# second time reuses the statement with other values), against the Python shaping of the same filter.
SHAPES = [
    {"user": "alice"},
    {"user": "bob"},
    {"user": "all", "from": "2025-03-02T00:00:00Z"},
    {"user": "all", "to": "2025-03-05T00:00:00Z"},
    {"user": "alice", "from": "2025-03-02T00:00:00Z", "to": "2025-03-05T08:30:00Z"},
    {"user": "alice", "from": "2025-03-03T00:00:00Z", "to": "2025-03-06T00:00:00Z"},
]


@pytest.mark.parametrize("report", ["timeline", "session-timeline-detail"])
def test_every_filter_shape_matches_python_shaping(client, admin_headers, sessions, report):
    for shape in SHAPES:
        start = datetime.fromisoformat(shape["from"][:-1]) if "from" in shape else None
        end = datetime.fromisoformat(shape["to"][:-1]) if "to" in shape else None
        f = analytics.ReportFilter(app=APP, user=shape["user"], tz="UTC", start=start, end=end)
        resp = client.post(f"/api/sessions/{report}", json={"app": APP, **shape}, headers=admin_headers)
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json()["data"] == analytics.run(report, f), shape
    listed = client.post("/api/sessions/timeline", json={"app": APP, **SHAPES[4]}, headers=admin_headers)
    assert len(listed.get_json()["data"]["timeline"]) == 5  # started 2 to 5 March, before 08:30 on the 5th
    nobody = client.post("/api/sessions/timeline", json={"app": APP, **SHAPES[1]}, headers=admin_headers)
    assert nobody.get_json()["data"]["timeline"] == []


def test_the_awkward_values_themselves(client, admin_headers, sessions):
    resp = client.post("/api/sessions/timeline", json={"app": APP, "user": "all"}, headers=admin_headers)
    by_id = {item["session_id"]: item for item in resp.get_json()["data"]["timeline"]}
    first, second, long, open_, negative, _ = (by_id[str(sid)] for sid in sessions)
    assert (first["duration"], second["duration"]) == ("00:00:02", "00:00:04")
    assert long["duration"] == "112:15:00" and long["start_time"] == "2025-03-03T08:00:00.999Z"
    assert long["end_time"] == "2025-03-07T20:15:00.123Z"
    assert open_["end_time"] is None and open_["duration"] == "00:02:31"  # 61 s + 90 s running
    assert negative["duration"] == "00:00:00"


def test_empty_lists_are_empty_arrays(client, admin_headers):
    for report, key in (("timeline", "timeline"), ("session-timeline-detail", "detailed_timeline")):
        resp = client.post(f"/api/sessions/{report}", json={"app": "nothing-here", "user": "all"},
                           headers=admin_headers)
        assert resp.status_code == 200 and resp.get_json()["data"] == {key: []}
