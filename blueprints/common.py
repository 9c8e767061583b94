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
from collections.abc import Callable
from typing import Any

from flask import g, request
from flask_jwt_extended import get_current_user, get_jwt, verify_jwt_in_request
from pydantic import BaseModel, ValidationError
from spectree import Response

import settings
import wire
from errors import ApiError
from extensions import api_spec, db, limiter, password_check
from models import ApiKey, User
from services import accounts, api_keys


class Principal:
    """Who is calling: an account (JWT, Basic, or a key bound to an account) and/or an API key."""

    def __init__(self, user: User | None = None, key: Any = None, app: str | None = None,
                 claims: dict | None = None) -> None:
        self.user = user
        self.key = key  # ApiKey | EnvModelKey
        self.app = app  # the JWT's `app` claim or the key's bound app
        self.claims = claims or {}

    @property
    def is_admin(self) -> bool:
        return bool(self.user is not None and self.user.is_admin)

    @property
    def name(self) -> str:
        if self.user is not None:
            return self.user.username
        return f"key:{self.key.prefix}" if self.key is not None else "anonymous"

    def has_scope(self, scope: str) -> bool:
        return self.key is not None and scope in self.key.scopes

    def acts_for(self, app: str, tracked_user: str, scope: str | None = None) -> bool:
        """DESIGN.md: an account acts only as its username; admins, and keys bound to the app, for anyone."""
        if self.is_admin:
            return True
        if self.key is not None and self.key.app == app and (scope is None or self.has_scope(scope)):
            return True
        return self.user is not None and tracked_user != "all" and tracked_user == self.user.username


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
        return wire.loads(raw)  # strict: no NaN/Infinity, no NUL, bounded nesting
    except wire.UnacceptableJSON as exc:  # a NUL names its field, as a validation error does
        where = ".".join(str(part) for part in exc.loc)
        message = f"Invalid field {where}: {exc}" if where else "Malformed JSON body"
        raise ApiError(400, message, {"reason": str(exc), "loc": exc.loc}) from None
    except ValueError as exc:  # syntax errors and undecodable bytes (UnicodeDecodeError is a ValueError)
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
    """An API key passes only an endpoint that declares one of its scopes (admin endpoints declare none)."""
    if not scopes:
        raise _unauthorized("This endpoint needs a user token, not an API key")
    key = api_keys.verify_key(key_value)
    if key is None:
        raise _unauthorized("Invalid or revoked API key")
    if not any(scope in key.scopes for scope in scopes):
        raise ApiError(403, "API key lacks the required scope", {"required": list(scopes)})
    user = db.session.get(User, key.user_id) if key.user_id else None
    return Principal(user=user, key=key, app=key.app)


def _principal_from_jwt() -> Principal:
    # The library's full check, with the revocation query of app.register_jwt_callbacks (one per request);
    # its failures become 401 through the loaders there. Headers only: the console's cookie is its own.
    verify_jwt_in_request(locations=["headers"])
    claims = get_jwt()
    return Principal(user=get_current_user(), app=claims.get("app"), claims=claims)


def _basic_credentials(header: str) -> tuple[str, str]:
    try:
        username, _, secret = base64.b64decode(header.split(" ", 1)[1], validate=True).decode().partition(":")
    except (IndexError, ValueError, binascii.Error, UnicodeDecodeError):
        raise _unauthorized("Malformed Basic credentials", basic=True) from None
    if "\x00" in username or "\x00" in secret:
        raise _unauthorized("Malformed Basic credentials", basic=True)
    return username, secret


def _principal_from_basic(header: str, scopes: tuple[str, ...]) -> Principal:
    """git's credential helper: username + password, or username + that user's API key holding one of the
    endpoint's scopes (`lfs`). Every attempt is a password check (extensions.password_check)."""
    username, secret = _basic_credentials(header)

    def check() -> Principal | None:
        if secret.startswith(api_keys.KEY_PREFIX):
            key = api_keys.verify_key(secret)
            user = db.session.get(User, key.user_id) if isinstance(key, ApiKey) and key.user_id else None
            if user is None or user.username != accounts.normalize_username(username):
                return None
            if not any(scope in key.scopes for scope in scopes):
                raise ApiError(403, "API key lacks the required scope", {"required": list(scopes)})
            return Principal(user=user, key=key, app=key.app)
        user = accounts.authenticate(username, secret)
        return Principal(user=user) if user is not None else None

    principal = password_check(username, check)
    if principal is None:
        raise _unauthorized("Invalid credentials", basic=True)
    return principal


def resolve_principal(scopes: tuple[str, ...] = (), basic: bool = False) -> Principal:
    """Authenticate the request from X-API-Key, Authorization: Bearer (JWT or key) or Basic. A key is
    judged the same way in either header."""
    key_header = request.headers.get("X-API-Key")
    auth = request.headers.get("Authorization", "")
    if key_header is not None:
        return _principal_from_key(key_header, scopes)
    if auth.startswith("Bearer ") and auth[7:].strip().startswith(api_keys.KEY_PREFIX):
        return _principal_from_key(auth[7:].strip(), scopes)
    if basic and auth.startswith("Basic "):
        return _principal_from_basic(auth, scopes)
    if not auth:
        raise _unauthorized("Missing credentials", basic=basic)
    return _principal_from_jwt()


def declare_key_scopes(*scopes: str):
    """Record which API-key scopes an endpoint accepts (none is a declaration: keys are refused there).
    Every route declares it (tests/test_key_scopes.py walks the URL map); authenticated(), admin_required
    and public declare it themselves."""

    def decorate(view: Callable) -> Callable:
        view.key_scopes = scopes  # type: ignore[attr-defined]
        return view

    return decorate


def authenticated(*scopes: str, basic: bool = False):
    """Require a caller. `scopes`: API keys holding any of them are accepted too; `basic`: HTTP Basic."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            g.principal = resolve_principal(scopes, basic)
            return view(*args, **kwargs)

        return declare_key_scopes(*scopes)(guarded)

    return decorate


def admin_required(view: Callable) -> Callable:
    """An admin's account (a JWT); API keys never pass, whatever their scopes or owner."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        g.principal = resolve_principal()
        if not g.principal.is_admin:
            raise ApiError(403, "Admin privileges required")
        return view(*args, **kwargs)

    return declare_key_scopes()(guarded)


def public(view: Callable) -> Callable:
    """A public endpoint (the contracts mark which): no credentials, no key scope, and `ratelimit.public`
    requests per client address (Flask-Limiter's own decorator)."""
    return declare_key_scopes()(limiter.limit(lambda: settings.get("ratelimit.public"))(view))


def require_user() -> User:
    """The calling account (in the request's session); 403 for a key that acts for no account."""
    user = current_principal().user
    if user is None:
        raise ApiError(403, "This action needs a user account")
    return user

