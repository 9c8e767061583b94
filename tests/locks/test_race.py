"""Acquire under real concurrency: N threads over real HTTP race for one path; the unique key decides."""

import threading

import requests

from models import Lock

RACERS = 24


def test_exactly_one_of_many_concurrent_acquirers_wins(live_server, factory):
    users = [factory.user(f"racer{i:02d}") for i in range(RACERS)]
    headers = [factory.headers(u) for u in users]
    barrier = threading.Barrier(RACERS)
    results: list[tuple[str, int, dict]] = []

    def race(i: int) -> None:
        barrier.wait()
        resp = requests.post(f"{live_server.url}/api/locks", headers=headers[i], timeout=60,
                             json={"asset_path": "Content/Maps/Contested.umap", "branch": "main"})
        results.append((users[i].username, resp.status_code, resp.json()))

    threads = [threading.Thread(target=race, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    statuses = sorted(status for _, status, _ in results)
    assert statuses == [201] + [409] * (RACERS - 1)
    winner = next(name for name, status, _ in results if status == 201)
    winner_lock = next(body["data"] for _, status, body in results if status == 201)
    for _, status, body in results:
        if status == 409:
            assert body["details"]["holder"] == winner and winner in body["message"]
            assert body["details"]["locked_at"] == winner_lock["created_at"]
    assert [(lock.asset_path, lock.owner.username) for lock in Lock.query.all()] == \
        [("Content/Maps/Contested.umap", winner)]
