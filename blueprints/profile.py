"""The caller's profile: display name and the 5 preferences the ML feed sends while checked in."""

from flask import Blueprint

from blueprints.common import BEARER, authenticated, expects, require_user
from envelope import success
from errors import ApiError
from schemas import Envelope, ProfileIn
from services import profiles

bp = Blueprint("profile", __name__)


@bp.get("/api/users/me/profile")
@authenticated()
@expects(resp={200: Envelope, 401: None}, tags=("profile",), security=BEARER)
def get_profile():
    """`{user_id, username, display_name, preferences}`; defaults: the username and 0.5 x 5."""
    return success(profiles.profile(require_user()), "Profile")


@bp.put("/api/users/me/profile")
@authenticated()
@expects(json=ProfileIn, resp={200: Envelope, 401: None, 422: None}, tags=("profile",), security=BEARER)
def put_profile(body: ProfileIn):
    """Set `display_name` (1-80 characters) and/or `preferences` (exactly 5 numbers in [0, 1])."""
    if body.display_name is None and body.preferences is None:
        raise ApiError(422, "Nothing to update: send display_name and/or preferences")
    user = profiles.update_profile(require_user(), body.display_name, body.preferences)
    return success(profiles.profile(user), "Profile updated")
