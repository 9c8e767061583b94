"""checkins: extending a pass becomes a HOT update (no index on expires_at, room on each page)

Revision ID: 0007_checkins_hot_extend
Revises: 0006_activity
Create Date: 2026-11-24 05:20:00

A check-in extends the live pass on every page load, changing only expires_at. With expires_at in an
index (idx_checkins_active) every extend wrote a new entry into all five of the table's indexes; with
no indexed column changed and free room on the row's page (fillfactor 80), PostgreSQL updates the row
in place (a heap-only tuple) and touches no index. What that index served needs no help: the feed
reads active passes through idx_checkins_feed_order and the 5-minute expiry job through the active
passes' partial indexes, both filtering on expires_at.
"""
from alembic import op


revision = "0007_checkins_hot_extend"
down_revision = "0006_activity"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_index("idx_checkins_active")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE checkins SET (fillfactor = 80)")  # new pages keep 20% for in-place updates


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE checkins RESET (fillfactor)")
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.create_index("idx_checkins_active", ["status", "expires_at"], unique=False)
