"""The web console's browser session: a JWT in an HttpOnly, SameSite cookie (Flask-JWT-Extended's cookie mode)
with double-submit CSRF on every state-changing request, and the guards of the console's views.

The JSON API reads headers only (blueprints/common.py); only views guarded here read the cookie, whose path is
/console/, so a browser never sends it to /api/. A console request becomes the same `Principal` an API request
would, so services and authorization rules (`Principal.acts_for`, admin checks) are the API's.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable

from flask import current_app, g, redirect, render_template, request, url_for
from flask_jwt_extended import get_current_user, get_jwt, set_access_cookies, unset_jwt_cookies, verify_jwt_in_request
from flask_jwt_extended.exceptions import CSRFError, JWTExtendedException, NoAuthorizationError
from jwt import PyJWTError

from blueprints.common import Principal, declare_key_scopes, json_payload
from errors import ApiError

LOGIN_NONCE_COOKIE = "console_login_nonce"
CSRF_HEADER = "X-CSRF-TOKEN"


class NotSignedIn(Exception):
    """No valid console cookie: none, expired, revoked, or its account is gone."""


class CsrfRefused(Exception):
    """A state-changing request whose X-CSRF-TOKEN is missing or does not match the cookie's token."""


def _has_nul(value: str) -> bool:
    return "\x00" in value


MAX_DEPTH = 8


def json_body() -> dict:
    """The request's JSON object (empty body: `{}`); NUL bytes and deep nesting are refused (4xx)."""
    try:
        data = json_payload()
    except RecursionError:
        raise ApiError(400, "JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(422, "The body must be a JSON object")
    _check_value(data, 0)
    return data


def _check_value(value, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ApiError(422, f"JSON nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str) and _has_nul(value):
        raise ApiError(422, "NUL bytes are not allowed")
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        _check_value(key, depth + 1)
        _check_value(item, depth + 1)


def sign_in_principal() -> Principal:
    """Verify the console cookie (and, on POST/PUT/PATCH/DELETE, its CSRF token) into a Principal."""
    try:
        verify_jwt_in_request(locations=["cookies"])
    except CSRFError:
        raise CsrfRefused() from None
    except NoAuthorizationError as exc:
        if current_app.config["JWT_ACCESS_COOKIE_NAME"] in request.cookies and "CSRF" in str(exc):
            raise CsrfRefused() from None
        raise NotSignedIn() from None
    except (JWTExtendedException, PyJWTError):
        raise NotSignedIn() from None
    user = get_current_user()
    if user is None:
        raise NotSignedIn()
    g.principal = Principal(user=user, claims=get_jwt())
    return g.principal


def console_api(admin: bool = False):
    """A console JSON endpoint: 401 without a session, 403 without the CSRF token or (admin=True) for others."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            if any(_has_nul(v) for v in request.args.values()) or _has_nul(request.path):
                raise ApiError(400, "NUL bytes are not allowed in the URL")
            try:
                principal = sign_in_principal()
            except NotSignedIn:
                raise ApiError(401, "Sign in to the console first") from None
            except CsrfRefused:
                raise ApiError(403, f"Missing or wrong CSRF token (send the {CSRF_HEADER} header)") from None
            if admin and not principal.is_admin:
                raise ApiError(403, "Admin privileges required")
            return view(*args, **kwargs)

        return declare_key_scopes()(guarded)  # API keys never open the console

    return decorate


def console_page(admin: bool = False):
    """A console HTML page: without a session, a redirect to the sign-in form; 403 page for non-admins."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            try:
                principal = sign_in_principal()
            except (NotSignedIn, CsrfRefused):
                return redirect(url_for("console.sign_in", next=request.path))
            if admin and not principal.is_admin:
                return render_template("console/forbidden.html", me=principal.user), 403
            return view(*args, **kwargs)

        return declare_key_scopes()(guarded)

    return decorate


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target \
            and not _has_nul(target) and len(target) <= 200:
        return target
    return "/console/locks"


def start_session(response, access_token: str) -> None:
    """Set the session and CSRF cookies; HTTPS-only when configured or when the request came over HTTPS."""
    set_access_cookies(response, access_token)
    response.delete_cookie(LOGIN_NONCE_COOKIE, path="/console/login")
    _secure_over_https(response)


def end_session(response) -> None:
    unset_jwt_cookies(response)
    _secure_over_https(response)


def _secure_over_https(response) -> None:
    # JWT_COOKIE_SECURE is one app-wide value; a request that came over HTTPS (nginx's X-Forwarded-Proto,
    # trusted through TRUSTED_PROXIES) gets Secure cookies even when CONSOLE_COOKIE_SECURE is off.
    if not request.is_secure or current_app.config["JWT_COOKIE_SECURE"]:
        return
    cookies = response.headers.getlist("Set-Cookie")
    response.headers.remove("Set-Cookie")
    for cookie in cookies:
        response.headers.add("Set-Cookie", cookie if "; Secure" in cookie else cookie + "; Secure")


def login_nonce() -> str:
    """A fresh nonce for the sign-in form, double-submitted (cookie + field) against login CSRF."""
    return secrets.token_urlsafe(24)


def set_login_nonce(response, nonce: str) -> None:
    response.set_cookie(LOGIN_NONCE_COOKIE, nonce, httponly=True, samesite="Strict", path="/console/login",
                        secure=request.is_secure or current_app.config["JWT_COOKIE_SECURE"])


def login_nonce_matches(sent: str | None) -> bool:
    kept = request.cookies.get(LOGIN_NONCE_COOKIE, "")
    return bool(kept and sent) and secrets.compare_digest(kept.encode(), (sent or "").encode())
