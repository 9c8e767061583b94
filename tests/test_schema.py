"""The migrations build exactly the schema models.py declares (on each lane's database)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from extensions import db
from tests.conftest import SKIP_TABLES


def _ours(name, type_, parent_names) -> bool:
    # tables owned by others (alembic's own, APScheduler's job store) and their indexes are not in models.py
    table = name if type_ == "table" else parent_names.get("table_name")
    return table not in SKIP_TABLES


def test_migrations_match_the_models(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": _ours})
        assert compare_metadata(context, db.metadata) == []
