"""repositories, LFS objects, locks per repository (issue 19)

Revision ID: 0008_repositories
Revises: 0007_checkins_hot_extend
"""
from alembic import op  # noqa: F401


revision = "0008_repositories"
down_revision = "0007_checkins_hot_extend"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
