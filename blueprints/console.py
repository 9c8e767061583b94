"""The web console at /console/: sign-in and sign-out, and the HTML pages (lock board, analytics, presence,
administration). Each page is a server-rendered shell whose small script fetches the console's JSON endpoints
(blueprints/console_locks.py, console_reports.py, console_admin.py), which call the API's own services.
"""

from __future__ import annotations

from typing import get_args

from flask import Blueprint, g, make_response, redirect, render_template, request, url_for
from flask_jwt_extended import get_jwt

import settings
from blueprints import console_admin, console_locks, console_reports
from blueprints.common import declare_key_scopes
from blueprints.console_session import (
    CsrfRefused,
    NotSignedIn,
    console_page,
    end_session,
    login_nonce,
    login_nonce_matches,
    safe_next,
    set_login_nonce,
    sign_in_principal,
    start_session,
)
from errors import ApiError
from extensions import db, password_check
from schemas import ApiScope
from services import accounts, tokens

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="../templates",
               static_folder="../static/console", static_url_path="/static")
bp.register_blueprint(console_locks.bp)
bp.register_blueprint(console_reports.bp)
bp.register_blueprint(console_admin.bp)

MAX_USERNAME, MAX_PASSWORD = 64, 256


# The console loads nothing from anywhere but Concierge; the browser enforces it too.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


@bp.after_request
def _page_headers(response):
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


def _page(template: str, **context):
    return render_template(f"console/{template}", me=g.principal.user, csrf=get_jwt().get("csrf", ""), **context)


@bp.get("/")
@declare_key_scopes()
def home():
    return redirect(url_for("console.locks"))


@bp.get("/login")
@declare_key_scopes()
def sign_in():
    """The sign-in form (straight to the lock board when already signed in)."""
    try:
        sign_in_principal()
        return redirect(safe_next(request.args.get("next")))
    except (NotSignedIn, CsrfRefused):
        return _sign_in_form(None, 200)


def _sign_in_form(error: str | None, status: int, username: str = ""):
    nonce = login_nonce()
    page = render_template("console/login.html", me=None, error=error, nonce=nonce, username=username,
                           next=safe_next(request.values.get("next")))
    response = make_response(page, status)
    set_login_nonce(response, nonce)
    return response


@bp.post("/login")
@declare_key_scopes()
def sign_in_submit():
    """Check the credentials under /api/login's rate limit (extensions.password_check); set the session cookie."""
    username, password = request.form.get("username", ""), request.form.get("password", "")
    if not login_nonce_matches(request.form.get("nonce")):
        return _sign_in_form("The sign-in form expired; please try again.", 403, username[:MAX_USERNAME])
    if not (0 < len(username) <= MAX_USERNAME and 0 < len(password) <= MAX_PASSWORD) \
            or "\x00" in username + password:
        return _sign_in_form("Enter a username (up to 64 characters) and a password.", 422)
    try:
        user = password_check(username, lambda: accounts.authenticate(username, password))
    except ApiError as refused:
        if refused.status != 429:
            raise
        wait = refused.headers.get("Retry-After", "60")
        return _sign_in_form(f"Too many sign-in attempts; try again in {wait} s.", 429, username)
    if user is None:
        return _sign_in_form("Wrong username or password.", 401, username)
    response = redirect(safe_next(request.form.get("next")))
    start_session(response, tokens.issue_access_token(user, None)["access_token"])
    return response


@bp.post("/logout")
@declare_key_scopes()
def sign_out():
    """Revoke the session's token and clear its cookies (the form carries the CSRF token)."""
    try:
        sign_in_principal()
    except CsrfRefused:
        raise ApiError(403, "Missing or wrong CSRF token") from None
    except NotSignedIn:
        pass
    else:
        tokens.revoke_payload(get_jwt())
        db.session.commit()
    response = redirect(url_for("console.sign_in"))
    end_session(response)
    return response


@bp.get("/locks")
@console_page()
def locks():
    return _page("locks.html", title="Lock board")


@bp.get("/analytics")
@console_page()
def analytics():
    return _page("analytics.html", title="Analytics")


@bp.get("/presence")
@console_page(admin=True)
def presence():
    return _page("presence.html", title="Presence")


@bp.get("/admin/users")
@console_page(admin=True)
def users():
    return _page("users.html", title="Users")


@bp.get("/admin/settings")
@console_page(admin=True)
def runtime_settings():
    return _page("settings.html", title="Settings", mail_master=settings.static("mail.enabled"))


@bp.get("/admin/api-keys")
@console_page(admin=True)
def api_keys():
    return _page("api_keys.html", title="API keys", scopes=get_args(ApiScope))


@bp.get("/admin/repositories")
@console_page(admin=True)
def repositories():
    return _page("repositories.html", title="Repositories")
