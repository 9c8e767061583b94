"""Concurrent check-ins of one user over real HTTP: exactly one active pass, one session_id."""

import json
import threading
import urllib.request
from datetime import timedelta

from sqlalchemy import select

from extensions import db as _db
from models import CheckIn
from services import clock
from tests.checkin.conftest import T0

THREADS = 16


def _concurrent_checkins(url: str, headers: dict) -> list[tuple[int, dict]]:
    barrier = threading.Barrier(THREADS)
    results: list[tuple[int, dict]] = []

    def one():
        request = urllib.request.Request(f"{url}/api/checkin", method="POST", headers=headers)
        barrier.wait()
        with urllib.request.urlopen(request, timeout=60) as resp:
            results.append((resp.status, json.loads(resp.read())))

    threads = [threading.Thread(target=one) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _passes(user):
    _db.session.rollback()  # see the server threads' commits, not this session's snapshot
    return _db.session.execute(select(CheckIn.id, CheckIn.status).where(CheckIn.user_id == user.id)).all()


def test_concurrent_first_checkins_make_one_pass(live_server, alice, alice_headers):
    results = _concurrent_checkins(live_server.url, alice_headers)
    assert len(results) == THREADS and {status for status, _ in results} == {200}
    session_ids = {body["data"]["session_id"] for _, body in results}
    assert len(session_ids) == 1
    rows = _passes(alice)
    assert [(str(row.id), row.status) for row in rows] == [(session_ids.pop(), "active")]


def test_concurrent_checkins_over_an_expired_pass(live_server, alice, alice_headers):
    clock.freeze(T0)
    old = _concurrent_checkins(live_server.url, alice_headers)[0][1]["data"]["session_id"]
    clock.freeze(T0 + timedelta(minutes=61))  # the old row still says active but has expired
    results = _concurrent_checkins(live_server.url, alice_headers)
    assert {status for status, _ in results} == {200}
    session_ids = {body["data"]["session_id"] for _, body in results}
    assert len(session_ids) == 1 and old not in session_ids
    statuses = sorted((row.status, str(row.id)) for row in _passes(alice))
    assert statuses == [("active", session_ids.pop()), ("inactive", old)]
