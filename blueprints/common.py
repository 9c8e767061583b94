"""HTTP glue shared by every blueprint: body/query parsing, authentication guards, the caller.

- `@expects(json=Model, query=Model, resp={200: Model})` parses the request into pydantic models
  (malformed JSON -> 400, schema violations -> 422 with field details) and documents the route in
  the generated OpenAPI spec.
- `@authenticated(...)` resolves the caller (JWT, API key, or HTTP Basic) into `g.principal`.
- `@admin_required` is `@authenticated()` plus the admin check.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable
from typing import Any

from flask import g, request
from flask_jwt_extended import get_jwt, get_jwt_header, verify_jwt_in_request
from pydantic import BaseModel, ValidationError
from spectree import Response

from errors import ApiError
from extensions import api_spec, db
from models import ApiKey, User
from services import accounts, api_keys, tokens


class Principal:
    """Who is calling: an account (JWT, Basic, or a user-owned key) and/or an API key."""

    def __init__(self, user: User | None = None, key: Any = None, app: str | None = None,
                 claims: dict | None = None, account: tokens.TokenAccount | None = None) -> None:
        self.key = key  # ApiKey | EnvModelKey
        self.app = app  # the JWT's `app` claim or the key's bound app
        self.claims = claims or {}
        self._user = user
        self._account = account  # a JWT's account: its User is built only when something asks for it

    @property
    def account(self) -> User | tokens.TokenAccount | None:
        """The calling account to read (id, username, is_admin...), without building a User for a JWT."""
        return self._account if self._account is not None else self._user

    @property
    def user(self) -> User | None:
        """The calling account as an ORM User (built on first use for a JWT)."""
        if self._user is None and self._account is not None:
            self._user = self._account.user()
        return self._user

    @user.setter
    def user(self, value: User | None) -> None:
        self._user = value

    @property
    def is_admin(self) -> bool:
        return bool(self.account and self.account.is_admin)

    @property
    def name(self) -> str:
        if self.account is not None:
            return self.account.username
        return f"key:{self.key.prefix}" if self.key is not None else "anonymous"

    def has_scope(self, scope: str) -> bool:
        return self.key is not None and scope in self.key.scopes

    def acts_for(self, app: str, tracked_user: str, scope: str | None = None) -> bool:
        """DESIGN.md: an account acts only as its username; admins, and keys bound to the app, for anyone."""
        if self.is_admin:
            return True
        if self.key is not None and self.key.app == app and (scope is None or self.has_scope(scope)):
            return True
        return self.account is not None and tracked_user != "all" and tracked_user == self.account.username


def current_principal() -> Principal:
    return g.principal


def validation_details(exc: ValidationError) -> list[dict]:
    # input values are left out on purpose: they may be passwords
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors(include_url=False)]


def parse_model(model: type[BaseModel], data: Any, invalid_status: int = 422) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(invalid_status, "Validation failed", validation_details(exc)) from None


def json_payload() -> Any:
    """The request body as JSON; an empty body is `{}`. 415 for other media types, 400 if malformed."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    if not request.is_json:
        raise ApiError(415, "Content-Type must be application/json")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "Malformed JSON body", str(exc)) from None


def _spec_response(resp: dict[int, type[BaseModel] | None] | None) -> Response | None:
    if not resp:
        return None
    codes = [f"HTTP_{code}" for code, model in resp.items() if model is None]
    models = {f"HTTP_{code}": model for code, model in resp.items() if model is not None}
    return Response(*codes, **models)


