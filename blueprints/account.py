"""The Asset Lock Manager's self-service account changes and their e-mailed confirmation links."""

from flask import Blueprint

from blueprints.auth import user_json
from blueprints.common import BEARER, PUBLIC, authenticated, current_principal, expects, public, require_user
from envelope import iso_z, success
from extensions import password_check
from schemas import EmailChangeIn, Envelope, PasswordChangeIn
from services import account_changes, tokens
from services.account_changes import EMAIL, PASSWORD, ChangeOutcome

bp = Blueprint("account", __name__)


def _answer(outcome: ChangeOutcome, kind: str):
    """202 with where the link went, or 200 with the account and fresh tokens (the old ones are revoked)."""
    if outcome.pending:
        data = {"pending": True, "kind": kind, "sent_to": outcome.sent_to, "expires_at": iso_z(outcome.expires_at)}
        return success(data, f"Confirmation e-mail sent to {outcome.sent_to}", 202)
    issued = tokens.issue_tokens(outcome.user, current_principal().app)
    data = {"pending": False, "kind": kind, "user": user_json(outcome.user),
            "access_token": issued["access_token"], "refresh_token": issued.get("refresh_token")}
    return success(data, f"{kind.capitalize()} updated")


@bp.put("/api/users/me/password")
@authenticated()
@expects(json=PasswordChangeIn, resp={200: Envelope, 202: Envelope, 401: None, 403: None, 422: None},
         tags=("account",), security=BEARER)
def change_password(body: PasswordChangeIn):
    """Change your password (current one required); with mail on, it applies once the mailed link is opened."""
    user = require_user()
    outcome = password_check(user.username, lambda: account_changes.request_password_change(
        user, body.current_password, body.new_password))
    return _answer(outcome, PASSWORD)


@bp.put("/api/users/me/email")
@authenticated()
@expects(json=EmailChangeIn, resp={200: Envelope, 202: Envelope, 400: None, 401: None, 403: None, 409: None,
                                   422: None}, tags=("account",), security=BEARER)
def change_email(body: EmailChangeIn):
    """Change your e-mail (password required); with mail on, a link goes to the new address, a notice to the old."""
    user = require_user()
    outcome = password_check(user.username, lambda: account_changes.request_email_change(
        user, body.password, body.new_email))
    return _answer(outcome, EMAIL)


@bp.get("/api/confirm-email/<token>")
@public
@expects(resp={200: Envelope, 400: None, 409: None, 410: None}, tags=("account",), security=PUBLIC)
def confirm_email(token: str):
    """Apply the e-mail change this link stands for (once; 410 once expired)."""
    user = account_changes.confirm(EMAIL, token)
    return success({"user": user_json(user)}, "Email address updated")


@bp.get("/api/confirm-password/<token>")
@public
@expects(resp={200: Envelope, 400: None, 409: None, 410: None}, tags=("account",), security=PUBLIC)
def confirm_password(token: str):
    """Apply the password change this link stands for (once; 410 once expired); older tokens are revoked."""
    user = account_changes.confirm(PASSWORD, token)
    return success({"user": user_json(user)}, "Password updated")
