"""The Session Server API's page tracking: public `POST /api/pages/track` (one visit or a batch) and page statistics."""

from flask import Blueprint, request

from blueprints.common import BEARER_OR_KEY, PUBLIC, authenticated, expects, public
from blueprints.sessions import answer_report, authorize, report_filter
from envelope import iso_z, success
from schemas import Envelope, PageVisitIn, ReportIn, TrackIn
from services import analytics, pages

bp = Blueprint("pages", __name__)


def _visit_json(row: dict, sent: PageVisitIn) -> dict:
    seconds = sent.timespent
    return {"page": row["page"], "time_spent": int(seconds) if float(seconds).is_integer() else seconds,
            "timestamp": iso_z(row["visited_at"])}


@bp.post("/api/pages/track")
@public
@expects(json=TrackIn, resp={200: Envelope, 422: None, 429: None}, tags=("pages",), security=PUBLIC)
def track(body: TrackIn):
    """Track a page visit, or a JSON array of visits (all-or-nothing, bounded by `analytics.track_batch_max`)."""
    batch = request.get_data(cache=True).lstrip()[:1] == b"["  # an array (already parsed) answers as a batch
    sent = body.root
    rows = pages.track([pages.Visit(v.app, v.user, v.page, v.timespent, v.time, v.session_id) for v in sent])
    visits = [_visit_json(row, v) for row, v in zip(rows, sent, strict=True)]
    if batch:
        return success({"tracked": len(visits), "visits": visits}, "Page visits tracked successfully")
    return success(visits[0], "Page visit tracked successfully")


@bp.post("/api/pages/stats")
@authenticated("analytics:read")
@expects(json=ReportIn, resp={200: Envelope, 401: None, 403: None, 422: None}, tags=("pages",),
         security=BEARER_OR_KEY)
def stats(body: ReportIn):
    """Visits, total and average time per page; `tz`, `from`, `to`, `format=csv` like every report."""
    authorize(body.app, body.user, "analytics:read")
    return answer_report("page-stats", body, analytics.page_stats(report_filter(body)))
