"""Admin API for service API keys: create (the key is shown once), list, revoke."""

from flask import Blueprint

from blueprints.common import BEARER, admin_required, expects
from envelope import iso_z, success
from schemas import ApiKeyIn, Envelope
from services import accounts, api_keys

bp = Blueprint("api_keys", __name__)


def key_json(key, plaintext: str | None = None) -> dict:
    body = {"id": str(key.id), "name": key.name, "prefix": key.prefix, "scopes": list(key.scopes), "app": key.app,
            "user_id": str(key.user_id) if key.user_id else None, "created_at": iso_z(key.created_at),
            "last_used_at": iso_z(key.last_used_at), "revoked_at": iso_z(key.revoked_at)}
    if plaintext is not None:
        body["key"] = plaintext
    return body


@bp.post("/api/admin/api-keys")
@admin_required
@expects(json=ApiKeyIn, resp={201: Envelope, 401: None, 403: None, 404: None, 422: None}, tags=("api-keys",),
         security=BEARER)
def create_key(body: ApiKeyIn):
    """`{name, scopes, app?, user_id?}`; the answer's `key` is the only time the secret is shown."""
    owner = accounts.get_user(body.user_id).id if body.user_id else None
    key, plaintext = api_keys.create_key(body.name, list(body.scopes), body.app, owner)
    return success(key_json(key, plaintext), "API key created: store it now, it is not shown again", 201)


@bp.get("/api/admin/api-keys")
@admin_required
@expects(resp={200: Envelope, 401: None, 403: None}, tags=("api-keys",), security=BEARER)
def list_keys():
    """Every key, newest first: prefix, scopes, app, owner, created, last used, revoked (never the secret)."""
    return success([key_json(key) for key in api_keys.list_keys()], "API keys")


@bp.delete("/api/admin/api-keys/<key_id>")
@admin_required
@expects(resp={200: Envelope, 401: None, 403: None, 404: None}, tags=("api-keys",), security=BEARER)
def revoke_key(key_id: str):
    """Revoke a key at once (idempotent); it then answers 401 everywhere."""
    return success(key_json(api_keys.revoke_key(key_id)), "API key revoked")
