"""Health: the Session Server API's public POST checks, plus liveness and readiness probes."""

from flask import Blueprint, jsonify

from blueprints.common import PUBLIC, declare_key_scopes, expects, public
from envelope import iso_z
from schemas import AppIn, Envelope
from services import clock, readiness

bp = Blueprint("health", __name__)


def _healthy(message: str):
    return jsonify({"status": "success", "message": message, "timestamp": iso_z(clock.now())})


@bp.post("/")
@public
@expects(json=AppIn, resp={200: Envelope}, tags=("health",), security=PUBLIC)
def root_health(body: AppIn):
    """The Session Server API: basic health check for the entire service."""
    return _healthy("Session Server is running")


@bp.post("/api/health")
@public
@expects(json=AppIn, resp={200: Envelope}, tags=("health",), security=PUBLIC)
def api_health(body: AppIn):
    """The Session Server API: health check of the API service."""
    return _healthy("API is healthy")


@bp.get("/healthz")
@declare_key_scopes()
def healthz():
    """Liveness: the process answers. Touches nothing else (also the benchmarks' trivial endpoint)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
@declare_key_scopes()
def readyz():
    """Readiness: the database answers, and Redis when rate limits live there."""
    checks = readiness.check_all()
    ready = all(value == "ok" for value in checks.values())
    return jsonify({"status": "ready" if ready else "unavailable", "checks": checks}), 200 if ready else 503
