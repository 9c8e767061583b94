"""services.group_commit for page tracking: concurrent track requests share one INSERT on PostgreSQL.

Grouping is observed in the database itself: rows written by one INSERT carry one transaction id (xmin).
A lock on page_visits, taken from another connection, holds the first insert so that the next requests
queue behind it deterministically.
"""

import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest
from sqlalchemy import text

from extensions import db
from services import pages
from tests.activity.conftest import APP
from tests.conftest import LANE

pytestmark = pytest.mark.skipif(LANE != "postgres", reason="group commit is the PostgreSQL track path")


def wait_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


class HeldTable:
    """page_visits locked against inserts by another connection until release()."""

    def __init__(self, app):
        with app.app_context():
            self.conn = db.engine.raw_connection()
        self.conn.cursor().execute("LOCK TABLE page_visits IN SHARE MODE")

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


def transactions_of(app) -> dict[str, int]:
    """Page -> the transaction (xmin) that inserted its visit."""
    with app.app_context():
        rows = db.session.execute(text("SELECT page, xmin::text FROM page_visits")).all()
        db.session.rollback()
    return {page: int(xmin) for page, xmin in rows}


def visit(page: str) -> dict:
    return {"user": "u1", "app": APP, "page": page, "timespent": 5}


def test_requests_that_arrive_during_an_insert_are_stored_by_one_insert(app):
    held = HeldTable(app)
    post = lambda page: app.test_client().post("/api/pages/track", json=visit(page))  # noqa: E731
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(post, "/first")
        wait_until(lambda: "concierge.group.track" in app.extensions
                   and app.extensions["concierge.group.track"].running)
        group = app.extensions["concierge.group.track"]
        queued = [pool.submit(post, f"/queued-{n}") for n in range(3)]
        wait_until(lambda: len(group.waiting) == 3)
        held.release()
        responses = [first.result(timeout=10)] + [f.result(timeout=10) for f in queued]
    assert [r.status_code for r in responses] == [200] * 4
    # each request is answered with its own visit
    assert [r.get_json()["data"]["page"] for r in responses] == ["/first", "/queued-0", "/queued-1", "/queued-2"]
    xmin = transactions_of(app)
    assert set(xmin) == {"/first", "/queued-0", "/queued-1", "/queued-2"}
    assert xmin["/queued-0"] == xmin["/queued-1"] == xmin["/queued-2"] != xmin["/first"]


def test_a_failing_group_stores_each_request_on_its_own(app):
    """One request's rows the database refuses (a page longer than the column; the API's validation stops
    these earlier) fail that request only; the others of its group are stored."""
    group = pages._track_group()
    now = time.strftime("%Y-%m-%d %H:%M:%S")

    def insert(page: str) -> BaseException | None:
        row = {"app": APP, "user": "u1", "page": page, "seconds": 5.0, "visited_at": now, "session_id": None}
        with app.app_context():
            try:
                group.run([row])
            except Exception as failure:  # noqa: BLE001 - the outcome is what the test looks at
                return failure
        return None

    held = HeldTable(app)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(insert, "/first")
        wait_until(lambda: group.running)
        queued = [pool.submit(insert, page) for page in ("/good-1", "/" + "x" * 600, "/good-2")]
        wait_until(lambda: len(group.waiting) == 3)
        held.release()
        outcomes = [first.result(timeout=10)] + [f.result(timeout=10) for f in queued]
    assert outcomes[0] is None and outcomes[1] is None and outcomes[3] is None
    assert isinstance(outcomes[2], psycopg2.errors.StringDataRightTruncation)
    xmin = transactions_of(app)
    assert set(xmin) == {"/first", "/good-1", "/good-2"}
    assert xmin["/good-1"] != xmin["/good-2"]  # stored one by one after the group's INSERT failed
    assert not group.running and not group.waiting


def test_many_concurrent_requests_are_all_stored_once(make_app):
    app = make_app({"ratelimit.public": "100000 per minute"})

    def post_some(n: int) -> list[int]:
        client = app.test_client()
        return [client.post("/api/pages/track", json=visit(f"/c{n}-{i}")).status_code for i in range(20)]

    with ThreadPoolExecutor(8) as pool:
        codes = [code for run in pool.map(post_some, range(8)) for code in run]
    assert codes == [200] * 160
    with app.app_context():
        stored = db.session.execute(text("SELECT count(*), count(DISTINCT page) FROM page_visits")).one()
    assert tuple(stored) == (160, 160)  # every visit once: none lost, none stored twice
