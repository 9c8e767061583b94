"""API keys for services: random, shown once, stored as SHA-256, scoped, optionally bound to an app/user."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import select

import settings
from errors import ApiError, not_found
from extensions import db
from models import ApiKey
from services import clock

SCOPES = ("model:read", "track:write", "analytics:read", "relay", "lfs")
KEY_PREFIX = "ck_"


def _digest(secret: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough; argon2 would only slow every request.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(name: str, scopes: list[str], app: str | None = None,
               user_id: uuid.UUID | None = None) -> tuple[ApiKey, str]:
    """Create a key; returns (row, plaintext). The plaintext is never stored."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ApiError(422, "Unknown scope", {"unknown": unknown, "allowed": list(SCOPES)})
    prefix = secrets.token_hex(4)
    plaintext = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(name=name, prefix=prefix, key_hash=_digest(plaintext), scopes=sorted(set(scopes)),
                 app=app, user_id=user_id)
    db.session.add(key)
    db.session.commit()
    return key, plaintext


def list_keys() -> list[ApiKey]:
    return list(db.session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc())))


def revoke_key(key_id: uuid.UUID | str) -> ApiKey:
    try:
        key = db.session.get(ApiKey, uuid.UUID(str(key_id)))
    except ValueError:
        key = None
    if key is None:
        raise not_found("API key")
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        db.session.commit()
    return key


class EnvModelKey:
    """MODEL_API_KEY from the environment, behaving as a `model:read` key with no app or owner."""

    id = None
    name = "MODEL_API_KEY"
    prefix = "env"
    scopes = ["model:read"]
    app = None
    user_id = None


def verify_key(presented: str | None) -> ApiKey | EnvModelKey | None:
    """The live key matching the presented secret, or None. Comparisons are constant-time."""
    if not presented:
        return None
    env_key = settings.static("model.api_key")
    if env_key and hmac.compare_digest(presented.encode(), env_key.encode()):
        return EnvModelKey()
    parts = presented.split("_")
    if not presented.startswith(KEY_PREFIX) or len(parts) < 3:
        return None
    key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.key_hash, _digest(presented)):
        return None
    now = clock.now()
    # At most one write a minute: a busy key would otherwise serialize every request on its row.
    if key.last_used_at is None or now - key.last_used_at >= timedelta(minutes=1):
        key.last_used_at = now
        db.session.commit()
    return key
