"""Self-service e-mail and password changes (the Asset Lock Manager), confirmed by a mailed link when mail is active.

A request checks the caller's password, then either applies the change at once (mail inactive) or stores
it as a pending `account_changes` row: a random token (only its SHA-256 is kept), one user, one kind,
an expiry; a newer request of the same kind voids the older one. Confirming claims the row with a
conditional UPDATE, so a link works exactly once even when opened twice at the same moment.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

import settings
from envelope import iso_z_seconds
from errors import ApiError, conflict
from extensions import db
from models import AccountChange, User
from services import accounts, clock, mail, passwords

EMAIL, PASSWORD = "email", "password"
LINK_PATHS = {EMAIL: "confirm-email", PASSWORD: "confirm-password"}


@dataclass(frozen=True)
class ChangeOutcome:
    """What a change request did: applied now, or waiting for the link mailed to `sent_to`."""

    user: User
    pending: bool
    sent_to: str | None = None
    expires_at: datetime | None = None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def confirmation_link(kind: str, token: str) -> str:
    return f"{settings.static('frontend.base_url').rstrip('/')}/{LINK_PATHS[kind]}/{token}"


def _check_password(user: User, password: str, message: str) -> None:
    if not passwords.verify_password(user.password_hash, password):
        raise ApiError(403, message)


def _open_change(user: User, kind: str, **values) -> tuple[str, AccountChange]:
    """Void the user's older requests of this kind and add a new one (the caller commits)."""
    db.session.execute(delete(AccountChange).where(AccountChange.user_id == user.id, AccountChange.kind == kind)
                       .execution_options(synchronize_session=False))
    token = secrets.token_urlsafe(32)
    now = clock.now()
    change = AccountChange(user_id=user.id, kind=kind, token_hash=hash_token(token), created_at=now,
                           user_token_version=user.token_version,
                           expires_at=now + timedelta(hours=settings.static("mail.confirmation_hours")), **values)
    db.session.add(change)
    return token, change


def request_email_change(user: User, password: str, new_email: str) -> ChangeOutcome:
    """Check the password and the address; apply now, or mail a link to the new address (and tell the old)."""
    _check_password(user, password, "Password is incorrect")
    new_email = accounts.checked_email(new_email)
    if new_email == user.email:
        raise ApiError(400, "The new e-mail address is the same as the current one")
    if db.session.scalar(select(User.id).where(User.email == new_email, User.id != user.id)) is not None:
        raise conflict("A user with this email already exists", {"field": "email"})
    if not mail.mail_active():
        return ChangeOutcome(accounts.set_email(user, new_email), pending=False)
    token, change = _open_change(user, EMAIL, new_email=new_email)
    context = {"user": user, "new_email": new_email, "expires_at": iso_z_seconds(change.expires_at)}
    mail.queue(new_email, mail.render("confirm_email", "Confirm your new e-mail address",
                                      link=confirmation_link(EMAIL, token), **context), "confirm_email")
    mail.queue(user.email, mail.render("email_change_notice", "Your e-mail address is about to change",
                                       **context), "email_change_notice")
    db.session.commit()
    return ChangeOutcome(user, pending=True, sent_to=new_email, expires_at=change.expires_at)


def request_password_change(user: User, current_password: str, new_password: str) -> ChangeOutcome:
    """Check the current password; apply now, or store the new hash and mail a link to the account."""
    _check_password(user, current_password, "Current password is incorrect")
    if not mail.mail_active():
        return ChangeOutcome(accounts.set_password(user, new_password), pending=False)
    token, change = _open_change(user, PASSWORD, new_password_hash=passwords.hash_password(new_password))
    mail.queue(user.email, mail.render("confirm_password", "Confirm your new password", user=user,
                                       link=confirmation_link(PASSWORD, token),
                                       expires_at=iso_z_seconds(change.expires_at)), "confirm_password")
    db.session.commit()
    return ChangeOutcome(user, pending=True, sent_to=user.email, expires_at=change.expires_at)


def confirm(kind: str, token: str) -> User:
    """Apply the change this link stands for: once, before it expires, only for its kind, and only while the
    account has not changed since (a confirmed password change voids a stranger's pending e-mail change)."""
    change = db.session.scalar(select(AccountChange).where(AccountChange.token_hash == hash_token(token),
                                                           AccountChange.kind == kind))
    if change is None:
        raise ApiError(400, "Invalid confirmation link")
    now = clock.now()
    if change.used_at is not None:
        raise ApiError(409, "This confirmation link has already been used")
    if change.expires_at <= now:
        raise ApiError(410, "This confirmation link has expired")
    user = accounts.get_user(change.user_id)
    if user.token_version != change.user_token_version:
        raise ApiError(410, "This confirmation link was voided by a later change to the account")
    claimed = db.session.execute(
        update(AccountChange).where(AccountChange.id == change.id, AccountChange.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        db.session.rollback()
        raise ApiError(409, "This confirmation link has already been used")
    try:
        if kind == EMAIL:
            return accounts.set_email(user, change.new_email)  # commits the claim with the change
        user.password_hash = change.new_password_hash
        accounts.revoke_tokens(user)
        db.session.commit()
        return user
    except ApiError:
        db.session.rollback()  # e.g. the address was taken meanwhile: the link stays unused
        raise
