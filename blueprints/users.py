"""The Backend Server guide's user configuration: the caller's own settings document."""

from flask import Blueprint

from blueprints.common import BEARER, authenticated, expects, json_payload, require_user
from envelope import success
from schemas import Envelope
from services import user_settings

bp = Blueprint("users", __name__)


@bp.get("/api/users/me/settings")
@authenticated()
@expects(resp={200: Envelope, 401: None}, tags=("users",), security=BEARER)
def get_settings():
    """The caller's settings (`{}` until set)."""
    return success(user_settings.get_settings(require_user()), "Settings")


@bp.put("/api/users/me/settings")
@authenticated()
@expects(resp={200: Envelope, 413: None, 422: None}, tags=("users",), security=BEARER)
def put_settings():
    """Replace the caller's settings with a JSON object of at most `users.settings_max_bytes`."""
    return success(user_settings.replace_settings(require_user(), json_payload()), "Settings updated")
