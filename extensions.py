"""Extensions, created unbound here and bound in app.create_app (so app.py and models.py never import each other)."""

import functools

from flask import g
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
# Every view that declares a limit (by the limiter's own name for it); a test holds it equal to the limiter's.
RATE_LIMITED_VIEWS: set[str] = set()


def rate_limit(limit_value, **options):
    """`limiter.limit`, checked only inside the view (use this, never limiter.limit: a test checks)."""

    def decorate(view):
        RATE_LIMITED_VIEWS.add(get_qualified_name(view))
        limited = limiter.limit(limit_value, **options)(view)

        @functools.wraps(view)
        def checked_here(*args, **kwargs):
            g.rate_limit_check = True  # lets _outside_a_limited_view() pass this one check
            try:
                return limited(*args, **kwargs)
            finally:
                g.rate_limit_check = False

        return checked_here

    return decorate


@limiter.request_filter
def _outside_a_limited_view() -> bool:
    """Flask-Limiter checks every request twice: before it (default and application limits) and inside a
    decorated view (its own limits). Concierge has only the latter, so the limiter is let through only
    there: the other passes resolved empty limit lists on every request (about 30 us of CPU each)."""
    return not g.get("rate_limit_check", False)


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
