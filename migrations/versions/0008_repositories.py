"""repositories, LFS objects, locks per repository (issue 19)

Existing locks and audit rows move into a repository named `default` (what `/api/lfs` and the REST lock
endpoints serve). Batch mode rebuilds `locks` on SQLite, which cannot alter a column or add a foreign key.

Revision ID: 0008_repositories
Revises: 0007_checkins_hot_extend
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0008_repositories"
down_revision = "0007_checkins_hot_extend"
branch_labels = None
depends_on = None

DEFAULT = "default"


def upgrade():
    repositories = op.create_table(
        "repositories",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("quota_bytes", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "repository_members",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("access", sa.String(length=8), nullable=False),
        sa.CheckConstraint("access IN ('read', 'write')", name="ck_repository_members_access"),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repository_id", "user_id"),
    )
    op.create_index("ix_repository_members_user_id", "repository_members", ["user_id"])
    op.create_table(
        "lfs_objects",
        sa.Column("oid", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("oid"),
    )
    op.create_table(
        "repository_objects",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("oid", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["oid"], ["lfs_objects.oid"]),
        sa.PrimaryKeyConstraint("repository_id", "oid"),
    )
    op.create_index("ix_repository_objects_oid", "repository_objects", ["oid"])

    now = datetime.now(UTC).replace(tzinfo=None)
    op.bulk_insert(repositories, [{"name": DEFAULT, "restricted": False, "quota_bytes": None, "created_at": now}])

    with op.batch_alter_table("locks") as batch:
        batch.add_column(sa.Column("repository_id", sa.Integer(), nullable=True))
    op.execute(sa.text("UPDATE locks SET repository_id = (SELECT id FROM repositories WHERE name = :name)")
               .bindparams(name=DEFAULT))
    with op.batch_alter_table("locks") as batch:
        batch.alter_column("repository_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key("fk_locks_repository_id", "repositories", ["repository_id"], ["id"],
                                 ondelete="CASCADE")
        batch.drop_index("uq_locks_path_key")
        batch.create_index("uq_locks_repository_path_key", ["repository_id", "path_key"], unique=True,
                           postgresql_ops={"path_key": "varchar_pattern_ops"})

    with op.batch_alter_table("lock_releases") as batch:
        batch.add_column(sa.Column("repository", sa.String(length=64), nullable=True))
    op.execute(sa.text("UPDATE lock_releases SET repository = :name").bindparams(name=DEFAULT))


def downgrade():
    # One namespace again: only the default repository's locks fit the old unique path key.
    op.execute(sa.text("DELETE FROM locks WHERE repository_id <> (SELECT id FROM repositories WHERE name = :name)")
               .bindparams(name=DEFAULT))
    with op.batch_alter_table("lock_releases") as batch:
        batch.drop_column("repository")
    with op.batch_alter_table("locks") as batch:
        batch.drop_index("uq_locks_repository_path_key")
        batch.create_index("uq_locks_path_key", ["path_key"], unique=True,
                           postgresql_ops={"path_key": "varchar_pattern_ops"})
        batch.drop_constraint("fk_locks_repository_id", type_="foreignkey")
        batch.drop_column("repository_id")
    op.drop_index("ix_repository_objects_oid", table_name="repository_objects")
    op.drop_table("repository_objects")
    op.drop_table("lfs_objects")
    op.drop_index("ix_repository_members_user_id", table_name="repository_members")
    op.drop_table("repository_members")
    op.drop_table("repositories")
