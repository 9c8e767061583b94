"""PostgreSQL: page_visits partitioned by month; retention drops whole months, late months are moved in."""

from datetime import datetime

import pytest
from sqlalchemy import func, select, text

from extensions import db
from models import PageVisit
from services import activity, clock, pages, partitions
from tests.conftest import LANE

pytestmark = pytest.mark.skipif(LANE != "postgres", reason="partitions exist on PostgreSQL only")


def _where_rows_live() -> dict[str, int]:
    rows = db.session.execute(text("SELECT tableoid::regclass::text, count(*) FROM page_visits GROUP BY 1"))
    return dict(rows.all())


def test_a_month_created_late_takes_its_visits_from_overflow_and_retention_drops_it(make_app):
    app = make_app({"analytics.retention_days": 30})
    clock.freeze(datetime(2021, 6, 15, 12, 0))
    with app.app_context():
        pages.track([pages.Visit("shop", "u", "/a", 5, datetime(2021, 2, day, 9)) for day in (1, 2, 3)])
        pages.track([pages.Visit("shop", "u", "/b", 7, datetime(2021, 6, 1, 9))])
        assert _where_rows_live() == {f"{partitions.SCHEMA}.overflow": 4}
        created = partitions.ensure(datetime(2021, 2, 1), datetime(2021, 6, 1))
        assert f"{partitions.SCHEMA}.m2021_02" in created and f"{partitions.SCHEMA}.m2021_06" in created
        assert _where_rows_live() == {f"{partitions.SCHEMA}.m2021_02": 3, f"{partitions.SCHEMA}.m2021_06": 1}
        assert activity.purge_expired() == {"sessions": 0, "page_visits": 3}
        assert datetime(2021, 2, 1) not in partitions.existing()  # dropped, not emptied row by row
        assert datetime(2021, 6, 1) in partitions.existing()
        assert db.session.execute(select(func.count()).select_from(PageVisit)).scalar() == 1
        for month, name in partitions.existing().items():  # leave the shared schema as migrated
            if month.year == 2021:
                db.session.execute(text(f"DROP TABLE {name}"))
        db.session.commit()
        db.session.remove()


def test_the_job_creates_this_month_and_the_next_ones(app):
    clock.freeze(datetime(2030, 11, 3))
    with app.app_context():
        partitions.maintain()
        months = partitions.existing()
        assert {datetime(2030, 11, 1), datetime(2030, 12, 1), datetime(2031, 1, 1)} <= set(months)
        assert partitions.maintain() == []  # idempotent
        for month, name in months.items():
            if month.year >= 2030:
                db.session.execute(text(f"DROP TABLE {name}"))
        db.session.commit()
        db.session.remove()
