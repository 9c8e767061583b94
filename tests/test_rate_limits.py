"""The in-memory rate-limit storage (the embedded default) under gunicorn's threads: no expiry timer per hit,
no turns between hits, limits still exact, and expired entries still swept (extensions.sweep_memory_storage_inline).
"""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import extensions
from extensions import limiter

MEMORY = {"ratelimit.storage_uri": "memory://"}


def _memory_app(make_app, limit: str):
    """An app on a fresh in-memory storage with `limit` on its public endpoints, counts reset."""
    app = make_app({**MEMORY, "ratelimit.public": limit})
    with app.app_context():
        limiter.reset()
    return app


def _post(client, address: str = "127.0.0.1") -> int:
    return client.post("/api/auth/health", json={"app": "a"}, environ_base={"REMOTE_ADDR": address}).status_code


def _racing_posts(app, clients: int = 6, each: int = 10) -> list[int]:
    def client_run(_) -> list[int]:
        client = app.test_client()
        return [_post(client) for _ in range(each)]

    with ThreadPoolExecutor(clients) as pool:
        return [code for run in pool.map(client_run, range(clients)) for code in run]


def test_hits_run_side_by_side_and_start_no_timer_threads(make_app):
    """Before: every hit took a process-wide turn, and a hit started a new expiry Timer thread whenever the
    last one had fired (10 ms), which two threads could do at once (a 500). Now hits overlap inside the
    storage, and the storage's timer is never replaced however long the hits go on."""
    app = make_app({**MEMORY, "ratelimit.public": "100000 per minute"})
    storage = limiter.storage
    first_timer = storage.timer
    inside, most = [0], [0]
    counting = threading.Lock()
    original = storage.acquire_entry

    def slow_acquire(*args, **kwargs):
        with counting:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.005)  # longer than the storage's 10 ms timer needs to fire between two hits
        try:
            return original(*args, **kwargs)
        finally:
            with counting:
                inside[0] -= 1

    storage.acquire_entry = slow_acquire
    try:
        codes = _racing_posts(app)
    finally:
        del storage.acquire_entry
    assert codes == [200] * 60
    assert most[0] > 1  # side by side, not in turns
    assert storage.timer is first_timer


def test_racing_clients_never_exceed_a_limit(make_app):
    """Six clients (one address) race 60 requests at a limit of 20: exactly 20 pass, without turns."""
    codes = _racing_posts(_memory_app(make_app, "20 per minute"))
    assert sorted(codes) == [200] * 20 + [429] * 40


def test_expired_entries_are_swept_by_a_later_hit(make_app, monkeypatch):
    client, storage = _memory_app(make_app, "2 per 1 second").test_client(), limiter.storage
    monkeypatch.setattr(extensions, "MEMORY_SWEEP_SECONDS", 0.2)
    assert [_post(client, "10.0.0.1") for _ in range(3)] == [200, 200, 429]
    first_keys = [key for key in storage.events if "10.0.0.1" in key]
    assert first_keys and all(storage.events[key] for key in first_keys)
    time.sleep(1.3)  # the window (1 s) and a sweep interval have passed
    assert _post(client, "10.0.0.2") == 200  # this hit sweeps
    assert not any("10.0.0.1" in key for key in [*storage.events, *storage.locks])  # forgotten, not just emptied
    assert any(storage.events[key] for key in storage.events if "10.0.0.2" in key)
    assert _post(client, "10.0.0.1") == 200  # and the first client counts from zero again


def test_many_client_addresses_leave_nothing_behind_once_expired(make_app, monkeypatch):
    """limits' own sweep keeps every emptied key: one per client address ever seen, for the worker's life."""
    client, storage = _memory_app(make_app, "5 per 1 second").test_client(), limiter.storage
    monkeypatch.setattr(extensions, "MEMORY_SWEEP_SECONDS", 0.2)
    assert {_post(client, f"2001:db8::{n:x}") for n in range(200)} == {200}
    assert len(storage.events) >= 200
    time.sleep(1.3)
    assert _post(client, "10.0.0.3") == 200
    assert [key for key in storage.events if "10.0.0.3" not in key] == []
    assert [key for key in storage.locks if "10.0.0.3" not in key] == []


def test_a_hit_that_meets_a_forgotten_key_is_run_again(make_app, monkeypatch):
    """The sweep can drop a key while a hit holding an older lock is halfway through it: the KeyError comes
    before the hit stored anything, and the hit is run once more (counted once)."""
    app, strategy = _memory_app(make_app, "100 per minute"), limiter.limiter
    original, calls = strategy.hit, []

    def forgotten_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise KeyError("forgotten by the sweep")
        return original(*args, **kwargs)

    monkeypatch.setattr(strategy, "hit", forgotten_once)
    assert _post(app.test_client()) == 200
    assert len(calls) == 2
    assert sum(len(entries) for entries in limiter.storage.events.values()) == 1


def test_a_failing_sweep_is_logged_and_the_request_still_answered(make_app, monkeypatch, caplog):
    app = make_app({**MEMORY, "ratelimit.public": "100 per minute"})
    storage = limiter.storage
    monkeypatch.setattr(extensions, "MEMORY_SWEEP_SECONDS", 0)

    def broken_sweep():
        raise KeyError("reset meanwhile")

    monkeypatch.setattr(storage, "_MemoryStorage__expire_events", broken_sweep)
    logger = logging.getLogger("concierge.rate_limits")  # "concierge" does not propagate to the root logger
    logger.addHandler(caplog.handler)
    try:
        assert app.test_client().post("/api/auth/health", json={"app": "a"}).status_code == 200
    finally:
        logger.removeHandler(caplog.handler)
    assert "in-memory rate-limit sweep failed" in caplog.text


def test_the_private_methods_used_still_exist_upstream():
    """The sweep replaces MemoryStorage's name-mangled timer method on one instance; if limits renames it,
    the replacement would silently do nothing and the timer (and its race) would be back."""
    from limits.storage import MemoryStorage, storage_from_string

    storage = storage_from_string("memory://")
    assert isinstance(storage, MemoryStorage)
    assert callable(getattr(MemoryStorage, "_MemoryStorage__schedule_expiry", None))
    assert callable(getattr(MemoryStorage, "_MemoryStorage__expire_events", None))
    extensions.sweep_memory_storage_inline(storage)
    assert "_MemoryStorage__schedule_expiry" in vars(storage)


def test_hits_racing_a_sweep_on_every_hit_never_fail(make_app, monkeypatch):
    """The worst case for the sweep: it runs on every hit, while eight clients from twenty addresses hit
    keys whose entries keep expiring. No hit fails, and none passes a limit it should not."""
    app = _memory_app(make_app, "3 per 1 second")
    monkeypatch.setattr(extensions, "MEMORY_SWEEP_SECONDS", 0)

    def client_run(index: int) -> list[int]:
        client = app.test_client()
        return [_post(client, f"10.1.0.{(index * 100 + n) % 20}") for n in range(100)]

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        codes = [code for run in pool.map(client_run, range(8)) for code in run]
    windows = 1 + int(time.monotonic() - started)  # a moving window of 1 s: 3 more per address per second
    assert set(codes) == {200, 429}
    assert 20 * 3 <= codes.count(200) <= 20 * 3 * windows
