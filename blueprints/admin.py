"""The Asset Lock Manager's admin API: users and runtime configuration."""

from flask import Blueprint

import settings
from blueprints.auth import user_json
from blueprints.common import (
    BEARER,
    admin_required,
    authenticated,
    current_principal,
    expects,
    json_payload,
)
from envelope import success
from errors import ApiError
from schemas import AdminStatusIn, ConfigStatusOut, ConfigUpdateIn, CreateUserIn, EmailIn, Envelope, PasswordIn
from services import accounts, configuration

bp = Blueprint("admin", __name__)


@bp.get("/api/admin/users")
@admin_required
@expects(resp={200: Envelope, 401: None, 403: None}, tags=("admin",), security=BEARER)
def list_users():
    """Every account."""
    return success([user_json(u) for u in accounts.list_users()], "Users")


@bp.post("/api/admin/users")
@admin_required
@expects(json=CreateUserIn, resp={201: Envelope, 409: None, 422: None}, tags=("admin",), security=BEARER)
def create_user(body: CreateUserIn):
    """Create an account."""
    user = accounts.create_user(body.username, body.email, body.password, is_admin=body.is_admin,
                                display_name=body.display_name)
    return success(user_json(user), "User created", 201)


@bp.delete("/api/admin/users/<user_id>")
@admin_required
@expects(resp={200: Envelope, 404: None, 409: None}, tags=("admin",), security=BEARER)
def delete_user(user_id: str):
    """Delete an account (never the last admin); its tokens die with it."""
    accounts.delete_user(accounts.get_user(user_id))
    return success(None, "User deleted")


@bp.put("/api/admin/users/<user_id>/password")
@admin_required
@expects(json=PasswordIn, resp={200: Envelope, 404: None, 422: None}, tags=("admin",), security=BEARER)
def set_password(user_id: str, body: PasswordIn):
    """Set an account's password; its older tokens are revoked."""
    user = accounts.set_password(accounts.get_user(user_id), body.password)
    return success(user_json(user), "Password updated")


@bp.put("/api/admin/users/<user_id>/email")
@admin_required
@expects(json=EmailIn, resp={200: Envelope, 404: None, 409: None, 422: None}, tags=("admin",), security=BEARER)
def set_email(user_id: str, body: EmailIn):
    """Set an account's e-mail address (no confirmation: an admin vouches for it)."""
    user = accounts.set_email(accounts.get_user(user_id), body.email)
    return success(user_json(user), "Email updated")


@bp.put("/api/admin/users/<user_id>/status")
@admin_required
@expects(json=AdminStatusIn, resp={200: Envelope, 404: None, 409: None, 422: None}, tags=("admin",),
         security=BEARER)
def set_status(user_id: str, body: AdminStatusIn):
    """Grant or remove admin rights (never from the last admin)."""
    user = accounts.set_admin(accounts.get_user(user_id), body.is_admin)
    return success(user_json(user), "Admin status updated")


@bp.get("/api/admin/config")
@admin_required
@expects(resp={200: Envelope}, tags=("admin",), security=BEARER)
def get_config():
    """Effective runtime settings, plus every setting with its source (secrets masked)."""
    return success({"effective": configuration.effective_runtime(), "settings": settings.describe()},
                   "Configuration")


@bp.put("/api/admin/config")
@admin_required
@expects(json=ConfigUpdateIn, resp={200: Envelope, 422: None}, tags=("admin",), security=BEARER)
def put_config(body: ConfigUpdateIn):
    """Override runtime keys, e.g. `{"auto_release.hours": 48}`; unknown key or wrong type -> 422."""
    updates = json_payload()
    if not isinstance(updates, dict) or not updates:
        raise ApiError(422, "Body must be a non-empty object of configuration keys")
    effective = configuration.set_overrides(updates, current_principal().name)
    return success({"effective": effective}, "Configuration updated")


@bp.get("/api/config/status")
@authenticated()
@expects(resp={200: Envelope, 401: None}, tags=("config",), security=BEARER)
def config_status():
    """The Asset Lock Manager: public configuration status for signed-in users."""
    return success(ConfigStatusOut(mail_enabled=_mail_enabled()).model_dump(), "Configuration status")


def _mail_enabled() -> bool:
    return bool(settings.static("mail.enabled") and settings.get("mail.enabled"))
