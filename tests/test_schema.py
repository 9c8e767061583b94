"""The migrations build exactly the schema models.py declares (on each lane's database)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from extensions import db
from tests.conftest import SKIP_TABLES


def test_migrations_match_the_models(app):
    with db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), db.metadata)
    # tables owned by others (alembic's own, APScheduler's job store) are not in models.py
    differences = [d for d in differences if not (d[0] == "remove_table" and d[1].name in SKIP_TABLES)]
    assert differences == []
