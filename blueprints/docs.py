"""The generated OpenAPI document and its interactive page."""

from flask import Blueprint, jsonify, redirect

from blueprints.common import declare_key_scopes
from extensions import api_spec

bp = Blueprint("docs", __name__)


@bp.get("/api/openapi.json")
@declare_key_scopes()
def openapi():
    """OpenAPI 3 generated from the pydantic schemas the views declare."""
    return jsonify(api_spec.spec)


@bp.get("/api/docs")
@declare_key_scopes()
def docs():
    """Interactive documentation (Swagger UI served by spectree)."""
    return redirect("/api/docs/swagger/")
