"""Login, tokens and the Session Server API's token endpoints."""

from flask import Blueprint, jsonify
from flask_jwt_extended import get_current_user, get_jwt, jwt_required

from blueprints.common import (
    BEARER,
    PUBLIC,
    authenticated,
    current_principal,
    declare_key_scopes,
    expects,
    public,
    require_user,
)
from envelope import iso_z, success
from errors import ApiError
from extensions import db, password_check
from schemas import AppIn, Envelope, LoginIn, LogoutIn, TokenPair
from services import accounts, tokens

bp = Blueprint("auth", __name__)


def user_json(user) -> dict:
    return {"id": str(user.id), "username": user.username, "email": user.email, "is_admin": user.is_admin,
            "display_name": user.display_name, "created_at": iso_z(user.created_at)}


@bp.post("/api/login")
@declare_key_scopes()
@expects(json=LoginIn, resp={200: TokenPair, 401: None, 422: None}, tags=("auth",), security=PUBLIC)
def login(body: LoginIn):
    """Exchange username and password for an access and a refresh token."""
    user = password_check(body.username, lambda: accounts.authenticate(body.username, body.password))
    if user is None:
        raise ApiError(401, "Invalid username or password")
    issued = tokens.issue_tokens(user, body.app)
    # Tokens at the top level too: the Asset Lock Manager's clients read `access_token` directly.
    return jsonify({"status": "success", "message": "Login successful", **issued,
                    "data": {**issued, "user": user_json(user)}})


@bp.post("/api/token/refresh")
@declare_key_scopes()
@jwt_required(refresh=True, locations=["headers"])
@expects(resp={200: TokenPair, 401: None}, tags=("auth",), security=BEARER)
def refresh():
    """A new access token for a valid refresh token (send the refresh token as Bearer)."""
    issued = tokens.issue_access_token(get_current_user(), get_jwt().get("app"))
    return jsonify({"status": "success", "message": "Token refreshed", **issued, "data": issued})


@bp.post("/api/logout")
@declare_key_scopes()
@jwt_required(locations=["headers"])
@expects(json=LogoutIn, resp={200: Envelope, 401: None}, tags=("auth",), security=BEARER)
def logout(body: LogoutIn):
    """Revoke this access token (and the refresh token if given); `everywhere` revokes all of the user's."""
    user = get_current_user()
    tokens.revoke_payload(get_jwt())
    if body.refresh_token:
        tokens.revoke_encoded(body.refresh_token, user)
    if body.everywhere:
        accounts.revoke_tokens(user)
    db.session.commit()
    return success(None, "Logged out")


@bp.get("/api/currentuser")
@authenticated()
@expects(resp={200: Envelope, 401: None}, tags=("auth",), security=BEARER)
def current_user():
    """The authenticated account."""
    return success(user_json(require_user()), "Current user")


@bp.post("/api/auth/validate-token")
@authenticated()
@expects(json=AppIn, resp={200: Envelope, 401: None}, tags=("auth",), security=BEARER)
def validate_token(body: AppIn):
    """The Session Server API: validate the bearer token and return who it belongs to."""
    principal = current_principal()
    info = _token_info(principal.claims)
    return success({"user": principal.name, "app": body.app or principal.app, "token_info": info}, "Token is valid")


@bp.post("/api/auth/token-info")
@authenticated()
@expects(json=AppIn, resp={200: Envelope, 401: None}, tags=("auth",), security=BEARER)
def token_info(body: AppIn):
    """The Session Server API: the token's `sub`, `exp` and `app` claims."""
    return success(_token_info(current_principal().claims), "Token information retrieved")


def _token_info(claims: dict) -> dict:
    return {"sub": claims.get("sub"), "exp": claims.get("exp"), "app": claims.get("app"),
            "username": claims.get("username"), "is_admin": claims.get("is_admin"), "iat": claims.get("iat"),
            "type": claims.get("type")}


@bp.post("/api/auth/health")
@public
@expects(json=AppIn, resp={200: Envelope}, tags=("health",), security=PUBLIC)
def auth_health(body: AppIn):
    """The Session Server API: public health check of the authentication service."""
    return jsonify({"status": "success", "message": "Authentication service is healthy"})
