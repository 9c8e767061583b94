"""The generated OpenAPI document and its interactive page, served from the project's own assets (self-hosted
and air-gapped networks have no CDN): Swagger UI vendored in static/docs/vendor (VERSIONS there)."""

from flask import Blueprint, jsonify, render_template

from blueprints.common import declare_key_scopes
from extensions import api_spec

SWAGGER_UI = "5.35.0"
# Everything from this origin only; Swagger UI works without inline scripts or styles (a Chromium test checks).
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                           "base-uri 'none'")

bp = Blueprint("docs", __name__, template_folder="../templates", static_folder="../static/docs",
               static_url_path="/api/docs/static")


@bp.get("/api/openapi.json")
@declare_key_scopes()
def openapi():
    """OpenAPI 3 generated from the pydantic schemas the views declare."""
    return jsonify(api_spec.spec)


@bp.get("/api/docs")
@declare_key_scopes()
def docs():
    """Interactive documentation: Swagger UI on /api/openapi.json."""
    page = render_template("docs/swagger.html", version=SWAGGER_UI)
    return page, 200, {"Content-Security-Policy": CONTENT_SECURITY_POLICY}
