"""Faults, on PostgreSQL through gunicorn (deploy/gunicorn.conf.py), under load from a few client threads:

- `kill -9` of a worker loses no acknowledged lock, release, check-in or page visit, and half-writes nothing;
- a PostgreSQL restart: every request answers at once, a 2xx or a JSON 503 in its endpoint's error shape
  (never a 500, an HTML page, or no answer), and requests succeed again within 5 s, no worker lost;
- Redis down while rate limits live there: limits fail open (docs/operations.md), never a 500; back when
  Redis is; a Redis that stops answering costs bounded waits, never a hang.

PostgreSQL, Redis and gunicorn are this module's own throwaway processes (tests/deploy/throwaway.py): the
tests stop and kill them. Postgres lane only (the production topology); on the sqlite lane they skip.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.conftest import LANE
from tests.deploy.throwaway import Gunicorn, Postgres, Redis

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(LANE != "postgres", reason="fault tests run on the postgres lane (PostgreSQL + Redis)"),
]

ADMIN, ADMIN_PASSWORD = "faultadmin", "fault-admin-password"
PASSWORD = "fault-user-password"
USERS = [f"faulty{n}" for n in range(4)]
TRACK_APP = "faults"
# A request unanswered this long counts as hung (a client-side guard, so a hang fails instead of blocking).
HANG_SECONDS = 10
# Wrong-password logins allowed per minute in these tests (LOGIN_RATE_LIMIT).
LOGIN_BUDGET = 5


@pytest.fixture(scope="module")
def postgres():
    server = Postgres().create()
    yield server
    server.destroy()


@pytest.fixture(scope="module")
def redis_server():
    server = Redis().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gunicorn(postgres, redis_server, tmp_path_factory):
    with Gunicorn(tmp_path_factory.mktemp("faults"), {
        "CONCIERGE_ENV": "production", "DATABASE_URI": postgres.url, "RATELIMIT_STORAGE_URI": redis_server.url,
        "JWT_SECRET_KEY": "f" * 48, "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4", "SCHEDULER_ENABLED": "false",
        "ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "8", "MAIL_ENABLED": "false", "ACCESS_LOG": "false",
        "LOGIN_RATE_LIMIT": f"{LOGIN_BUDGET} per minute", "PUBLIC_RATE_LIMIT": "100000 per minute",
        "INITIAL_ADMIN_USER": ADMIN, "INITIAL_ADMIN_EMAIL": "faultadmin@example.com",
        "INITIAL_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }) as server:
        yield server


@pytest.fixture(autouse=True)
def _server_log_when_failing(gunicorn):
    yield
    print(gunicorn.log())  # pytest shows a test's captured output only when it fails


def _login(url: str, username: str, password: str) -> requests.Response:
    return requests.post(url + "/api/login", json={"username": username, "password": password}, timeout=HANG_SECONDS)


@pytest.fixture(scope="module")
def tokens(gunicorn) -> dict[str, str]:
    """An access token per load user, the accounts made through the admin API."""
    admin = _login(gunicorn.url, ADMIN, ADMIN_PASSWORD)
    assert admin.status_code == 200, admin.text
    headers = {"Authorization": f"Bearer {admin.json()['access_token']}"}
    issued = {}
    for name in USERS:
        made = requests.post(gunicorn.url + "/api/admin/users", headers=headers, timeout=HANG_SECONDS,
                             json={"username": name, "email": f"{name}@example.com", "password": PASSWORD})
        assert made.status_code == 201, made.text
        login = _login(gunicorn.url, name, PASSWORD)
        assert login.status_code == 200, login.text
        issued[name] = login.json()["access_token"]
    return issued


@pytest.fixture(scope="module")
def database(gunicorn, postgres):
    """Read-only checks of what the server stored, on the throwaway database."""
    # NullPool: a fresh connection per check, none left dead by the restart test
    engine = create_engine(postgres.url.replace("postgresql://", "postgresql+psycopg2://"), poolclass=NullPool)
    yield engine
    engine.dispose()


# ------------------------------------------------------------------ load


@dataclass
class Outcome:
    user: str
    kind: str  # lock | release | checkin | track | ...
    key: str  # the lock path, the page, or the user
    started: float  # time.monotonic()
    status: int | None = None  # None: no answer (connection cut, or hung past HANG_SECONDS)
    body: dict | None = None  # the JSON answer (None if it was not JSON)
    content_type: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Load:
    """One thread per user, each repeating: lock a new path, release the previous one (every other round),
    check in, track a new page. Every outcome is kept, in order."""

    def __init__(self, url: str, tokens: dict[str, str], tag: str) -> None:
        self.url, self.tokens, self.tag = url, tokens, tag
        self.outcomes: list[Outcome] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._drive, args=(user,), daemon=True) for user in tokens]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(HANG_SECONDS + 5)
        assert not any(t.is_alive() for t in self.threads), "a load thread never returned"

    def path(self, user: str, n: int) -> str:
        return f"faults/{self.tag}/{user}/{n}.uasset"

    def _drive(self, user: str) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.tokens[user]}"
        n = 0
        while not self.stopping.is_set():
            n += 1
            path = self.path(user, n)
            self.call(session, user, "lock", path, "POST", "/api/locks", json={"asset_path": path, "branch": "main"})
            if n % 2 == 0:
                previous = self.path(user, n - 1)
                self.call(session, user, "release", previous, "DELETE", "/api/locks/" + quote(previous))
            self.call(session, user, "checkin", user, "POST", "/api/checkin")
            page = f"/{self.tag}/{user}/{n}"
            self.call(session, user, "track", page, "POST", "/api/pages/track",
                      json={"app": TRACK_APP, "user": user, "page": page, "timespent": 2})

    def call(self, session: requests.Session, user: str, kind: str, key: str, method: str, path: str,
             **kwargs) -> Outcome:
        outcome = Outcome(user, kind, key, time.monotonic())
        try:
            response = session.request(method, self.url + path, timeout=HANG_SECONDS, **kwargs)
        except requests.RequestException as exc:
            outcome.error = f"{type(exc).__name__}: {exc}"
        else:
            outcome.status = response.status_code
            outcome.content_type = response.headers.get("Content-Type", "")
            try:
                outcome.body = response.json()
            except ValueError:
                outcome.body = None
        self.outcomes.append(outcome)
        return outcome

    def wait_for(self, count: int, seconds: float = 30) -> None:
        """Until `count` more requests have been answered (bounded)."""
        target, deadline = len(self.outcomes) + count, time.monotonic() + seconds
        while len(self.outcomes) < target:
            assert time.monotonic() < deadline, f"load stalled: {self.outcomes[-5:]}"
            time.sleep(0.05)


def _assert_acknowledged_writes_stored(load: Load, database) -> None:
    """Every write answered 2xx is in the database, and no write is half done."""
    outcomes = load.outcomes
    acked = {kind: [o for o in outcomes if o.kind == kind and o.ok] for kind in ("lock", "release", "checkin", "track")}
    assert all(acked.values()), f"no acknowledged write of some kind: { {k: len(v) for k, v in acked.items()} }"
    prefix = f"faults/{load.tag}/%"
    with database.connect() as conn:
        held = set(conn.execute(text("SELECT asset_path FROM locks WHERE asset_path LIKE :p"), {"p": prefix}).scalars())
        audited = Counter(conn.execute(text("SELECT asset_path FROM lock_releases WHERE asset_path LIKE :p"),
                                       {"p": prefix}).scalars())
        passes = {str(row.id): row for row in conn.execute(text(
            "SELECT c.id, c.expires_at, u.username FROM checkins c JOIN users u ON u.id = c.user_id"))}
        pages = Counter(conn.execute(text("SELECT page FROM page_visits WHERE app = :a AND page LIKE :p"),
                                     {"a": TRACK_APP, "p": f"/{load.tag}/%"}).scalars())

    tried_release = {o.key for o in outcomes if o.kind == "release"}
    locked = {o.key for o in acked["lock"]}
    released = {o.key for o in acked["release"]}
    assert locked - tried_release <= held, f"acknowledged locks lost: {sorted(locked - tried_release - held)}"
    assert not released & held, f"acknowledged releases undone: {sorted(released & held)}"
    assert released <= set(audited), f"acknowledged releases without their audit row: {sorted(released - set(audited))}"
    # a lock and its release audit change together (one transaction), never one without the other
    assert not held & set(audited), f"locks audited as released yet still held: {sorted(held & set(audited))}"
    assert locked - held <= set(audited), f"locks gone without an audit row: {sorted(locked - held - set(audited))}"
    assert max(audited.values()) == 1, f"a release audited twice: {audited.most_common(3)}"

    for outcome in acked["checkin"]:
        data = outcome.body["data"]
        stored = passes.get(data["session_id"])
        assert stored is not None and stored.username == outcome.user, f"acknowledged check-in lost: {data}"
        promised = datetime.fromisoformat(data["expires_at"].replace("Z", "+00:00")).replace(tzinfo=None)
        assert stored.expires_at >= promised, f"acknowledged extension lost: stored {stored.expires_at}, {data}"

    tracked = {o.key for o in acked["track"]}
    assert tracked <= set(pages), f"acknowledged page visits lost: {sorted(tracked - set(pages))[:10]}"
    assert max(pages.values()) == 1, f"a page visit stored twice: {pages.most_common(3)}"


def _assert_json_error(outcome: Outcome, status: int) -> None:
    """A JSON answer with `status`, in the endpoint's contract family (check-in: the Session System's)."""
    assert outcome.status == status and outcome.content_type.startswith("application/json"), outcome
    body = outcome.body or {}
    if outcome.kind == "checkin":
        assert body.get("success") is False and body.get("error"), outcome
    else:
        assert body.get("status") == "error" and body.get("message"), outcome


# ------------------------------------------------------------------ kill -9


def test_kill_9_of_a_worker_under_load_loses_no_acknowledged_write(gunicorn, tokens, database):
    cut = []
    with Load(gunicorn.url, tokens, "kill") as load:
        load.wait_for(40)
        for attempt in range(3):  # until a kill has cut requests in flight (almost always the first)
            before = gunicorn.worker_pids()
            os.kill(sorted(before)[attempt % len(before)], signal.SIGKILL)
            deadline = time.monotonic() + 30
            while len(gunicorn.worker_pids() - before) < 1:  # gunicorn's master boots a replacement
                assert time.monotonic() < deadline, gunicorn.log()
                time.sleep(0.1)
            load.wait_for(40)
            cut = [o for o in load.outcomes if o.status is None]
            if cut:
                break
    assert cut, "no request was cut off by the kills: the test proved nothing"
    server_errors = [o for o in load.outcomes if o.status is not None and o.status >= 500]
    assert not server_errors, server_errors[:5]
    _assert_acknowledged_writes_stored(load, database)


# ------------------------------------------------------------------ PostgreSQL restart


def test_postgres_restart_under_load_fails_fast_with_json_503_then_recovers(gunicorn, tokens, database, postgres):
    workers = gunicorn.worker_pids()
    with Load(gunicorn.url, tokens, "restart") as load:
        load.wait_for(40)
        postgres.stop("fast")
        time.sleep(1.5)  # an outage long enough for many requests to meet it
        postgres.start()
        back = time.monotonic()
        while time.monotonic() < back + 6.5:  # 5 s to recover, then a while of load that must all succeed
            time.sleep(0.1)

    unanswered = [o for o in load.outcomes if o.status is None]
    assert not unanswered, f"requests hung or cut off: {unanswered[:5]}"
    failed = [o for o in load.outcomes if not o.ok and not (o.kind == "release" and o.status == 404)]
    assert failed, "no request met the outage: the test proved nothing"
    for outcome in failed:  # never a 500 or an HTML page: the endpoint's JSON 503
        _assert_json_error(outcome, 503)
    late = [o for o in load.outcomes if o.started >= back + 5]
    assert {o.user for o in late} == set(tokens), "some load thread made no request after recovery"
    assert all(o.ok or (o.kind == "release" and o.status == 404) for o in late), \
        [o for o in late if not o.ok][:5]
    assert gunicorn.worker_pids() == workers, "a worker died or was replaced during the outage"
    _assert_acknowledged_writes_stored(load, database)
    # no hung worker: a burst of concurrent requests, more than all threads of all workers, all answered
    burst = Load(gunicorn.url, tokens, "burst")
    sessions = {user: requests.Session() for user in tokens}
    for user, session in sessions.items():
        session.headers["Authorization"] = f"Bearer {tokens[user]}"
    threads = [threading.Thread(target=burst.call, args=(sessions[user], user, "checkin", user, "POST", "/api/checkin"))
               for _ in range(6) for user in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_SECONDS + 5)
    assert len(burst.outcomes) == len(threads) and all(o.ok for o in burst.outcomes), burst.outcomes


# ------------------------------------------------------------------ Redis down


def _wrong_logins(url: str, username: str, count: int) -> list[requests.Response]:
    return [_login(url, username, "not-the-password") for _ in range(count)]


def test_redis_down_rate_limits_fail_open_and_return_with_redis(gunicorn, tokens, redis_server):
    # Redis up: the login budget of failures is enforced (the limits live in Redis)
    answers = _wrong_logins(gunicorn.url, "probe-up", LOGIN_BUDGET + 1)
    assert [r.status_code for r in answers[:LOGIN_BUDGET]] == [401] * LOGIN_BUDGET
    assert answers[-1].status_code == 429 and answers[-1].json()["status"] == "error"

    logged = len(gunicorn.log(tail=None))
    redis_server.stop()
    try:
        # Redis down: served without limits (fail open), every answer JSON, never a 500
        answers = _wrong_logins(gunicorn.url, "probe-down", LOGIN_BUDGET * 2)
        assert [r.status_code for r in answers] == [401] * (LOGIN_BUDGET * 2), [r.text for r in answers]
        assert all(r.headers["Content-Type"].startswith("application/json") for r in answers)
        assert _login(gunicorn.url, USERS[0], PASSWORD).status_code == 200
        tracked = [requests.post(gunicorn.url + "/api/pages/track", timeout=HANG_SECONDS,
                                 json={"app": TRACK_APP, "user": "redis", "page": f"/redis-down/{n}", "timespent": 1})
                   for n in range(10)]
        assert [r.status_code for r in tracked] == [200] * 10, [r.text for r in tracked]
        checkin = requests.post(gunicorn.url + "/api/checkin", timeout=HANG_SECONDS,
                                headers={"Authorization": f"Bearer {tokens[USERS[1]]}"})
        assert checkin.status_code == 200, checkin.text
        # ...and said in the log, by the password checks and by Flask-Limiter's own limits (page track)
        assert '"logger": "flask-limiter"' in gunicorn.log(tail=None)[logged:]
    finally:
        redis_server.start()  # same port, no counters (no persistence)

    # Redis back: limits apply again
    answers = _wrong_logins(gunicorn.url, "probe-back", LOGIN_BUDGET + 1)
    assert [r.status_code for r in answers] == [401] * LOGIN_BUDGET + [429], [r.text for r in answers]


def test_redis_that_stops_answering_costs_bounded_waits_never_a_hang_or_500(gunicorn, tokens, redis_server):
    """A frozen Redis (network cut, stalled host) accepts connections and never replies: every call to it
    waits for the storage's socket timeout, then the request goes on without limits."""
    redis_server.freeze()
    try:
        tracked = requests.post(gunicorn.url + "/api/pages/track", timeout=HANG_SECONDS,
                                json={"app": TRACK_APP, "user": "redis", "page": "/redis-frozen", "timespent": 1})
        assert tracked.status_code == 200, tracked.text
        login = _login(gunicorn.url, "probe-frozen", "not-the-password")
        assert login.status_code == 401 and login.json()["status"] == "error", login.text
    finally:
        redis_server.thaw()
