"""JWT issue and revocation. Claims: sub = user id, username, is_admin, app, tv (token version)."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from flask_jwt_extended.config import config as jwt_config
from flask_jwt_extended.exceptions import RevokedTokenError
from jwt import ExpiredSignatureError
from sqlalchemy import bindparam, delete, event, exists, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, make_transient_to_detached

import settings
from extensions import db
from models import RevokedToken, User
from services import clock, prepared


def access_lifetime() -> timedelta | None:
    """Effective access-token lifetime; None = no expiry (seed 002: disabled or 0 minutes)."""
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


# Built once: this statement runs on every authenticated request; PostgreSQL runs it prepared, in
# autocommit (services.prepared): one round trip.
_USER_COLUMNS = tuple(column.name for column in User.__table__.columns)
_TOKEN_USER_COLUMNS = select(*User.__table__.columns, exists().where(RevokedToken.jti == bindparam("jti"))).where(
    User.id == bindparam("user_id"))
_PREPARED_TOKEN_USER = prepared.compile_select("concierge_token_user", _TOKEN_USER_COLUMNS)


class TokenAccount:
    """The account a token check found, to read: its columns as attributes (id, username, is_admin...).
    The ORM User is built only when asked for (user()).

    Why: building the ORM instance (and marking it detached) cost check-in about 3% of its throughput
    under load, and most token-checked views only read the caller's id, name or role. The User comes
    detached, as if a session had loaded it and closed: its columns read without queries, and
    in_session() puts it into the request's session for the views that change it.
    """

    __slots__ = ("_columns", "_user")

    def __init__(self, columns: dict) -> None:
        self._columns = columns  # shared with the process's token checks: never changed
        self._user: User | None = None

    def __getattr__(self, name: str):
        try:
            value = self._columns[name]
        except KeyError:
            raise AttributeError(name) from None
        return list(value) if isinstance(value, list) else value  # preferences: a list of the caller's own

    def user(self) -> User:
        if self._user is None:
            columns = self._columns
            self._user = User(**{**columns, "preferences": list(columns["preferences"])})
            make_transient_to_detached(self._user)
        return self._user


def load_token_user(payload: dict) -> tuple[TokenAccount | None, bool]:
    """(the token's account, whether the token is revoked): this runs on every request.

    Revoked means: the user is gone, the token's version is stale, or its jti was revoked by logout.
    """
    try:
        user_id = uuid.UUID(payload["sub"])
    except (KeyError, ValueError, TypeError):
        return None, True
    columns, jti_revoked = _token_check(user_id, payload.get("jti"))
    if columns is None:
        return None, True
    return TokenAccount(columns), jti_revoked or payload.get("tv") != columns["token_version"]


class TokenChecks:
    """What this process last read for each (user, jti): the user's columns and whether the jti is
    revoked, trusted for `jwt.recheck_seconds` (the database round trip is most of what a token-checked
    request costs). A commit that changes an account or revokes a token in this process forgets them
    all at once (forget_token_checks); other processes see it once their entries are that old."""

    SIZE = 10_000

    def __init__(self) -> None:
        self.entries: dict[tuple[uuid.UUID, str | None], tuple[float, dict | None, bool]] = {}
        self.generation = 0  # bumped by forget(): a check read before it is not stored after it

    def forget(self) -> None:
        self.generation += 1
        self.entries.clear()


def _token_checks() -> TokenChecks:
    return current_app.extensions.setdefault("concierge.token_checks", TokenChecks())


def forget_token_checks() -> None:
    _token_checks().forget()


def _token_check(user_id: uuid.UUID, jti: str | None) -> tuple[dict | None, bool]:
    trust = settings.static("jwt.recheck_seconds")
    checks, key, now = _token_checks(), (user_id, jti), time.monotonic()
    remembered = checks.entries.get(key) if trust else None
    if remembered is not None and now - remembered[0] < trust:
        return remembered[1], remembered[2]
    generation = checks.generation
    columns, jti_revoked = _read_token_check(user_id, jti)
    if trust and generation == checks.generation:
        if len(checks.entries) >= TokenChecks.SIZE:
            checks.entries.clear()  # bounded; a full table costs one query per live token
        checks.entries[key] = (now, columns, jti_revoked)
    return columns, jti_revoked


# A commit that changed an account or revoked a token makes this process forget its token checks.
_ACCOUNTS_CHANGED = "concierge.accounts_changed"
_ACCOUNT_CLASSES = (User, RevokedToken)


@event.listens_for(Session, "after_flush")
def _note_account_changes(session: Session, _flush_context) -> None:
    if any(isinstance(obj, _ACCOUNT_CLASSES) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info[_ACCOUNTS_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_account_changes(state) -> None:
    """update(User)..., delete(RevokedToken)... run through the session."""
    mapper = state.bind_mapper
    if (state.is_update or state.is_delete or state.is_insert) and mapper is not None \
            and issubclass(mapper.class_, _ACCOUNT_CLASSES):
        state.session.info[_ACCOUNTS_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _forget_checks_after_account_changes(session: Session) -> None:
    if session.info.pop(_ACCOUNTS_CHANGED, False) and has_app_context():
        forget_token_checks()


@event.listens_for(Session, "after_rollback")
def _changes_rolled_back(session: Session) -> None:
    session.info.pop(_ACCOUNTS_CHANGED, None)


def _read_token_check(user_id: uuid.UUID, jti: str | None) -> tuple[dict | None, bool]:
    """The user's columns (None: no such user) and whether the jti is revoked, in one round trip."""
    values = {"user_id": user_id, "jti": jti}
    if prepared.available():
        row = _PREPARED_TOKEN_USER.first_row(values)
    else:
        row = db.session.execute(_TOKEN_USER_COLUMNS, values).first()
    if row is None:
        return None, True
    return dict(zip(_USER_COLUMNS, row[:-1], strict=True)), bool(row[-1])


def in_session(user: User) -> User:
    """The token's user as an instance of the request's session, so that changes to it are committed."""
    state = sa_inspect(user)
    if not state.detached:
        return user
    # A session that outlives a request (a test's app context) may hold this account already.
    existing = db.session.identity_map.get(state.key)
    if existing is not None:
        return existing
    db.session.add(user)
    return user


# Verifying a token's signature and structure is the costliest step of most requests: Flask-JWT-Extended
# decodes a token four times and PyJWT checks every character of every segment in Python. The outcome is
# a pure function of the Authorization header (and the secret, fixed for the app's life), so each process
# remembers it for recently seen headers. What can change afterwards is re-checked on every request:
# the clock (expiry) and the database (revocation, token version, the user's existence).
VERIFIED_MEMO_SIZE = 10_000


def _verified_memo() -> dict[str, tuple[dict, dict]]:
    return current_app.extensions.setdefault("concierge.verified_tokens", {})


def remembered_verification(authorization: str) -> tuple[dict, dict] | None:
    """(JWT header, claims) of an access token this process verified before, or None."""
    return _verified_memo().get(authorization)


def remember_verification(authorization: str, header: dict, claims: dict) -> None:
    memo = _verified_memo()
    if len(memo) >= VERIFIED_MEMO_SIZE:
        memo.clear()  # bounded; the cost of a full memo is one more verification per live token
    memo[authorization] = (header, claims)


def recheck_remembered(header: dict, claims: dict) -> TokenAccount:
    """Expiry and revocation of a remembered token, raising what Flask-JWT-Extended raises (same 401s)."""
    exp = claims.get("exp")
    if exp is not None and exp <= time.time() - jwt_config.leeway:  # PyJWT's own comparison
        expired = ExpiredSignatureError("Signature has expired")
        expired.jwt_header, expired.jwt_data = header, claims  # type: ignore[attr-defined]
        raise expired
    account, revoked = load_token_user(claims)
    if revoked:
        raise RevokedTokenError(header, claims)
    return account


def purge_expired_revocations() -> int:
    """Revocation rows of tokens that expired anyway are dead weight."""
    result = db.session.execute(delete(RevokedToken).where(RevokedToken.expires_at < clock.now()))
    db.session.commit()
    return result.rowcount or 0
