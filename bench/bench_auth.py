"""Login and currentuser requests/s under gunicorn (deploy/gunicorn.conf.py) on PostgreSQL, against GET /healthz.

Run: make bench BENCH=auth   (or .venv/bin/python -m bench.bench_auth)
"""

import json

from bench.harness import BenchServer, Request, load, print_table, request_once

CLIENTS, SECONDS = 16, 6


def main() -> None:
    with BenchServer(workers=4) as server:
        server.flask("create-admin", "--username", "bench", "--email", "bench@example.com",
                     "--password", "bench-password")
        login = Request("POST", "/api/login", {"username": "bench", "password": "bench-password"})
        token = json.loads(request_once(server.url, login)[1])["access_token"]
        me = Request("GET", "/api/currentuser", headers={"Authorization": f"Bearer {token}"})
        trivial = load(server.url, Request("GET", "/healthz"), name="GET /healthz (trivial)",
                       clients=CLIENTS, seconds=SECONDS)
        results = [
            load(server.url, me, name="GET /api/currentuser", clients=CLIENTS, seconds=SECONDS),
            load(server.url, login, name="POST /api/login (argon2id 64 MiB)", clients=CLIENTS, seconds=SECONDS),
        ]
        print(f"{server.topology}, {CLIENTS} clients, {SECONDS}s each")
        print_table(results, trivial)


if __name__ == "__main__":
    main()
