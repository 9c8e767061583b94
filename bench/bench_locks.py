"""Lock acquire+release requests/s under 50 clients (gunicorn as deploy/gunicorn.conf.py runs it, PostgreSQL)
vs GET /healthz, and the auto-release sweep over 100,000 expired locks.

Run: make bench BENCH=locks   (or .venv/bin/python -m bench.bench_locks)
"""

import json
import os

from bench.harness import BenchServer, Request, interleaved, print_table, request_once

CLIENTS = 50
ROUNDS, ROUND_SECONDS = 4, 3  # per endpoint: 12 s, taking turns with the others (harness.interleaved)
EXPIRED = 100_000
SWEEP = """
import time
from services import locks
started = time.perf_counter()
released = locks.release_expired_locks()
print(released, round((time.perf_counter() - started) * 1000, 1))
"""


def main() -> None:
    with BenchServer(workers=4) as server:
        server.flask("create-admin", "--username", "bench", "--email", "bench@example.com",
                     "--password", "bench-password")
        login = Request("POST", "/api/login", {"username": "bench", "password": "bench-password"})
        auth = {"Authorization": "Bearer " + json.loads(request_once(server.url, login)[1])["access_token"]}

        def acquire_release(client: int, n: int) -> Request:
            # even n: lock a fresh path of this client; odd n: release it again. Each round runs in new client
            # processes whose n starts at 0: the pid keeps a path left locked by the previous round out of reach.
            path = f"Bench/c{client}-{os.getpid()}/asset{n // 2}.uasset"
            if n % 2 == 0:
                return Request("POST", "/api/locks", {"asset_path": path, "branch": "main"}, auth)
            return Request("DELETE", f"/api/locks/{path}", headers=auth)

        request_once(server.url, Request("POST", "/api/locks", {"asset_path": "Bench/Contested.umap",
                                                                 "branch": "main"}, auth))
        contested = Request("POST", "/api/locks", {"asset_path": "Bench/Contested.umap", "branch": "main"}, auth)

        trivial, *results = interleaved(server.url, {
            "GET /healthz (trivial)": Request("GET", "/healthz"),
            # the floor of any token-authenticated endpoint (JWT check + user lookup), for context
            "GET /api/currentuser (auth floor)": Request("GET", "/api/currentuser", headers=auth),
            "POST+DELETE /api/locks (alternating)": acquire_release,
            "POST /api/locks held -> 409": contested,
        }, clients=CLIENTS, seconds=ROUND_SECONDS, rounds=ROUNDS)
        print(f"{server.topology}, {CLIENTS} clients, {ROUNDS} interleaved rounds of {ROUND_SECONDS}s per endpoint")
        print_table(results, trivial)

        server.sql("DELETE FROM locks")
        server.sql(
            "INSERT INTO locks (repository_id, asset_path, path_key, owner_id, branch, created_at) "
            "SELECT (SELECT id FROM repositories WHERE name = 'default'), 'Old/asset' || g || '.uasset', "
            "'old/asset' || g || '.uasset', u.id, 'main', "
            "timestamp '2020-01-01' + g * interval '1 second' "
            "FROM generate_series(1, %s) AS g CROSS JOIN (SELECT id FROM users LIMIT 1) AS u", (EXPIRED,))
        server.sql("ANALYZE locks")
        released, ms = server.python(SWEEP).split()
        audited = server.sql("SELECT count(*) FROM lock_releases WHERE reason = 'auto'")[0][0]
        left = server.sql("SELECT count(*) FROM locks")[0][0]
        print(f"auto-release sweep: {released} expired locks released in {ms} ms "
              f"(audit rows: {audited}, locks left: {left}; target < 2000 ms)")

        # The hourly case: many live locks, none expired; the created_at index should make it cheap.
        server.sql(
            "INSERT INTO locks (repository_id, asset_path, path_key, owner_id, branch, created_at) "
            "SELECT (SELECT id FROM repositories WHERE name = 'default'), 'Live/asset' || g || '.uasset', "
            "'live/asset' || g || '.uasset', u.id, 'main', "
            "(now() at time zone 'utc') - g * interval '1 millisecond' "
            "FROM generate_series(1, %s) AS g CROSS JOIN (SELECT id FROM users LIMIT 1) AS u", (EXPIRED,))
        server.sql("ANALYZE locks")
        released, ms = server.python(SWEEP).split()
        print(f"auto-release sweep with {EXPIRED} live locks and none expired: released {released} in {ms} ms")


if __name__ == "__main__":
    main()
