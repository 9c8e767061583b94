"""JWT issue and revocation. Claims: sub = user id, username, is_admin, app, tv (token version)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from sqlalchemy import bindparam, delete, exists, select

import settings
from extensions import db
from models import RevokedToken, User
from services import clock


def access_lifetime() -> timedelta | None:
    """Effective access-token lifetime; None = no expiry (the Asset Lock Manager: disabled or 0 minutes)."""
    minutes = settings.get("jwt.expiry.minutes")
    if not settings.get("jwt.expiry.enabled") or minutes == 0:
        return None
    return timedelta(minutes=minutes)


def _claims(user: User, app: str | None) -> dict:
    return {"username": user.username, "is_admin": user.is_admin, "app": app, "tv": user.token_version}


def issue_tokens(user: User, app: str | None = None) -> dict:
    lifetime = access_lifetime()
    claims = _claims(user, app)
    access = create_access_token(identity=str(user.id), additional_claims=claims,
                                 expires_delta=lifetime if lifetime else False)
    refresh = create_refresh_token(identity=str(user.id), additional_claims=claims,
                                   expires_delta=timedelta(days=settings.static("jwt.refresh_expiry.days")))
    return {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": int(lifetime.total_seconds()) if lifetime else None,
    }


def issue_access_token(user: User, app: str | None) -> dict:
    lifetime = access_lifetime()
    token = create_access_token(identity=str(user.id), additional_claims=_claims(user, app),
                                expires_delta=lifetime if lifetime else False)
    return {"access_token": token, "token_type": "Bearer",
            "expires_in": int(lifetime.total_seconds()) if lifetime else None}


def _expiry(payload: dict) -> datetime | None:
    exp = payload.get("exp")
    return datetime.utcfromtimestamp(exp) if exp else None  # noqa: DTZ004 - naive UTC by convention


def revoke_payload(payload: dict) -> None:
    """Revoke one decoded token by its jti (idempotent)."""
    if db.session.get(RevokedToken, payload["jti"]) is None:
        db.session.add(RevokedToken(jti=payload["jti"], expires_at=_expiry(payload)))


def revoke_encoded(token: str, user: User) -> bool:
    """Revoke a refresh/access token string the caller holds; only the caller's own tokens count."""
    try:
        payload = decode_token(token, allow_expired=True)
    except Exception:  # noqa: BLE001 - any undecodable token is simply not revoked
        return False
    if payload.get("sub") != str(user.id):
        return False
    revoke_payload(payload)
    return True


# The revocation check of every authenticated request: the token's user (None: deleted) and whether its
# jti was revoked by a logout, in one indexed query, so a logout, password change, demotion or deletion
# applies on the next request in every worker.
_TOKEN_USER = select(User, exists().where(RevokedToken.jti == bindparam("jti")).label("jti_revoked")).where(
    User.id == bindparam("user_id"))


def load_token_user(payload: dict) -> tuple[User | None, bool]:
    """(the token's account, whether the token is revoked): this runs on every authenticated request.

    Revoked means: the user is gone, the token's version is stale, or its jti was revoked by logout.
    """
    try:
        user_id = uuid.UUID(str(payload["sub"]))
    except (KeyError, ValueError, TypeError):
        return None, True
    row = db.session.execute(_TOKEN_USER, {"user_id": user_id, "jti": payload.get("jti")}).first()
    if row is None:
        return None, True
    user, jti_revoked = row
    return user, bool(jti_revoked) or payload.get("tv") != user.token_version


def purge_expired_revocations() -> int:
    """Revocation rows of tokens that expired anyway are dead weight."""
    result = db.session.execute(delete(RevokedToken).where(RevokedToken.expires_at < clock.now()))
    db.session.commit()
    return result.rowcount or 0
