"""analytics rollups and monthly partitions (issue 21)

Revision ID: 0009_analytics_rollups
Revises: 0008_repositories
"""
from alembic import op  # noqa: F401


revision = "0009_analytics_rollups"
down_revision = "0008_repositories"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
