"""The SQLite side of time-zone bucketing: the zone's UTC-offset segments over a range."""

from datetime import datetime
from zoneinfo import ZoneInfo

from services.sqltime import offset_segments


def test_berlin_2024_has_both_dst_changes_to_the_second():
    segments = offset_segments(ZoneInfo("Europe/Berlin"), datetime(2024, 1, 1), datetime(2025, 1, 1))
    assert segments == [(None, 3600), (datetime(2024, 3, 31, 1, 0), 7200), (datetime(2024, 10, 27, 1, 0), 3600)]


def test_kolkata_is_one_segment():
    assert offset_segments(ZoneInfo("Asia/Kolkata"), datetime(2020, 1, 1), datetime(2025, 1, 1)) == [(None, 19800)]
