"""Extensions, created unbound here and bound in app.create_app (so app.py and models.py never import each other)."""

from flask import current_app, request
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_qualified_name, get_remote_address  # the limiter's own key for a view
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from spectree import SecurityScheme, SpecTree
from spectree.models import InType, SecureType, SecuritySchemeData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = JWTManager()
mail = Mail()
# Limits are declared per view with rate_limit(); storage comes from RATELIMIT_STORAGE_URI at init time.
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
# Every view that declares a limit (by the limiter's own name for it): the only requests the limiter checks.
RATE_LIMITED_VIEWS: set[str] = set()


def rate_limit(limit_value, **options):
    """`limiter.limit`, and the view joins RATE_LIMITED_VIEWS (use this, never limiter.limit: a test checks)."""

    def decorate(view):
        RATE_LIMITED_VIEWS.add(get_qualified_name(view))
        return limiter.limit(limit_value, **options)(view)

    return decorate


@limiter.request_filter
def _declares_no_limit() -> bool:
    """There are no default or application limits, so a view without its own has nothing to check; skipping
    it here saves Flask-Limiter resolving empty limit lists on every other request (~5% of a request's CPU)."""
    view = current_app.view_functions.get(request.endpoint or "")
    return view is None or get_qualified_name(view) not in RATE_LIMITED_VIEWS


# OpenAPI is generated from the pydantic models the views declare (blueprints.common.expects).
api_spec = SpecTree(
    "flask",
    title="Concierge API",
    version="1.0.0",
    path="api/docs",
    mode="strict",
    annotations=False,  # only documentation is taken from spectree; the models are named in expects()
    security_schemes=[
        SecurityScheme(name="bearerAuth",
                       data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer", bearer_format="JWT")),
        SecurityScheme(name="basicAuth", data=SecuritySchemeData(type=SecureType.HTTP, scheme="basic")),
        SecurityScheme(name="apiKey",
                       data=SecuritySchemeData(type=SecureType.API_KEY, field_in=InType.HEADER, name="X-API-Key")),
    ],
)
