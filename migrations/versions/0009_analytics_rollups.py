"""analytics rollups and monthly partitions (issue 21)

page_rollups (per app, UTC hour, page) and session_rollups (per app, 15-minute UTC bucket), filled from
the existing rows; a partial index on open sessions; on PostgreSQL page_visits becomes a table
partitioned by month of visited_at (primary key (id, visited_at), partitions in schema
page_visit_partitions, DEFAULT partition `overflow`), its rows copied over. See services/rollups.py and
services/partitions.py.

Revision ID: 0009_analytics_rollups
Revises: 0008_repositories
"""
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0009_analytics_rollups"
down_revision = "0008_repositories"
branch_labels = None
depends_on = None

SCHEMA = "page_visit_partitions"
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _month(at: datetime) -> datetime:
    return datetime(at.year, at.month, 1)


def _next(at: datetime) -> datetime:
    return datetime(at.year + at.month // 12, at.month % 12 + 1, 1)


def _partition_page_visits() -> None:
    bind = op.get_bind()
    for index in ("ix_page_visits_app_page", "ix_page_visits_app_user_visited", "ix_page_visits_app_visited"):
        op.execute(f"DROP INDEX {index}")
    op.execute("ALTER TABLE page_visits RENAME TO page_visits_unpartitioned")
    op.execute("ALTER TABLE page_visits_unpartitioned DROP CONSTRAINT page_visits_pkey")
    op.execute("ALTER SEQUENCE page_visits_id_seq OWNED BY NONE")
    op.execute("ALTER TABLE page_visits_unpartitioned ALTER COLUMN id DROP DEFAULT")
    op.execute("""
        CREATE TABLE page_visits (
            id BIGINT NOT NULL DEFAULT nextval('page_visits_id_seq'),
            app VARCHAR(80) NOT NULL,
            "user" VARCHAR(128) NOT NULL,
            page VARCHAR(512) NOT NULL,
            seconds DOUBLE PRECISION NOT NULL,
            visited_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
            session_id UUID,
            CONSTRAINT page_visits_pkey PRIMARY KEY (id, visited_at)
        ) PARTITION BY RANGE (visited_at)""")
    op.execute("ALTER SEQUENCE page_visits_id_seq OWNED BY page_visits.id")
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    op.execute(f"CREATE TABLE {SCHEMA}.overflow PARTITION OF page_visits DEFAULT")
    low = bind.execute(sa.text("SELECT min(visited_at) FROM page_visits_unpartitioned")).scalar()
    now = datetime.utcnow()
    month, stop = _month(min(low, now) if low else now), _month(now)
    for _ in range(2):
        stop = _next(stop)
    while month <= stop:
        op.execute(f"CREATE TABLE {SCHEMA}.m{month.year:04d}_{month.month:02d} PARTITION OF page_visits "
                   f"FOR VALUES FROM ('{month.isoformat(sep=' ')}') TO ('{_next(month).isoformat(sep=' ')}')")
        month = _next(month)
    op.execute("INSERT INTO page_visits SELECT * FROM page_visits_unpartitioned")
    op.execute("DROP TABLE page_visits_unpartitioned")
    op.create_index("ix_page_visits_app_user_visited", "page_visits", ["app", "user", "visited_at"],
                    postgresql_include=["page", "seconds"])
    op.create_index("ix_page_visits_app_visited", "page_visits", ["app", "visited_at"])


def _fill_rollups() -> None:
    if _postgresql():
        hour = "date_trunc('hour', visited_at)"
        quarter = ("date_trunc('hour', started_at) + "
                   "make_interval(0, 0, 0, 0, 0, (floor(extract(minute FROM started_at) / 15) * 15)::int)")
        false = "false"
    else:  # SQLAlchemy's SQLite DateTime text format, so comparisons with bound datetimes hold
        hour = "strftime('%Y-%m-%d %H:00:00.000000', visited_at)"
        quarter = ("strftime('%Y-%m-%d %H:', started_at) || "
                   "printf('%02d:00.000000', CAST(strftime('%M', started_at) AS INTEGER) / 15 * 15)")
        false = "0"
    op.execute(f"""INSERT INTO page_rollups (app, bucket, page, visits, seconds, pending)
                   SELECT app, {hour}, page, count(*), sum(seconds), {false} FROM page_visits
                   GROUP BY app, {hour}, page""")
    ended = "CASE WHEN status = 'ended' THEN active_seconds END"
    op.execute(f"""INSERT INTO session_rollups (app, bucket, started, ended, ended_seconds, ended_max, ended_min,
                                                pending)
                   SELECT app, {quarter}, count(*), sum(CASE WHEN status = 'ended' THEN 1 ELSE 0 END),
                          coalesce(sum({ended}), 0), max({ended}), min({ended}), {false}
                   FROM activity_sessions GROUP BY app, {quarter}""")


def upgrade():
    op.create_table(
        "page_rollups",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("app", sa.String(length=80), nullable=False),
        sa.Column("bucket", sa.DateTime(), nullable=False),
        sa.Column("page", sa.String(length=512), nullable=False),
        sa.Column("visits", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_page_rollups_app_bucket", "page_rollups", ["app", "bucket", "page"],
                    postgresql_include=["visits", "seconds"])
    op.create_index("ix_page_rollups_pending", "page_rollups", ["id"], postgresql_where=sa.text("pending"),
                    sqlite_where=sa.text("pending"))
    op.create_table(
        "session_rollups",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("app", sa.String(length=80), nullable=False),
        sa.Column("bucket", sa.DateTime(), nullable=False),
        sa.Column("started", sa.BigInteger(), nullable=False),
        sa.Column("ended", sa.BigInteger(), nullable=False),
        sa.Column("ended_seconds", sa.Float(), nullable=False),
        sa.Column("ended_max", sa.Float(), nullable=True),
        sa.Column("ended_min", sa.Float(), nullable=True),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_session_rollups_app_bucket", "session_rollups", ["app", "bucket"])
    op.create_index("ix_session_rollups_pending", "session_rollups", ["id"], postgresql_where=sa.text("pending"),
                    sqlite_where=sa.text("pending"))
    op.create_index("ix_activity_sessions_open", "activity_sessions", ["app", "started_at"],
                    postgresql_where=sa.text("status <> 'ended'"), sqlite_where=sa.text("status <> 'ended'"))
    if _postgresql():
        _partition_page_visits()
    else:
        op.drop_index("ix_page_visits_app_page", table_name="page_visits")
    _fill_rollups()


def downgrade():
    if _postgresql():
        op.execute("ALTER TABLE page_visits RENAME TO page_visits_partitioned")
        op.execute("ALTER SEQUENCE page_visits_id_seq OWNED BY NONE")
        for index in ("ix_page_visits_app_user_visited", "ix_page_visits_app_visited"):
            op.execute(f"DROP INDEX {index}")
        op.execute("ALTER TABLE page_visits_partitioned DROP CONSTRAINT page_visits_pkey")
        op.execute("""
            CREATE TABLE page_visits (
                id BIGINT NOT NULL DEFAULT nextval('page_visits_id_seq') PRIMARY KEY,
                app VARCHAR(80) NOT NULL,
                "user" VARCHAR(128) NOT NULL,
                page VARCHAR(512) NOT NULL,
                seconds DOUBLE PRECISION NOT NULL,
                visited_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
                session_id UUID
            )""")
        op.execute("ALTER SEQUENCE page_visits_id_seq OWNED BY page_visits.id")
        op.execute("INSERT INTO page_visits SELECT * FROM page_visits_partitioned")
        op.execute("DROP TABLE page_visits_partitioned CASCADE")
        op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        op.create_index("ix_page_visits_app_user_visited", "page_visits", ["app", "user", "visited_at"])
        op.create_index("ix_page_visits_app_visited", "page_visits", ["app", "visited_at"])
    op.create_index("ix_page_visits_app_page", "page_visits", ["app", "page"], postgresql_include=["seconds"])
    op.drop_index("ix_activity_sessions_open", table_name="activity_sessions")
    op.drop_index("ix_session_rollups_pending", table_name="session_rollups")
    op.drop_index("ix_session_rollups_app_bucket", table_name="session_rollups")
    op.drop_table("session_rollups")
    op.drop_index("ix_page_rollups_pending", table_name="page_rollups")
    op.drop_index("ix_page_rollups_app_bucket", table_name="page_rollups")
    op.drop_table("page_rollups")
