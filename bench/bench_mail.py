"""Mail never slows a request: PUT /api/users/me/email (2 mails queued per request) with a working SMTP
server and with a hung one (accepts TCP, never answers), each next to GET /healthz of the same server.

argon2 is set cheap here (time cost 1, 1 MiB) so the request's own work, not the password check, shows.
Run: make bench BENCH=mail   (or .venv/bin/python -m bench.bench_mail)
"""

import json
import socket

from aiosmtpd.controller import Controller

from bench.harness import BenchServer, Request, free_port, load, print_table, request_once

CLIENTS, SECONDS = 16, 6
PASSWORD = "bench-password"


class CountingSink:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def run(label: str, port: int) -> None:
    env = {"MAIL_ENABLED": "true", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port), "MAIL_TIMEOUT": "2",
           "ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "1024", "FRONTEND_BASE_URL": "https://bench.example"}
    with BenchServer(workers=4, env=env) as server:
        server.python(f"""
from services import accounts
for i in range({CLIENTS}):
    accounts.create_user(f"bench{{i}}", f"bench{{i}}@example.com", "{PASSWORD}")
""")
        tokens = []
        for i in range(CLIENTS):
            login = Request("POST", "/api/login", {"username": f"bench{i}", "password": PASSWORD})
            tokens.append(json.loads(request_once(server.url, login)[1])["access_token"])

        def change_email(client: int, n: int) -> Request:
            return Request("PUT", "/api/users/me/email", {"password": PASSWORD, "new_email": f"b{client}-{n}@ex.com"},
                           headers={"Authorization": f"Bearer {tokens[client]}"})

        trivial = load(server.url, Request("GET", "/healthz"), name="GET /healthz (trivial)",
                       clients=CLIENTS, seconds=SECONDS)
        result = load(server.url, change_email, name="PUT /api/users/me/email", clients=CLIENTS, seconds=SECONDS)
        print(f"--- {label}: gunicorn 4 workers x 4 threads, PostgreSQL, {CLIENTS} clients, {SECONDS}s each")
        print_table([result], trivial)
        rows = server.sql("SELECT status, count(*) FROM mail_outbox GROUP BY status ORDER BY status")
        print("outbox right after the run:", dict(rows))


def main() -> None:
    sink = CountingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        run("SMTP server up (aiosmtpd)", controller.port)
        print("messages received by the SMTP server:", sink.count)
    finally:
        controller.stop()
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1024)
        run("SMTP server hung (accepts, never answers; MAIL_TIMEOUT=2)", silent.getsockname()[1])


if __name__ == "__main__":
    main()
