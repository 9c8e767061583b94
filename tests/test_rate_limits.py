"""Rate limits (issue 17): Flask-Limiter's own decorator on the public endpoints, exact under racing threads
on the lane's storage (in memory on SQLite, Redis on PostgreSQL); every password check, HTTP Basic for git
included, shares login's budget of failures per client address and per username."""

import base64
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import PASSWORD, reset_rate_limits


def _limited_app(make_app, **limits):
    app = make_app({f"ratelimit.{name}": value for name, value in limits.items()})
    with app.app_context():
        reset_rate_limits(app)
    return app


def _health(client, address: str = "127.0.0.1") -> int:
    return client.post("/api/auth/health", json={"app": "a"}, environ_base={"REMOTE_ADDR": address}).status_code


def test_racing_clients_never_exceed_a_public_limit(make_app):
    """Six threads of one address race 60 requests at a limit of 20: exactly 20 pass."""
    app = _limited_app(make_app, public="20 per minute")

    def run(_) -> list[int]:
        client = app.test_client()
        return [_health(client) for _ in range(10)]

    with ThreadPoolExecutor(6) as pool:
        codes = [code for codes in pool.map(run, range(6)) for code in codes]
    assert sorted(codes) == [200] * 20 + [429] * 40


def test_each_address_and_each_endpoint_has_its_own_count(make_app):
    client = _limited_app(make_app, public="2 per minute").test_client()
    assert [_health(client, "10.0.0.1") for _ in range(3)] == [200, 200, 429]
    assert _health(client, "10.0.0.2") == 200
    assert client.post("/api/health", json={"app": "a"}, environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 200


def _basic(username: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()}


def _lfs_locks(client, username: str, secret: str, address: str = "127.0.0.1"):
    return client.get("/api/lfs/locks", headers=_basic(username, secret), environ_base={"REMOTE_ADDR": address})


@pytest.fixture
def throttled(make_app):
    """An app whose password checks allow 3 failures a minute; alice and bob exist."""
    from tests.conftest import Factory

    app = _limited_app(make_app, login="3 per minute")
    with app.app_context():
        Factory(app).user("alice")
        Factory(app).user("bob")
    return app.test_client()


def test_wrong_basic_passwords_are_throttled_like_login(throttled):
    """The reported hole: 20 wrong passwords over HTTP Basic in a few seconds, never a 429."""
    answers = [_lfs_locks(throttled, "alice", f"guess-{i}") for i in range(20)]
    assert [a.status_code for a in answers] == [401] * 3 + [429] * 17
    refused = answers[-1]
    assert refused.mimetype == "application/vnd.git-lfs+json"
    assert refused.get_json()["message"] == "Too many requests: limit is 3 per 1 minute"
    assert int(refused.headers["Retry-After"]) >= 1
    # spent: even the right password is not checked now, for this name from anywhere
    assert _lfs_locks(throttled, "alice", PASSWORD, "10.9.9.9").status_code == 429


def test_right_credentials_never_spend_the_budget(throttled):
    """git sends its credentials with every request: a busy client is never throttled."""
    assert [_lfs_locks(throttled, "alice", PASSWORD).status_code for _ in range(12)] == [200] * 12


def test_login_and_basic_share_one_budget_per_username_across_addresses(throttled):
    assert throttled.post("/api/login", json={"username": "alice", "password": "x-1"},
                          environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 401
    assert _lfs_locks(throttled, "alice", "x-2", "10.0.0.2").status_code == 401
    assert throttled.post("/api/login", json={"username": "ALICE", "password": "x-3"},
                          environ_base={"REMOTE_ADDR": "10.0.0.3"}).status_code == 401
    assert throttled.post("/api/login", json={"username": "alice", "password": PASSWORD},
                          environ_base={"REMOTE_ADDR": "10.0.0.4"}).status_code == 429
    # another account from a fresh address is untouched
    assert throttled.post("/api/login", json={"username": "bob", "password": PASSWORD},
                          environ_base={"REMOTE_ADDR": "10.0.0.4"}).status_code == 200


def test_one_address_guessing_many_names_is_throttled_per_address(throttled):
    codes = [_lfs_locks(throttled, f"name{i}", "guess", "10.1.1.1").status_code for i in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    assert _lfs_locks(throttled, "bob", PASSWORD, "10.1.1.2").status_code == 200


def test_unreachable_limit_storage_serves_without_limits_never_a_500(make_app, factory_free_port):
    """Redis down while limits live there: the documented behaviour is to fail open (and log it)."""
    from tests.conftest import Factory

    app = make_app({"ratelimit.storage_uri": f"redis://127.0.0.1:{factory_free_port}/0",
                    "ratelimit.public": "1 per minute", "ratelimit.login": "1 per minute"})
    with app.app_context():
        Factory(app).user("alice")
    client = app.test_client()
    assert [_health(client) for _ in range(3)] == [200, 200, 200]
    assert client.post("/api/login", json={"username": "alice", "password": "wrong"}).status_code == 401
    assert client.post("/api/login", json={"username": "alice", "password": PASSWORD}).status_code == 200


@pytest.fixture
def factory_free_port():
    from tests.conftest import free_port

    return free_port()  # nothing listens there
