"""Property test: every report answered from the rollups equals the same report computed from raw rows.

Seeded random data (sessions started, paused, resumed, ended or left open; page visits, singly and in
batches) around DST changes, in zones with :30 and :45 offsets, and random ranges that cut through
hours; half the deltas compacted, then one user erased and the retention job run. Durations and page
seconds are whole or half seconds, so float sums are exact in any order.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from extensions import db
from services import activity, analytics, clock, pages, rollups

APP, NOISE = "shop", "noise"
NOW = datetime(2024, 11, 20, 12, 0, 0)
FIRST = datetime(2024, 3, 1)
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe",
         "Pacific/Chatham", "America/St_Johns")
# each DST change of these zones in 2024, where ranges are most likely to go wrong
DST = [datetime(2024, 3, 10, 7), datetime(2024, 3, 31, 1), datetime(2024, 4, 6, 15), datetime(2024, 10, 5, 15),
       datetime(2024, 10, 27, 1), datetime(2024, 11, 3, 6)]
REPORTS = tuple(analytics.REPORTS)


def _instant(rng: random.Random) -> datetime:
    """Near a DST change half of the time, anywhere in the window otherwise; whole seconds."""
    if rng.random() < 0.5:
        at = rng.choice(DST) + timedelta(seconds=rng.randint(-2 * 86400, 2 * 86400))
    else:
        at = FIRST + timedelta(seconds=rng.randint(0, int((NOW - FIRST).total_seconds()) - 7200))
    return at


def _session(rng: random.Random, app: str, user: str) -> None:
    at = _instant(rng)
    session = activity.start_session(app, user, at)
    for _ in range(rng.randint(0, 3)):
        at += timedelta(seconds=rng.randint(1, 5400))
        if at >= NOW:
            return
        kind = {"active": rng.choice(("pause", "end")), "paused": rng.choice(("resume", "end"))}.get(session.status)
        if kind is None:
            return
        session = activity.apply_event(app, user, str(session.id), kind, at)


def _visits(rng: random.Random, app: str, users: list[str]) -> None:
    batch = [pages.Visit(app, rng.choice(users), f"/p{rng.randint(0, 6)}", rng.randint(0, 1200) / 2, _instant(rng))
             for _ in range(rng.choice((1, 1, 5, 40)))]
    pages.track(batch)


def _populate(rng: random.Random, sessions: int, batches: int) -> None:
    users = [f"u{i}" for i in range(6)]
    for _ in range(sessions):
        _session(rng, rng.choice((APP, APP, APP, NOISE)), rng.choice(users))
    for _ in range(batches):
        _visits(rng, rng.choice((APP, APP, NOISE)), users)


def _ranges(rng: random.Random) -> list[tuple[datetime | None, datetime | None]]:
    def anywhere() -> datetime:
        return _instant(rng) + timedelta(microseconds=rng.choice((0, 0, 250_000)))
    found: list[tuple[datetime | None, datetime | None]] = [(None, None)]
    for _ in range(4):
        low, high = sorted((anywhere(), anywhere()))
        found.append((low, high))
    found += [(anywhere(), None), (None, anywhere())]
    inside = rollups.floor(anywhere(), rollups.SESSION_GRAIN)  # within one quarter hour, then one hour
    found += [(inside + timedelta(seconds=60), inside + timedelta(seconds=600)),
              (inside - timedelta(minutes=50), inside + timedelta(minutes=40))]
    return found


def _assert_exact(rng: random.Random, zones=ZONES) -> int:
    """Compare every report both ways; returns how many report runs read a rollup."""
    rolled = 0
    for tz in zones:
        for start, end in _ranges(rng):
            f = analytics.ReportFilter(app=APP, user="all", tz=tz, start=start, end=end)
            for report in REPORTS:
                expected = analytics.run(report, f, use_rollups=False)
                assert analytics.run(report, f) == expected, (report, tz, start, end)
                tags = {tag for part in analytics.tagged_statements(report, f) for tag, _ in part}
                rolled += "rolled" in tags
    return rolled


@pytest.fixture
def frozen(app):
    clock.freeze(NOW)
    with app.app_context():
        yield app
        db.session.remove()


@pytest.mark.parametrize("seed", [1, 2])
def test_reports_from_rollups_equal_reports_from_raw_rows(frozen, seed):
    rng = random.Random(seed)
    _populate(rng, sessions=60, batches=30)
    assert rollups.compact()["page_rollups"] > 0  # half the data compacted, half still deltas
    _populate(rng, sessions=60, batches=30)
    assert _assert_exact(rng) > 0  # rollups were read, not only raw rows


def test_erasure_and_retention_keep_rollups_exact(make_app):
    app = make_app({"analytics.retention_days": 120})
    clock.freeze(NOW)
    with app.app_context():
        rng = random.Random(3)
        _populate(rng, sessions=80, batches=40)
        rollups.compact()
        erased = activity.erase_user_data(APP, "u1")
        assert erased["sessions"] + erased["page_visits"] > 0
        _assert_exact(rng, zones=("UTC", "Asia/Kathmandu"))
        purged = activity.purge_expired()  # cutoff 2024-07-23 12:00: cuts through the data
        assert purged["sessions"] > 0 and purged["page_visits"] > 0
        _assert_exact(rng, zones=("Europe/Berlin", "Asia/Kolkata"))
        f = analytics.ReportFilter(app=APP, user="all")
        assert analytics.summary(f)["total_sessions"] == analytics.summary(f, use_rollups=False)["total_sessions"]
        db.session.remove()


def test_a_zone_off_the_quarter_hour_falls_back_to_raw_rows(frozen):
    # Monrovia kept -00:44:30 until 1972: 15-minute buckets cannot place those sessions in local hours
    for minute in range(0, 240, 7):
        activity.start_session(APP, "old", datetime(1971, 6, 1, 10, 0) + timedelta(minutes=minute))
    f = analytics.ReportFilter(app=APP, user="all", tz="Africa/Monrovia")
    tags = {tag for part in analytics.tagged_statements("heatmap", f) for tag, _ in part}
    assert tags == {"raw"}
    assert analytics.heatmap(f) == analytics.heatmap(f, use_rollups=False)
    assert analytics.heatmap(f)["weekly_hourly"]["1"] == {"9": 7, "10": 8, "11": 9, "12": 9, "13": 2}
    utc = analytics.ReportFilter(app=APP, user="all", tz="UTC")
    assert "rolled" in {tag for part in analytics.tagged_statements("heatmap", utc) for tag, _ in part}
