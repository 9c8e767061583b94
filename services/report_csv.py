"""The same reports as CSV tables: one header row, then one row per bucket (long format)."""

from __future__ import annotations

import csv
import io
from typing import Any


def table(report: str, data: dict) -> tuple[list[str], list[list[Any]]]:
    """(header, rows) for a report's JSON data."""
    if report == "heatmap":
        rows = [["daily", day, "", "", n] for day, n in sorted(data["daily_sessions"].items())]
        rows += [["weekly_hourly", "", weekday, hour, n]
                 for weekday, hours in sorted(data["weekly_hourly"].items(), key=lambda kv: int(kv[0]))
                 for hour, n in sorted(hours.items(), key=lambda kv: int(kv[0]))]
        return ["bucket", "date", "weekday", "hour", "sessions"], rows
    if report in ("most-active", "stats", "summary", "public-summary"):
        return list(data), [list(data.values())]
    if report in ("timeline", "public-timeline"):
        header = ["session_id", "start_time", "end_time", "duration"]
        return header, [[item[k] or "" for k in header] for item in data["timeline"]]
    if report == "daily-time-spent":
        return ["date", "time_spent"], sorted(data["daily_time"].items())
    if report == "time-by-page":
        return ["page", "time_spent"], list(data["page_time"].items())
    if report == "page-stats":
        return (["page", "visits", "total_time", "average_time"],
                [[page, s["visits"], s["total_time"], s["average_time"]] for page, s in data["page_stats"].items()])
    if report == "session-timeline-detail":
        return (["session_id", "type", "timestamp"],
                [[item["session_id"], e["type"], e["timestamp"]] for item in data["detailed_timeline"]
                 for e in item["events"]])
    raise KeyError(report)


def render(report: str, data: dict) -> str:
    header, rows = table(report, data)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
