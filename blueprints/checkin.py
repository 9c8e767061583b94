"""The check-in contract: presence ("vibe passes") and the ML model's active-users feed, in its own shapes."""

from flask import Blueprint, Response, jsonify

import settings
from blueprints.common import BEARER, BEARER_OR_KEY, authenticated, current_principal, expects, require_user
from envelope import iso_z_seconds
from errors import ApiError, use_family
from schemas import ActiveUsersOut, ActiveUsersQuery, CheckinOut, SessionOut, SuccessOut
from services import checkin, clock

bp = use_family(Blueprint("checkin", __name__), "checkin")


def _activated_message(minutes: int) -> str:
    """The check-in contract's "1-hour vibe pass activated" for the default; the configured length otherwise."""
    hours, rest = divmod(minutes, 60)
    return f"{hours}-hour vibe pass activated" if not rest else f"{minutes}-minute vibe pass activated"


@bp.post("/api/checkin")
@authenticated()
@expects(resp={200: CheckinOut, 401: None}, tags=("checkin",), security=BEARER)
def check_in():
    """Start a vibe pass, or extend the live one (same session_id) to now + `checkin.duration_minutes`."""
    vibe_pass, _ = checkin.check_in(require_user().id)
    data = {"session_id": str(vibe_pass.id), "expires_at": iso_z_seconds(vibe_pass.expires_at),
            "expires_in_minutes": checkin.minutes_until(vibe_pass.expires_at, clock.now())}
    return jsonify({"success": True, "message": _activated_message(settings.get("checkin.duration_minutes")),
                    "data": data})


@bp.get("/api/session")
@authenticated()
@expects(resp={200: SessionOut, 401: None}, tags=("checkin",), security=BEARER)
def session_status():
    """The caller's live pass with `minutes_remaining` (rounded up), or `active: false`."""
    now = clock.now()
    vibe_pass = checkin.active_pass(require_user().id, now)
    if vibe_pass is None:
        return jsonify({"success": True, "active": False, "message": "No active session"})
    data = {"session_id": str(vibe_pass.id), "checked_in_at": iso_z_seconds(vibe_pass.checked_in_at),
            "expires_at": iso_z_seconds(vibe_pass.expires_at),
            "minutes_remaining": checkin.minutes_until(vibe_pass.expires_at, now)}
    return jsonify({"success": True, "active": True, "data": data})


@bp.post("/api/checkout")
@authenticated()
@expects(resp={200: SuccessOut, 401: None}, tags=("checkin",), security=BEARER)
def check_out():
    """End the caller's pass now (idempotent: no live pass answers the same)."""
    checkin.check_out(require_user().id)
    return jsonify({"success": True, "message": "Checked out successfully"})


@bp.get("/api/model/active-users")
@authenticated("model:read")
@expects(query=ActiveUsersQuery, resp={200: ActiveUsersOut, 400: None, 401: None, 403: None, 422: None},
         tags=("checkin",), security=BEARER_OR_KEY)
def active_users(query: ActiveUsersQuery):
    """Users with a live pass (X-API-Key with `model:read`, MODEL_API_KEY, or an admin's token); one query."""
    principal = current_principal()
    if not (principal.has_scope("model:read") or principal.is_admin):
        raise ApiError(403, "Needs an API key with the model:read scope or an admin token")
    if query.limit is not None and query.limit > settings.static("checkin.feed_max_limit"):
        raise ApiError(422, "limit is too large", {"max": settings.static("checkin.feed_max_limit")})
    # One query; on PostgreSQL the database encodes the items (100,000 users well under a second).
    return Response(checkin.feed_document(query.limit, query.cursor), mimetype="application/json")