def expects(json: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
            resp: dict[int, type[BaseModel] | None] | None = None, tags: tuple[str, ...] = (),
            security: list[dict] | None = None, invalid_status: int = 422):
    """Parse the JSON body into `body=` and the query string into `query=`; document the route."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def parse_then_call(*args, **kwargs):
            if json is not None:
                kwargs["body"] = parse_model(json, json_payload(), invalid_status)
            if query is not None:
                kwargs["query"] = parse_model(query, request.args.to_dict(), invalid_status)
            return view(*args, **kwargs)

        # Documented through spectree, but its runtime wrapper is kept out of the call path (it would
        # re-buffer every response); spectree finds the metadata through the __wrapped__ chain.
        documented = api_spec.validate(json=json, query=query, resp=_spec_response(resp), tags=tags,
                                       security=security, skip_validation=True)(view)
        parse_then_call.__wrapped__ = documented  # type: ignore[attr-defined]
        return parse_then_call

    return decorate


# Security requirement objects for `expects(security=...)`.
BEARER = [{"bearerAuth": []}]
BEARER_OR_KEY = [{"bearerAuth": []}, {"apiKey": []}]
PUBLIC: list[dict] = []


def _unauthorized(message: str, *, basic: bool = False) -> ApiError:
    challenge = 'Basic realm="Concierge", charset="UTF-8"' if basic else "Bearer"
    return ApiError(401, message, headers={"WWW-Authenticate": challenge})


def _principal_from_key(key_value: str, scopes: tuple[str, ...]) -> Principal:
    key = api_keys.verify_key(key_value)
    if key is None:
        raise _unauthorized("Invalid or revoked API key")
    if scopes and not any(scope in key.scopes for scope in scopes):
        raise ApiError(403, "API key lacks the required scope", {"required": list(scopes)})
    user = db.session.get(User, key.user_id) if key.user_id else None
    return Principal(user=user, key=key, app=key.app)


def _principal_from_jwt(authorization: str) -> Principal:
    remembered = tokens.remembered_verification(authorization)
    if remembered is None:
        # The library's full check; errors become 401 through the loaders in app.register_jwt_callbacks.
        verify_jwt_in_request()
        header, claims = get_jwt_header(), get_jwt()
        tokens.remember_verification(authorization, header, claims)
    else:
        header, claims = remembered
        g.jwt_account = tokens.recheck_remembered(header, claims)
    return Principal(account=g.jwt_account, app=claims.get("app"), claims=claims)


def _principal_from_basic(header: str) -> Principal:
    """git's credential helper: username + password, or username + one of that user's API keys."""
    try:
        username, _, secret = base64.b64decode(header.split(" ", 1)[1]).decode().partition(":")
    except (IndexError, ValueError, binascii.Error, UnicodeDecodeError):
        raise _unauthorized("Malformed Basic credentials", basic=True) from None
    if secret.startswith(api_keys.KEY_PREFIX):
        key = api_keys.verify_key(secret)
        user = db.session.get(User, key.user_id) if isinstance(key, ApiKey) and key.user_id else None
        if user is not None and user.username == accounts.normalize_username(username):
            return Principal(user=user, key=key, app=key.app)
    user = accounts.authenticate(username, secret)
    if user is None:
        raise _unauthorized("Invalid credentials", basic=True)
    return Principal(user=user)


def resolve_principal(scopes: tuple[str, ...] = (), basic: bool = False) -> Principal:
    """Authenticate the request from X-API-Key, Authorization: Bearer (JWT or key) or Basic."""
    key_header = request.headers.get("X-API-Key")
    auth = request.headers.get("Authorization", "")
    if key_header is not None:
        if not scopes:
            raise _unauthorized("This endpoint needs a user token, not an API key")
        return _principal_from_key(key_header, scopes)
    if auth.startswith("Bearer ") and auth[7:].startswith(api_keys.KEY_PREFIX):
        return _principal_from_key(auth[7:].strip(), scopes)
    if basic and auth.startswith("Basic "):
        return _principal_from_basic(auth)
    if not auth:
        raise _unauthorized("Missing credentials", basic=basic)
    return _principal_from_jwt(auth)


def authenticated(*scopes: str, basic: bool = False):
    """Require a caller. `scopes`: API keys holding any of them are accepted too; `basic`: HTTP Basic."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            g.principal = resolve_principal(scopes, basic)
            return view(*args, **kwargs)

        return guarded

    return decorate


def admin_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        g.principal = resolve_principal()
        if not g.principal.is_admin:
            raise ApiError(403, "Admin privileges required")
        return view(*args, **kwargs)

    return guarded


def require_user() -> User:
    """The calling account, in the request's session (changes to it are committed); 403 for a key that
    acts for no account."""
    require_account()
    principal = current_principal()
    principal.user = tokens.in_session(principal.user)
    return principal.user


def require_account() -> User | tokens.TokenAccount:
    """The calling account to read (id, username, is_admin...): not put into the session, and for a JWT
    no User is built. For views that only pass its values on (check-in, lock acquire and release,
    currentuser); 403 for a key that acts for no account."""
    account = current_principal().account
    if account is None:
        raise ApiError(403, "This action needs a user account")
    return account
