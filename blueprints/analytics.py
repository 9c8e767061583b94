"""Analytics data lifecycle: erasure of one tracked user's data (retention is the purge job)."""

from flask import Blueprint

from blueprints.common import BEARER_OR_KEY, authenticated, current_principal, expects
from envelope import success
from errors import forbidden
from schemas import Envelope
from services import activity

bp = Blueprint("analytics", __name__)


@bp.delete("/api/analytics/apps/<app_name>/users/<user>")
@authenticated("track:write")
@expects(resp={200: Envelope, 401: None, 403: None}, tags=("analytics",), security=BEARER_OR_KEY)
def erase_user(app_name: str, user: str):
    """Erasure request: delete every session, event and page visit of one tracked user (admin or app key)."""
    if not current_principal().acts_for(app_name, "all", "track:write"):
        raise forbidden("Erasure needs an admin or an API key bound to this app")
    return success(activity.erase_user_data(app_name, user), "Tracked data erased")
