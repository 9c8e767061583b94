"""The console's analytics and presence endpoints (JSON and CSV under /console/api/).

Reports are the API's (services/analytics.py) under the API's rule, `Principal.acts_for`: an account reads its
own tracked user, admins anyone's and "all". Presence is the check-in feed, for admins.
"""

from __future__ import annotations

from zoneinfo import available_timezones

from flask import Blueprint, request

from blueprints.common import current_principal, parse_model
from blueprints.console_session import console_api
from blueprints.sessions import answer_report, authorize, report_filter, wants_csv
from envelope import iso_z, success
from errors import not_found
from schemas import ReportIn
from services import analytics, checkin

bp = Blueprint("console_reports", __name__, url_prefix="/api")

# What the analytics page draws: tiles (summary, stats, most-active), the heatmap, charts and tables.
REPORTS = ("summary", "stats", "most-active", "heatmap", "daily-time-spent", "time-by-page", "page-stats")
ZONES = sorted(available_timezones())


@bp.get("/reports/<report>")
@console_api()
def report(report: str):
    """One report: `?app=&user=&tz=&from=&to=`, JSON, or CSV with `format=csv` (a download link)."""
    if report not in REPORTS:
        raise not_found("Report")
    args = request.args.to_dict()
    args.setdefault("user", current_principal().name)
    body = parse_model(ReportIn, args)
    authorize(body.app, body.user, "analytics:read")
    data = analytics.run(report, report_filter(body))
    if wants_csv(body):
        return answer_report(report, body, data)
    return success(data, report)


@bp.get("/time-zones")
@console_api()
def time_zones():
    """IANA zone names the reports accept (the analytics page's zone picker)."""
    return success({"zones": ZONES}, "Time zones")


@bp.get("/presence")
@console_api(admin=True)
def presence():
    """Accounts checked in now, with the minutes left on each pass (admins)."""
    page = checkin.active_users()
    items = [{"user_id": str(user_id), "name": name, "checked_in_at": iso_z(checked_in_at),
              "expires_at": iso_z(expires_at), "minutes_remaining": checkin.minutes_until(expires_at, page.now)}
             for _id, user_id, name, checked_in_at, expires_at, _prefs in page.rows]
    return success({"count": len(items), "items": items, "now": iso_z(page.now)}, "Active users")
