"""App sessions, the Alohomora relay, notifications and workspace files under gunicorn on PostgreSQL.

The relay calls a real HTTP Alohomora stand-in (tests/alohomora_standin.py, its own process), so
`/register_token` includes the outbound call and the interaction-log row. Ratios are to GET /healthz.

Run: make bench BENCH=relay   (or .venv/bin/python -m bench.bench_relay)
"""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

from bench.harness import ROOT, BenchServer, Request, free_port, load, print_table, request_once

CLIENTS, SECONDS = 16, 6
SECRET = "bench-notification-secret-0123456789abcdef"
FILE = os.urandom(64 * 1024)


@dataclass
class RawRequest(Request):
    """A request whose body is bytes, not JSON."""

    def encoded(self):
        return self.body, {"Content-Type": "application/octet-stream", **self.headers}


def start_standin(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "tests.alohomora_standin", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        try:
            if request_once(f"http://127.0.0.1:{port}", Request("GET", "/hello"))[0] == 200:
                return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("stand-in did not come up")


def notification(token_id: str) -> dict:
    return {"token_id": token_id,
            "session_info": {"user_id": "bench", "workflow_id": "wf", "session_id": None, "create_local_session": True},
            "workflow_status": {"total_instances": None, "completed_instances": None,
                                "in_progress_instances": None, "failed_instances": None},
            "notification_metadata": {"sent_at": "2026-11-24T00:00:00", "source_system_id": "s", "token_metadata": {}}}


def main() -> None:
    port = free_port()
    standin = start_standin(port)
    env = {"ALOHOMORA_BASE_URL": f"http://127.0.0.1:{port}", "ALOHOMORA_NOTIFICATION_SECRET": SECRET,
           "WORKSPACE_QUOTA_BYTES": str(1024 ** 3)}
    try:
        with BenchServer(workers=4, env=env) as server:
            server.flask("create-admin", "--username", "bench", "--email", "bench@example.com",
                         "--password", "bench-password")
            key = server.python("from services import api_keys\nprint(api_keys.create_key('bench', ['relay'])[1])")
            relay = {"X-API-Key": key.strip()}
            login = Request("POST", "/api/login", {"username": "bench", "password": "bench-password"})
            bearer = {"Authorization": "Bearer " + json.loads(request_once(server.url, login)[1])["access_token"]}
            sid = json.loads(request_once(server.url, Request("POST", "/new_session", {"user_id": "bench"},
                                                              relay))[1])["session_id"]
            files = f"/api/app-sessions/{sid}/files"
            # One session per client for uploads: uploads to one session serialize on its quota lock.
            own = [json.loads(request_once(server.url, Request("POST", "/new_session", {"user_id": "bench"},
                                                               relay))[1])["session_id"] for _ in range(CLIENTS)]
            request_once(server.url, RawRequest("PUT", f"{files}/read.bin", FILE, bearer))
            notify_path = f"/relay/{SECRET}/receive_session_notification"
            request_once(server.url, Request("POST", notify_path, notification("repeat")))

            trivial = load(server.url, Request("GET", "/healthz"), name="GET /healthz (trivial)",
                           clients=CLIENTS, seconds=SECONDS)
            results = [
                load(server.url, Request("POST", "/new_session", {"user_id": "bench"}, relay),
                     name="POST /new_session", clients=CLIENTS, seconds=SECONDS),
                load(server.url, lambda i, n: Request("POST", "/register_token", {
                    "session_id": sid, "token": f"tok-{os.getpid()}-{i}-{n}", "workflow_id": "wf",
                    "function_id": "fn", "system_id": "sys"}, relay),
                     name="POST /register_token (relayed)", clients=CLIENTS, seconds=SECONDS),
                load(server.url, lambda i, n: Request("POST", notify_path, notification(f"n-{os.getpid()}-{i}-{n}")),
                     name="POST notification (new session)", clients=CLIENTS, seconds=SECONDS),
                load(server.url, Request("POST", notify_path, notification("repeat")),
                     name="POST notification (repeat)", clients=CLIENTS, seconds=SECONDS),
                load(server.url, lambda i, n: RawRequest("PUT", f"{files}/c{i}-{n % 8}.bin", FILE, bearer),
                     name="PUT file 64 KiB (one session)", clients=CLIENTS, seconds=SECONDS),
                load(server.url, lambda i, n: RawRequest("PUT", f"/api/app-sessions/{own[i]}/files/f{n % 8}.bin",
                                                         FILE, bearer),
                     name="PUT file 64 KiB (session/client)", clients=CLIENTS, seconds=SECONDS),
                load(server.url, Request("GET", f"{files}/read.bin", headers=bearer),
                     name="GET file 64 KiB", clients=CLIENTS, seconds=SECONDS),
            ]
            print(f"gunicorn 4 workers x 4 threads, PostgreSQL, {CLIENTS} clients, {SECONDS}s each")
            print_table(results, trivial)
    finally:
        standin.terminate()
        standin.wait(timeout=10)


if __name__ == "__main__":
    main()
