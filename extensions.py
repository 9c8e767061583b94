"""Extensions, created unbound here and bound in app.create_app (so app.py and models.py never import each other)."""

from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
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
# Limits are declared per view; storage comes from RATELIMIT_STORAGE_URI at init time.
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
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
