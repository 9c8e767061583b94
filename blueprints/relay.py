"""App1's API: app sessions, the Alohomora token relay, Alohomora's notifications.

Flat `{error}` bodies (the app1 family). `/new_session` and `/register_token` need a JWT or a `relay`
key unless `alohomora.open_endpoints` is on; notifications come on the secret path, from a configured
source address, or on the plain path when open endpoints are on (Alohomora itself sends no credentials).
"""

import functools
import hmac
import ipaddress
from collections.abc import Callable

from flask import Blueprint, g, jsonify, request

import settings
from blueprints.common import (
    BEARER_OR_KEY,
    PUBLIC,
    Principal,
    authenticated,
    current_principal,
    declare_key_scopes,
    expects,
    public,
)
from envelope import iso_z
from errors import ApiError, render, use_family
from schemas import (
    NewSessionIn,
    RegisterTokenIn,
    RegisterTokenOut,
    RelayErrorOut,
    SessionIdOut,
    SessionNotificationIn,
    SessionNotificationOut,
)
from services import alohomora, app_sessions

bp = use_family(Blueprint("relay", __name__), "app1")


@bp.errorhandler(ApiError)
def _useful_validation_message(err: ApiError):
    """App1's clients read only `error`: name the failing field there (details keep the full list)."""
    if err.status == 400 and err.message == "Validation failed" and isinstance(err.details, list) and err.details:
        first = err.details[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        err.message = (f"Missing required field: {field}" if first["type"] == "missing"
                       else f"Invalid field {field}: {first['msg']}")
    return render(err)


def relay_caller(view: Callable) -> Callable:
    """A JWT or a `relay` key, unless the deployment serves App1's open contract."""
    protected = authenticated("relay")(view)

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        if settings.get("alohomora.open_endpoints"):
            g.principal = Principal()
            g.relay_open = True
            return view(*args, **kwargs)
        g.relay_open = False
        return protected(*args, **kwargs)

    return declare_key_scopes("relay")(guarded)


def _may_act_for(*user_ids: str) -> bool:
    """DESIGN.md: an account acts as its username; admins and relay keys for anyone."""
    principal = current_principal()
    if g.relay_open or principal.is_admin or principal.has_scope("relay"):
        return True
    return principal.user is not None and all(uid == principal.user.username for uid in user_ids)


@bp.post("/new_session")
@relay_caller
@expects(json=NewSessionIn, resp={201: SessionIdOut, 400: RelayErrorOut, 401: None, 403: None},
         tags=("relay",), security=BEARER_OR_KEY, invalid_status=400)
def new_session(body: NewSessionIn):
    """App1: create an app session for `user_id` (expires after `app_sessions.ttl_minutes`)."""
    if not _may_act_for(body.user_id):
        raise ApiError(403, "You may only create sessions for your own username")
    session = app_sessions.create_session(body.user_id, body.data)
    return jsonify(session_id=str(session.session_id)), 201


@bp.post("/register_token")
@relay_caller
@expects(json=RegisterTokenIn, resp={201: RegisterTokenOut, 400: RelayErrorOut, 404: RelayErrorOut, 502: RelayErrorOut,
                                     503: RelayErrorOut}, tags=("relay",), security=BEARER_OR_KEY, invalid_status=400)
def register_token(body: RegisterTokenIn):
    """App1: forward a session's token to Alohomora's `record_token`."""
    session = app_sessions.find_live_session(body.session_id)
    if not _may_act_for(session.user_id, body.user_id or session.user_id):
        raise ApiError(403, "You may only register tokens for your own sessions")
    metadata = body.token_metadata.model_dump(exclude_unset=True) if body.token_metadata else None
    token_id = app_sessions.register_token(session, body.token, body.workflow_id, body.function_id,
                                           body.system_id, body.user_id, metadata)
    return jsonify(message="Token registered successfully with alohomora", alohomora_token_id=token_id,
                   session_id=str(session.session_id)), 201


def _notification_response(body: SessionNotificationIn):
    info = body.session_info
    status = body.workflow_status.model_dump(exclude_unset=True) if body.workflow_status is not None else None
    result = app_sessions.receive_notification(
        body.token_id, info.user_id, info.workflow_id, info.session_id, info.create_local_session, status,
        body.notification_metadata, request.remote_addr)
    return jsonify(message="Session notification received successfully", token_id=result.token_id,
                   processed_at=iso_z(result.processed_at), local_session_created=result.local_session_created,
                   local_session_id=str(result.local_session_id) if result.local_session_id else None)


def _from_allowed_source() -> bool:
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    for allowed in settings.get("alohomora.notification_sources"):
        try:
            if address in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False


def from_allowed_source(view: Callable) -> Callable:
    """The plain callback path: open endpoints, or a client address in `alohomora.notification_sources`."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        if not (settings.get("alohomora.open_endpoints") or _from_allowed_source()):
            raise ApiError(403, "Notifications are accepted on the secret callback path or from configured sources")
        return view(*args, **kwargs)

    return guarded


def secret_path(view: Callable) -> Callable:
    """The secret callback path: a wrong secret looks like any unknown URL."""

    @functools.wraps(view)
    def guarded(*args, secret: str, **kwargs):
        expected = alohomora.notification_secret()
        if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
            raise ApiError(404, "Not Found")
        return view(*args, **kwargs)

    return guarded


@bp.post("/receive_session_notification")
@public
@from_allowed_source
@expects(json=SessionNotificationIn, resp={200: SessionNotificationOut, 400: RelayErrorOut, 403: RelayErrorOut},
         tags=("relay",), security=PUBLIC, invalid_status=400)
def receive_session_notification(body: SessionNotificationIn):
    """App1: Alohomora's cross-app notification (open endpoints or a configured source address)."""
    return _notification_response(body)


@bp.post("/relay/<secret>/receive_session_notification")
@public
@secret_path
@expects(json=SessionNotificationIn, resp={200: SessionNotificationOut, 400: RelayErrorOut, 404: RelayErrorOut},
         tags=("relay",), security=PUBLIC, invalid_status=400)
def receive_session_notification_secret(body: SessionNotificationIn):
    """The callback URL to register with Alohomora: the secret in the path is the credential."""
    return _notification_response(body)
