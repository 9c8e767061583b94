"""The outbound Alohomora client (App1's relay) and the Backend Server guide's API interaction log.

Every call is logged with method, URL, status, latency and error, never the body: it carries the token.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from flask import current_app
from sqlalchemy import delete, select

import settings
from errors import ApiError
from extensions import db
from models import ApiInteraction
from services import clock

log = logging.getLogger("concierge.alohomora")

SERVICE = "alohomora"
SECRET_FILE = "alohomora_notification_secret"


@dataclass(frozen=True)
class RecordedToken:
    token_id: str


def record_token(payload: dict[str, Any]) -> RecordedToken:
    """POST {base_url}/record_token; 502 for an Alohomora error or a malformed answer, 503 if unreachable."""
    url = settings.get("alohomora.base_url").rstrip("/") + "/record_token"
    started = time.perf_counter()
    try:
        response = requests.post(url, json=payload, timeout=settings.get("alohomora.timeout"))
    except requests.RequestException as exc:
        details = _scrub(f"{type(exc).__name__}: {exc}", payload.get("token"))
        log_interaction("POST", url, None, started, details)
        raise ApiError(503, "Failed to connect to alohomora server", details) from None
    body = _json_or_none(response)
    if response.status_code >= 400:
        error = body.get("error") if isinstance(body, dict) and "error" in body else response.text[:500]
        log_interaction("POST", url, response.status_code, started, _scrub(str(error), payload.get("token")))
        raise _peer_error(error, response.status_code)
    token_id = body.get("token_id") if isinstance(body, dict) else None
    if not isinstance(token_id, str) or not token_id:
        log_interaction("POST", url, response.status_code, started, "malformed reply: no token_id")
        raise _peer_error("Malformed reply from alohomora: no token_id", response.status_code)
    log_interaction("POST", url, response.status_code, started, None)
    return RecordedToken(token_id=token_id)


def _peer_error(error: Any, status: int) -> ApiError:
    return ApiError(502, "Failed to register token with alohomora",
                    extra={"alohomora_error": error, "alohomora_status": status})


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _scrub(text: str, token: str | None) -> str:
    # A peer or an exception may echo the request; the token must never reach the log.
    if token:
        text = text.replace(token, "***")
    return text[:500]


def log_interaction(method: str, url: str, status: int | None, started: float, error: str | None) -> ApiInteraction:
    """Write one interaction row in its own commit (the caller's transaction is not touched)."""
    row = ApiInteraction(service=SERVICE, method=method, url=url[:2048], status=status,
                         latency_ms=round((time.perf_counter() - started) * 1000, 2),
                         error=error[:500] if error else None, created_at=clock.now())
    db.session.add(row)
    db.session.commit()
    return row


def list_interactions(limit: int = 100, offset: int = 0) -> list[ApiInteraction]:
    query = select(ApiInteraction).order_by(ApiInteraction.id.desc()).limit(limit).offset(offset)
    return list(db.session.scalars(query))


def purge_old_interactions(days: int = 30) -> int:
    """Scheduled: keep `days` of the interaction log."""
    deleted = db.session.execute(delete(ApiInteraction).where(
        ApiInteraction.created_at < clock.now() - timedelta(days=days))).rowcount or 0
    db.session.commit()
    return deleted


def notification_secret() -> str:
    """The callback path secret: configured, or generated once into instance/ and kept there."""
    configured = settings.static("alohomora.notification_secret")
    if configured:
        return configured
    secret, created = settings.generated_secret(current_app.instance_path, SECRET_FILE)
    if created:
        log.warning("ALOHOMORA_NOTIFICATION_SECRET not set: generated one in %s/%s",
                    current_app.instance_path, SECRET_FILE)
    return secret
