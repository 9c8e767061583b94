"""The Session Server API: activity session lifecycle and the session reports.

Lifecycle (`track:write`) and reports (`analytics:read`) accept a JWT or an API key; an account acts only
for its own username, admins and keys bound to the app for anyone in it (DESIGN.md). `public-summary`
and `public-timeline` need no credentials but answer only for apps listed in `analytics.public_apps`.
"""

from flask import Blueprint, Response, jsonify, request

import settings
import wire
from blueprints.common import BEARER_OR_KEY, PUBLIC, authenticated, current_principal, expects, public
from envelope import hhmmss, iso_z, success
from errors import ApiError, forbidden, not_found
from schemas import Envelope, ReportIn, SessionEventIn, SessionStartIn
from services import activity, analytics, clock, report_csv

bp = Blueprint("sessions", __name__)

LIFECYCLE_RESP = {200: Envelope, 401: None, 403: None, 404: None, 409: None, 422: None}
REPORT_RESP = {200: Envelope, 401: None, 403: None, 422: None}


def authorize(app: str, user: str, scope: str) -> None:
    """403 unless the caller may act for this tracked user ("all" included) of this app."""
    if not current_principal().acts_for(app, user, scope):
        raise forbidden(f"Not allowed to act for user '{user}' in app '{app}'")


def _tracked(user: str) -> str:
    if user == "all":
        raise ApiError(422, '"all" is not a tracked user here', {"field": "user"})
    return user


@bp.post("/api/sessions/start")
@authenticated("track:write")
@expects(json=SessionStartIn, resp=LIFECYCLE_RESP, tags=("sessions",), security=BEARER_OR_KEY)
def start(body: SessionStartIn):
    """Start an active session for a tracked user; `time` defaults to now."""
    authorize(body.app, _tracked(body.user), "track:write")
    session = activity.start_session(body.app, body.user, body.time)
    return success({"session_id": str(session.id), "user": session.user, "start_time": iso_z(session.started_at),
                    "status": session.status}, "Session started successfully")


def _lifecycle(kind: str, body: SessionEventIn):
    authorize(body.app, _tracked(body.user), "track:write")
    return activity.apply_event(body.app, body.user, body.session_id, kind, body.time)


@bp.post("/api/sessions/pause")
@authenticated("track:write")
@expects(json=SessionEventIn, resp=LIFECYCLE_RESP, tags=("sessions",), security=BEARER_OR_KEY)
def pause(body: SessionEventIn):
    """Pause an active session (409 otherwise)."""
    session = _lifecycle("pause", body)
    return success({"session_id": str(session.id), "status": session.status,
                    "pause_time": iso_z(session.last_event_at)}, "Session paused successfully")


@bp.post("/api/sessions/resume")
@authenticated("track:write")
@expects(json=SessionEventIn, resp=LIFECYCLE_RESP, tags=("sessions",), security=BEARER_OR_KEY)
def resume(body: SessionEventIn):
    """Resume a paused session (409 otherwise)."""
    session = _lifecycle("resume", body)
    return success({"session_id": str(session.id), "status": session.status,
                    "resume_time": iso_z(session.last_event_at)}, "Session resumed successfully")


@bp.post("/api/sessions/end")
@authenticated("track:write")
@expects(json=SessionEventIn, resp=LIFECYCLE_RESP, tags=("sessions",), security=BEARER_OR_KEY)
def end(body: SessionEventIn):
    """End an active or paused session; total_duration is active time only."""
    session = _lifecycle("end", body)
    return success({"session_id": str(session.id), "status": session.status, "end_time": iso_z(session.ended_at),
                    "total_duration": hhmmss(session.active_seconds)}, "Session ended successfully")


# ---------------------------------------------------------------- reports

MESSAGES = {
    "most-active": "Most active times retrieved",
    "stats": "Session statistics retrieved",
    "summary": "Session summary retrieved",
    "timeline": "Session timeline retrieved",
    "daily-time-spent": "Daily time spent retrieved",
    "time-by-page": "Time by page retrieved",
    "session-timeline-detail": "Detailed session timeline retrieved",
    "page-stats": "Page statistics retrieved",
}


def report_filter(body: ReportIn) -> analytics.ReportFilter:
    return analytics.ReportFilter(app=body.app, user=body.user, tz=body.tz,
                                  start=clock.to_naive_utc(body.from_) if body.from_ else None,
                                  end=clock.to_naive_utc(body.to) if body.to else None)


def wants_csv(body: ReportIn) -> bool:
    """`format` from the body, else from the query string (`?format=csv`)."""
    fmt = body.format or request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ApiError(422, "format must be json or csv", {"field": "format"})
    return fmt == "csv"


def answer_report(report: str, body: ReportIn, data: dict):
    """The report as the Session Server API's JSON (heatmap: top-level `heatmap_data`), or as CSV."""
    if wants_csv(body):
        return Response(report_csv.render(report, data), mimetype="text/csv",
                        headers={"Content-Disposition": wire.attachment(f"{body.app}-{report}.csv")})
    if report == "heatmap":
        return jsonify({"heatmap_data": data})
    return success(data, MESSAGES[report.removeprefix("public-")])


def _report_route(report: str) -> None:
    def view(body: ReportIn):
        authorize(body.app, body.user, "analytics:read")
        return answer_report(report, body, analytics.run(report, report_filter(body)))

    view.__name__ = "report_" + report.replace("-", "_")
    view.__doc__ = f"The Session Server API's `{report}` report, computed in SQL; `tz`, `from`, `to`, `format=csv`."
    guarded = authenticated("analytics:read")(
        expects(json=ReportIn, resp=REPORT_RESP, tags=("analytics",), security=BEARER_OR_KEY)(view))
    bp.post(f"/api/sessions/{report}")(guarded)


for _report in ("heatmap", "most-active", "stats", "summary", "timeline", "daily-time-spent", "time-by-page",
                "session-timeline-detail"):
    _report_route(_report)


def _public(body: ReportIn) -> analytics.ReportFilter:
    if body.app not in settings.get("analytics.public_apps"):
        raise not_found("Public analytics for this app")
    return report_filter(body)


@bp.post("/api/sessions/public-summary")
@public
@expects(json=ReportIn, resp={200: Envelope, 404: None, 422: None, 429: None}, tags=("analytics",), security=PUBLIC)
def public_summary(body: ReportIn):
    """Same as `summary`, without credentials, for apps an admin made public."""
    return answer_report("public-summary", body, analytics.summary(_public(body)))


@bp.post("/api/sessions/public-timeline")
@public
@expects(json=ReportIn, resp={200: Envelope, 404: None, 422: None, 429: None}, tags=("analytics",), security=PUBLIC)
def public_timeline(body: ReportIn):
    """Same as `timeline`, without credentials, for apps an admin made public."""
    return answer_report("public-timeline", body, analytics.timeline(_public(body)))
