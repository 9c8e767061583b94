"""A stand-in for the public Alohomora server (kussl/Alohomora) speaking its `POST /record_token` contract.

Real HTTP in a thread (`AlohomoraStandIn().start()`), or a process for end-to-end runs:
    python -m tests.alohomora_standin --port 8000 [--callback http://127.0.0.1:8001/relay/<secret>]

Behaviour, like the real server:
- 201 `{"token_id": <token>, "status": "recorded"}` (the real server uses the token as its id);
- 400 `{"error": "Missing required field: <f>"}` / "All required fields must be non-empty strings";
- 409 `{"error": "Token already exists"}` for a token seen before;
- after recording, POSTs Alohomora's notification payload to every callback (as its notifier thread does;
  inline in tests, from a thread when run as a process).
Test modes, set with `standin.mode = ...` or `POST /_control {"mode": ..., "delay": s}`:
- "ok" (default); "403" / "404" / "500": that status with the real server's error text;
- "slow": sleep `delay` seconds before answering (timeouts); "garbage": 201 with a non-JSON body;
- "no_token_id": 201 with JSON lacking `token_id`.
A token value "reject-<status>" answers that status in any mode. `received` holds every body received.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REQUIRED = ("system_id", "token", "workflow_id", "function_id", "user_id")
ERRORS = {
    403: "Function not found in specified workflow or not accessible by system's group",
    404: "System not found",
    500: "Failed to record token",
}


class AlohomoraStandIn:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, callbacks: list[str] | None = None,
                 notify_async: bool = False):
        self.mode = "ok"
        # The real server notifies from a thread; tests default to inline so they can assert right after.
        self.notify_async = notify_async
        self.delay = 2.0
        self.callbacks = list(callbacks or [])
        self.received: list[dict[str, Any]] = []
        self.notifications_sent: list[tuple[str, int | str]] = []
        self.tokens: set[str] = set()
        self.workflow_status: dict[str, Any] = {"total_instances": None, "completed_instances": None,
                                                "in_progress_instances": None, "failed_instances": None}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread: threading.Thread | None = None

    def start(self) -> AlohomoraStandIn:
        self.thread = threading.Thread(target=self.server.serve_forever, name="alohomora-standin", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> AlohomoraStandIn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ behaviour

    def record_token(self, data: Any) -> tuple[int, Any]:
        """The real server's checks, in its order; returns (status, body)."""
        with self._lock:
            self.received.append(data if isinstance(data, dict) else {"_raw": data})
            mode = self.mode
        if mode == "slow":
            time.sleep(self.delay)
        if not data:
            return 400, {"error": "No JSON data provided"}
        for name in REQUIRED:
            if name not in data:
                return 400, {"error": f"Missing required field: {name}"}
        if not all(isinstance(data[name], str) and data[name].strip() for name in REQUIRED):
            return 400, {"error": "All required fields must be non-empty strings"}
        token = data["token"]
        if token.startswith("reject-") and token[7:].isdigit():
            status = int(token[7:])
            return status, {"error": ERRORS.get(status, f"Rejected with {status}")}
        if mode.isdigit():
            return int(mode), {"error": ERRORS.get(int(mode), f"Rejected with {mode}")}
        if mode == "garbage":
            return 201, "<html>not json</html>"
        if mode == "no_token_id":
            return 201, {"status": "recorded"}
        with self._lock:
            if token in self.tokens:
                return 409, {"error": "Token already exists"}
            self.tokens.add(token)
        if self.notify_async:
            threading.Thread(target=self._notify, args=(token, data), daemon=True).start()
        else:
            self._notify(token, data)
        return 201, {"token_id": token, "status": "recorded"}

    def notification_payload(self, token: str, data: dict[str, Any]) -> dict[str, Any]:
        """Exactly the body the real notifier thread sends."""
        return {
            "token_id": token,
            "session_info": {"user_id": data["user_id"], "workflow_id": data["workflow_id"], "session_id": None,
                             "create_local_session": True},
            "workflow_status": self.workflow_status,
            "notification_metadata": {"sent_at": datetime.now().isoformat(), "source_system_id": data["system_id"],
                                      "token_metadata": data.get("token_metadata", {})},
        }

    def _notify(self, token: str, data: dict[str, Any]) -> None:
        for callback in self.callbacks:
            url = callback if callback.endswith("/receive_session_notification") else (
                callback.rstrip("/") + "/receive_session_notification")
            body = json.dumps(self.notification_payload(token, data)).encode()
            request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    outcome: int | str = response.status
            except Exception as exc:  # noqa: BLE001 - best effort, like the real notifier
                outcome = getattr(exc, "code", None) or repr(exc)
            self.notifications_sent.append((url, outcome))

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet test output
                pass

            def _reply(self, status: int, body: Any) -> None:
                raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if isinstance(body, str) else "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    data = json.loads(raw) if raw else None
                except ValueError:
                    data = None
                if self.path == "/record_token":
                    self._reply(*standin.record_token(data))
                elif self.path == "/_control" and isinstance(data, dict):
                    standin.mode = str(data.get("mode", standin.mode))
                    standin.delay = float(data.get("delay", standin.delay))
                    if "callbacks" in data:
                        standin.callbacks = list(data["callbacks"])
                    self._reply(200, {"mode": standin.mode, "delay": standin.delay, "callbacks": standin.callbacks})
                else:
                    self._reply(404, {"error": "Not found"})

            def do_GET(self) -> None:
                if self.path == "/_received":
                    self._reply(200, {"received": standin.received, "notifications_sent": standin.notifications_sent})
                elif self.path == "/hello":
                    self._reply(200, {"message": "Hello, World!"})
                else:
                    self._reply(404, {"error": "Not found"})

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="Alohomora stand-in (record_token + notifications)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--callback", action="append", default=[],
                        help="callback URL to notify after each recorded token (repeatable)")
    args = parser.parse_args()
    standin = AlohomoraStandIn(args.host, args.port, args.callback, notify_async=True)
    print(f"alohomora stand-in on {standin.url}", flush=True)
    try:
        standin.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        standin.server.server_close()


if __name__ == "__main__":
    main()
