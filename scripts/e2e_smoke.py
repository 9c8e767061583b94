"""`make e2e`'s smoke suite: every request goes through nginx to the api that entrypoint.sh started.

Started by scripts/e2e.sh (which provides the services, nginx, the environment and the Alohomora
stand-in); this runner starts and restarts the api itself, so it can restart it mid-suite. Each step
prints PASS/FAIL/SKIP lines; the exit status is 1 when any step failed.

Steps, in order (the contracts: docs/contracts.md):
  compose     `docker compose config -q` where the docker CLI has compose; otherwise SKIP
  entrypoint  entrypoint.sh waits for the database, migrates, creates the admin, execs 4 gunicorn workers
  proxy       nginx: request id in and out, readiness, JSON 404/413, X-Forwarded-For reaches the app
  metrics     /metrics sums every worker's counts; denied to any address but the allowed one
  login       login and currentuser (the Asset Lock Manager's paths in the Session Server API's envelope)
  locks       the Asset Lock Manager: 20 users race POST /api/locks for one path: exactly one 201, the rest 409
  checkin     the check-in contract: POST /api/checkin, GET /api/model/active-users with X-API-Key
  pages       the Session Server API: POST /api/pages/track, POST /api/pages/stats
  relay       App1: POST /new_session, POST /register_token relayed to the Alohomora stand-in
  console     the web console through nginx: sign-in form, HttpOnly SameSite cookie, the lock board
  lfs         real git + git-lfs: push an object larger than nginx's body limit, clone and pull it back
  restart     SIGTERM while requests are in flight (all finish), nginx's JSON 502 meanwhile, entrypoint again
  persisted   after the restart: tokens, the lock, the check-in, the page data, the app session are all there
  scheduler   job_runs: one worker ran every job in each run of the api (SCHEDULER_INTERVAL_SECONDS=1)
The first four always run; `--only a,b` (E2E_ONLY) picks among the rest.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
ALWAYS = ("compose", "entrypoint", "proxy", "metrics")
OPTIONAL = ("login", "locks", "checkin", "pages", "relay", "console", "lfs", "restart", "persisted", "scheduler")
WORKERS = int(os.environ.get("WEB_CONCURRENCY", "4"))
RACERS = 20


class Failed(Exception):
    pass


def check(condition: object, message: str) -> None:
    if not condition:
        raise Failed(message)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def short(response: requests.Response) -> str:
    return f"{response.status_code} {response.text[:300]!r}"


def size_in_bytes(size: str) -> int:
    """nginx's size syntax: 512, 16k, 1m, 2g."""
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", size).groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit.lower()]


def mentions(value: object, needle: str) -> bool:
    """`needle` appears in any string of a JSON value (the contracts do not fix where a holder is named)."""
    return needle.lower() in json.dumps(value).lower()


class Api:
    """The api process as the container runs it: entrypoint.sh, which execs the gunicorn master."""

    def __init__(self, entrypoint: str, url: str, work: Path):
        self.entrypoint, self.url, self.work = entrypoint, url, work
        self.process: subprocess.Popen | None = None
        self.log_path = work / "app.log"
        self.started_at: datetime | None = None
        self.log_offset = 0

    def start(self, timeout: float = 120) -> float:
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        began = time.monotonic()
        log = open(self.log_path, "a")  # noqa: SIM115 - the child writes to it for its whole life
        self.process = subprocess.Popen([self.entrypoint], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                        start_new_session=True)
        log.close()
        (self.work / "app.pid").write_text(str(self.process.pid))
        while time.monotonic() - began < timeout:
            if self.process.poll() is not None:
                raise Failed(f"entrypoint.sh exited with {self.process.returncode}:\n{self.log_since()[-3000:]}")
            try:
                if requests.get(self.url + "/readyz", timeout=2).status_code == 200 and len(self.workers()) == WORKERS:
                    self.started_at = utcnow()
                    return time.monotonic() - began
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise Failed(f"the api was not ready with {WORKERS} workers within {timeout:.0f}s")

    def stop(self, timeout: float = 40) -> tuple[int, float]:
        assert self.process is not None
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        rc = self.process.wait(timeout)
        (self.work / "app.pid").unlink(missing_ok=True)
        return rc, time.monotonic() - began

    def workers(self) -> list[int]:
        """The gunicorn master's children (the master is the entrypoint's pid: it execs)."""
        if self.process is None:
            return []
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return sorted(children)

    def log_since(self) -> str:
        with open(self.log_path, errors="replace") as handle:
            handle.seek(self.log_offset)
            return handle.read()


class Suite:
    def __init__(self, args: argparse.Namespace):
        self.nginx = args.nginx.rstrip("/")
        self.api = Api(args.entrypoint, args.api.rstrip("/"), Path(args.work))
        self.standin = args.standin.rstrip("/")
        self.work = Path(args.work)
        self.selected = list(ALWAYS) + [s for s in OPTIONAL if args.only is None or s in args.only]
        self.http = requests.Session()
        self.state: dict = {"runs": []}
        self.results: list[tuple[str, str]] = []
        self.admin = os.environ["INITIAL_ADMIN_USER"]
        self.admin_password = os.environ["INITIAL_ADMIN_PASSWORD"]

    # ------------------------------------------------------------------ helpers

    def say(self, text: str) -> None:
        print(f"       {text}", flush=True)

    def request(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.nginx + path, headers=headers, timeout=30, **kwargs)

    def login(self, username: str, password: str, app: str | None = "e2e") -> str:
        response = self.request("POST", "/api/login", json={"username": username, "password": password, "app": app})
        check(response.status_code == 200, f"login {username}: {short(response)}")
        token = response.json().get("access_token")
        check(token, f"login {username}: no access_token")
        return token

    def admin_token(self) -> str:
        if "admin_token" not in self.state:
            self.state["admin_token"] = self.login(self.admin, self.admin_password)
        return self.state["admin_token"]

    def create_users(self, prefix: str, count: int) -> list[tuple[str, str]]:
        token = self.admin_token()
        users = [(f"{prefix}{i:02d}", secrets.token_urlsafe(12)) for i in range(1, count + 1)]

        def create(user: tuple[str, str]) -> None:
            name, password = user
            response = self.request("POST", "/api/admin/users", token,
                                    json={"username": name, "email": f"{name}@example.com", "password": password})
            check(response.status_code == 201, f"create user {name}: {short(response)}")

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(create, users))
        return users

    def record_run(self) -> None:
        self.state["runs"].append({"master": self.api.process.pid, "workers": self.api.workers(),
                                   "ready_at": self.api.started_at})

    # ------------------------------------------------------------------ steps

    def step_compose(self) -> str:
        compose = None
        has_plugin = shutil.which("docker") and subprocess.run(["docker", "compose", "version"],
                                                               capture_output=True).returncode == 0
        if has_plugin:
            compose = ["docker", "compose"]
        elif shutil.which("docker-compose"):
            compose = ["docker-compose"]
        if compose is None:
            done = subprocess.run([str(ROOT / ".venv/bin/check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
                                   str(ROOT / "docker-compose.yml")], capture_output=True, text=True)
            check(done.returncode == 0, f"docker-compose.yml against the compose specification: {done.stdout}")
            return ("SKIP", "no `docker compose` here (docker CLI without the compose plugin): `docker compose "
                            "config` skipped; docker-compose.yml is valid against the compose-spec JSON schema")
        env = {**os.environ, "JWT_SECRET_KEY": "x" * 40}
        done = subprocess.run([*compose, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        check(done.returncode == 0, f"{' '.join(compose)} config: {done.stderr.strip()}")
        return f"{' '.join(compose)} config -q: valid"

    def step_entrypoint(self) -> str:
        seconds = self.api.start()
        self.record_run()
        log = self.api.log_since()
        for line in ("entrypoint: waiting for the database", "entrypoint: flask db upgrade",
                     f"create-admin: created {self.admin}", "entrypoint: starting gunicorn"):
            check(line in log, f"the entrypoint log lacks {line!r}")
        self.say(f"migrated, admin created, gunicorn master {self.api.process.pid} with workers "
                 f"{self.api.workers()} (CONCIERGE_ENV={os.environ['CONCIERGE_ENV']})")
        return f"entrypoint.sh ready in {seconds:.1f}s with {WORKERS} workers"

    def step_proxy(self) -> str:
        rid = f"e2e-{secrets.token_hex(6)}"
        response = self.request("GET", "/healthz", headers={"X-Request-ID": rid})
        check(response.status_code == 200 and response.json() == {"status": "ok"}, f"/healthz: {short(response)}")
        check(response.headers.get("X-Request-ID") == rid, f"X-Request-ID not echoed: {response.headers}")
        self.say(f"GET /healthz 200, X-Request-ID {rid} echoed")

        response = self.request("GET", "/readyz")
        body = response.json()
        check(response.status_code == 200 and {"database", "redis"} <= set(body["checks"])
              and set(body["checks"].values()) == {"ok"}, f"/readyz: {short(response)}")
        generated = response.headers.get("X-Request-ID", "")
        check(re.fullmatch(r"[0-9a-f]{32}", generated), f"nginx did not assign a request id: {generated!r}")
        self.say(f"GET /readyz 200 {body['checks']}; nginx assigned request id {generated}")

        time.sleep(0.3)  # both access logs are written after the response
        nginx_log = (self.work / "nginx" / "access.log").read_text()
        check(f'"request_id":"{rid}"' in nginx_log, "nginx's access log lacks the request id")
        entries = [json.loads(line) for line in self.api.log_since().splitlines()
                   if line.startswith("{") and rid in line]
        access = [e for e in entries if e.get("logger") == "gunicorn.access"]
        check(access, "gunicorn's JSON access log lacks the request id")
        check(access[0]["remote_addr"] == "127.0.0.1" and access[0]["forwarded_for"] == "127.0.0.1",
              f"X-Forwarded-For did not reach the app: {access[0]}")
        self.say("request id in nginx's and gunicorn's JSON access lines; client address via X-Forwarded-For")

        response = self.request("GET", "/api/no-such-route")
        check(response.status_code == 404 and response.json().get("request_id"), f"404: {short(response)}")
        limit = os.environ.get("NGINX_CLIENT_MAX_BODY_SIZE", "1m")
        status, content_type, body = self.announce_body(size_in_bytes(limit) + 1)
        check(status == 413 and content_type.startswith("application/json")
              and body.get("message") == "Request body too large", f"over the body limit: {status} {body}")
        self.say(f"unknown route: JSON 404 from the app; a body over {limit}: JSON 413 from nginx "
                 "(client_max_body_size)")
        return "nginx proxies with request id, forwarded headers, JSON errors"

    def announce_body(self, length: int) -> tuple[int, str, dict]:
        """POST with a Content-Length over the limit and no body: nginx must refuse on the header alone."""
        nginx = urlsplit(self.nginx)
        conn = http.client.HTTPConnection(nginx.hostname, nginx.port, timeout=10)
        conn.putrequest("POST", "/api/login")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        response = conn.getresponse()
        body = json.loads(response.read() or b"{}")
        conn.close()
        return response.status, response.getheader("Content-Type", ""), body

    def step_metrics(self) -> str:
        def served(text: str) -> float:
            pattern = r'^flask_http_request_duration_seconds_count\{[^}]*endpoint="health.healthz"[^}]*\} (\S+)$'
            return sum(float(v) for v in re.findall(pattern, text, re.M))

        before = served(self.request("GET", "/metrics").text)
        count = 60
        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(lambda _: self.request("GET", "/healthz").status_code, range(count)))
        check(statuses.count(200) == count, f"/healthz statuses {set(statuses)}")
        response = self.request("GET", "/metrics")
        check(response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain"),
              f"/metrics: {short(response)}")
        after = served(response.text)
        check(after - before == count, f"/metrics counted {after - before:.0f} of {count} requests (one worker's?)")
        pids = {json.loads(line)["pid"] for line in self.api.log_since().splitlines()
                if '"gunicorn.access"' in line and '"/healthz"' in line}
        self.say(f"{count} requests served by workers {sorted(pids)}; /metrics (any worker) counts all {count}")
        check("flask_http_request_total" in response.text and "concierge_app_info" in response.text,
              "default metrics missing")

        nginx = urlsplit(self.nginx)
        conn = http.client.HTTPConnection(nginx.hostname, nginx.port, timeout=10, source_address=("127.0.0.2", 0))
        conn.request("GET", "/metrics")
        denied = conn.getresponse()
        body = json.loads(denied.read())
        conn.close()
        check(denied.status == 403 and body["status"] == "error", f"/metrics from 127.0.0.2: {denied.status}")
        check(denied.getheader("X-Content-Type-Options") == "nosniff"
              and denied.getheader("Cache-Control") == "no-store", "nginx's own 403 lacks the security headers")
        self.say("/metrics from 127.0.0.2: JSON 403 (allowed only from METRICS_ALLOW_FROM=127.0.0.1)")
        return "Prometheus metrics are multi-process and restricted"

    def step_login(self) -> str:
        token = self.admin_token()
        response = self.request("GET", "/api/currentuser", token)
        check(response.status_code == 200 and response.json()["data"]["username"] == self.admin,
              f"currentuser: {short(response)}")
        self.state["admin_id"] = response.json()["data"]["id"]
        response = self.request("POST", "/api/login", json={"username": self.admin, "password": "wrong-password"})
        check(response.status_code == 401, f"wrong password: {short(response)}")
        return f"POST /api/login 200 (wrong password 401); GET /api/currentuser is {self.admin}"

    def step_locks(self) -> str:
        racers = self.create_users("racer", RACERS)
        tokens = dict(zip([n for n, _ in racers], ThreadPoolExecutor(4).map(lambda u: self.login(*u), racers),
                          strict=True))
        path = f"Content/E2E/Race_{secrets.token_hex(4)}.uasset"
        barrier = threading.Barrier(RACERS)

        def acquire(name: str) -> tuple[str, requests.Response]:
            barrier.wait()
            return name, self.request("POST", "/api/locks", tokens[name],
                                      json={"asset_path": path, "branch": "main", "comment": f"race by {name}"})

        with ThreadPoolExecutor(RACERS) as pool:
            results = list(pool.map(acquire, tokens))
        won = [(n, r) for n, r in results if r.status_code == 201]
        lost = [(n, r) for n, r in results if r.status_code == 409]
        check(len(won) == 1 and len(lost) == RACERS - 1,
              f"expected 1x201 + {RACERS - 1}x409, got {sorted(r.status_code for _, r in results)}: "
              f"{short(results[0][1])}")
        winner = won[0][0]
        check(all(mentions(r.json(), winner) for _, r in lost), "a 409 does not name the holder")
        self.state.update(lock_path=path, lock_winner=winner, racers=racers, racer_tokens=tokens)
        self.say(f"{RACERS} users raced for {path}: {winner} got 201, {len(lost)} got 409 naming {winner}")
        response = self.request("GET", f"/api/locks/{quote(path)}", tokens[winner])
        check(response.status_code == 200 and mentions(response.json(), winner), f"GET lock: {short(response)}")
        return "exactly one winner; the lock reads back"

    def step_checkin(self) -> str:
        token = self.admin_token()
        response = self.request("POST", "/api/checkin", token)
        body = response.json()
        check(response.status_code in (200, 201) and body.get("success") is True
              and body.get("message") == "1-hour vibe pass activated", f"checkin: {short(response)}")
        data = body["data"]
        check(data.get("session_id") and data.get("expires_in_minutes") == 60 and data["expires_at"].endswith("Z"),
              f"checkin data: {data}")
        self.state["checkin_session"] = data["session_id"]
        self.say(f"POST /api/checkin {response.status_code}: session {data['session_id']} until {data['expires_at']}")
        self.check_active_users()
        response = requests.get(self.nginx + "/api/model/active-users", timeout=10)
        check(response.status_code == 401 and response.json().get("success") is False, f"no key: {short(response)}")
        return "check-in recorded; the model sees the user (and nobody without a key)"

    def check_active_users(self) -> None:
        response = self.request("GET", "/api/model/active-users", headers={"X-API-Key": os.environ["MODEL_API_KEY"]})
        body = response.json()
        check(response.status_code == 200 and body.get("success") is True, f"active-users: {short(response)}")
        mine = [u for u in body["data"] if u["user_id"] == self.state.get("admin_id")]
        check(body["count"] == len(body["data"]) and len(mine) == 1, f"active-users lacks the admin: {body}")
        check({"user_id", "display_name", "checked_in_at", "expires_at", "preferences"} <= set(mine[0])
              and len(mine[0]["preferences"]) == 5, f"active user: {mine[0]}")
        check(body["timestamp"].endswith("Z"), f"timestamp: {body.get('timestamp')}")
        self.say(f"GET /api/model/active-users (X-API-Key): count {body['count']}, admin present")

    def step_pages(self) -> str:
        token = self.admin_token()
        page = f"/e2e/{secrets.token_hex(3)}"
        response = self.request("POST", "/api/pages/track", token,
                                json={"user": self.admin, "page": page, "timespent": 120, "app": "e2e"})
        body = response.json()
        check(response.status_code in (200, 201) and body.get("status") == "success", f"track: {short(response)}")
        check(body.get("message") == "Page visit tracked successfully" and body["data"]["page"] == page
              and body["data"]["time_spent"] == 120 and body["data"]["timestamp"].endswith("Z"), f"track: {body}")
        self.state["page"] = page
        self.say(f"POST /api/pages/track {response.status_code}: {page}, 120 s")
        self.check_page_stats()
        return "a tracked page shows in the report"

    def check_page_stats(self) -> None:
        page = self.state["page"]
        response = self.request("POST", "/api/pages/stats", self.admin_token(), json={"app": "e2e", "user": self.admin})
        body = response.json()
        check(response.status_code == 200 and body.get("status") == "success", f"stats: {short(response)}")
        stats = body["data"]["page_stats"].get(page)
        check(stats == {"visits": 1, "total_time": "00:02:00", "average_time": "00:02:00"} or (
              stats and stats["visits"] == 1 and stats["total_time"] == "00:02:00"), f"page_stats: {body['data']}")
        self.say(f"POST /api/pages/stats: {page} {stats}")

    def step_relay(self) -> str:
        token = self.admin_token()
        response = self.request("POST", "/new_session", token, json={"user_id": self.admin, "data": "e2e"})
        check(response.status_code == 201 and response.json().get("session_id"), f"new_session: {short(response)}")
        session_id = response.json()["session_id"]
        self.state["app_session"] = session_id
        self.say(f"POST /new_session 201: {session_id}")
        self.register_token(session_id)
        return "token relayed to the Alohomora stand-in"

    def register_token(self, session_id: str) -> None:
        response = self.request("POST", "/register_token", self.admin_token(), json={
            "session_id": session_id, "token": f"tok-{secrets.token_hex(8)}", "workflow_id": "wf-e2e",
            "function_id": "fn-e2e", "system_id": "concierge-e2e", "user_id": self.admin,
            "token_metadata": {"additional_data": {"source": "e2e"}}})
        body = response.json()
        check(response.status_code == 201 and body.get("alohomora_token_id") and body.get("session_id") == session_id,
              f"register_token: {short(response)}")
        check(body.get("message") == "Token registered successfully with alohomora", f"message: {body}")
        self.say(f"POST /register_token 201: alohomora_token_id {body['alohomora_token_id']}")

    def step_console(self) -> str:
        browser = requests.Session()
        form = browser.get(self.nginx + "/console/login", timeout=30)
        check(form.status_code == 200 and "text/html" in form.headers.get("Content-Type", ""), f"form: {short(form)}")
        nonce = re.search(r'name="nonce" value="([^"]+)"', form.text)
        check(nonce, "the sign-in form has no anti-forgery nonce")
        signed_in = browser.post(self.nginx + "/console/login", timeout=30, allow_redirects=False,
                                 data={"username": self.admin, "password": self.admin_password,
                                       "nonce": nonce.group(1)})
        check(signed_in.status_code in (302, 303), f"sign-in: {short(signed_in)}")
        cookies = signed_in.headers.get("Set-Cookie", "")
        check("HttpOnly" in cookies and "SameSite" in cookies, f"session cookie flags: {cookies}")
        board = browser.get(self.nginx + "/console/locks", timeout=30)
        check(board.status_code == 200 and "Lock" in board.text, f"lock board: {short(board)}")
        outsiders = [url for url in re.findall(r'(?:src|href)="([^"]+)"', board.text) if "://" in url]
        check(not outsiders, f"the board loads from outside Concierge: {outsiders}")
        self.say("signed in through nginx (HttpOnly, SameSite cookie); the lock board loads only local assets")
        return "console through nginx"

    def step_lfs(self) -> str:
        if shutil.which("git-lfs") is None:
            return "SKIP", "git-lfs is not installed"
        limit = size_in_bytes(os.environ.get("NGINX_CLIENT_MAX_BODY_SIZE", "1m"))
        payload = secrets.token_bytes(limit + 1024 * 1024)  # over nginx's general body limit on purpose
        work = self.work / "lfs"
        origin, clone, again = work / "origin.git", work / "clone", work / "again"
        work.mkdir(exist_ok=True)
        host = urlsplit(self.nginx)
        lfs_url = f"{host.scheme}://{self.admin}:{quote(self.admin_password, safe='')}@{host.netloc}/api/lfs"
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "e2e", "GIT_AUTHOR_EMAIL": "e2e@x",
               "GIT_COMMITTER_NAME": "e2e", "GIT_COMMITTER_EMAIL": "e2e@x", "HOME": str(work)}

        def git(*args: str, cwd: Path = work) -> str:
            done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
            check(done.returncode == 0, f"git {' '.join(args)}: {done.stdout[-800:]} {done.stderr[-1500:]}")
            return done.stdout

        git("lfs", "install", "--skip-repo")  # the LFS filters, in this step's own HOME
        git("init", "-q", "--bare", "-b", "main", str(origin))
        git("init", "-q", "-b", "main", str(clone))
        git("config", "lfs.url", lfs_url, cwd=clone)
        git("lfs", "track", "*.uasset", cwd=clone)
        (clone / "Hero.uasset").write_bytes(payload)
        git("add", ".gitattributes", "Hero.uasset", cwd=clone)
        git("commit", "-q", "-m", "hero", cwd=clone)
        git("remote", "add", "origin", str(origin), cwd=clone)
        git("push", "-q", "origin", "main", cwd=clone)
        git("-c", f"lfs.url={lfs_url}", "clone", "-q", str(origin), str(again))
        git("config", "lfs.url", lfs_url, cwd=again)
        git("lfs", "pull", cwd=again)
        check((again / "Hero.uasset").read_bytes() == payload, "the pulled object differs from the pushed one")
        self.say(f"pushed and pulled a {len(payload) // 1024} KiB LFS object through nginx (body limit "
                 f"{limit // 1024} KiB elsewhere)")
        return "git lfs push and pull through nginx"

    def step_restart(self) -> str:
        drainers = self.create_users("drain", 12)
        barrier = threading.Barrier(len(drainers) + 1)

        def login_in_flight(user: tuple[str, str]) -> int:
            barrier.wait()
            return self.request("POST", "/api/login", json={"username": user[0], "password": user[1]}).status_code

        first = self.state["runs"][-1]
        first["stopped_at"] = None
        with ThreadPoolExecutor(len(drainers)) as pool:
            futures = [pool.submit(login_in_flight, u) for u in drainers]
            barrier.wait()
            time.sleep(0.3)  # accepted by the workers by now; 12 argon2id logins take ~1 s on 2 cores
            in_flight = sum(1 for f in futures if not f.done())
            first["stopped_at"] = utcnow()
            rc, seconds = self.api.stop()
            statuses = [f.result() for f in futures]
        check(rc == 0, f"gunicorn exited with {rc} on SIGTERM")
        check(statuses == [200] * len(drainers), f"in-flight requests during SIGTERM: {statuses}")
        check(in_flight, "every login had finished before SIGTERM: nothing was in flight")
        self.say(f"SIGTERM with {in_flight} of {len(drainers)} logins still in flight: all 200; "
                 f"gunicorn exited 0 in {seconds:.1f}s")
        check("scheduler leadership released" in self.api.log_since(), "the leader did not release leadership")
        self.say("scheduler leadership released on shutdown")

        response = self.request("GET", "/healthz")
        check(response.status_code == 502 and response.json()["status"] == "error"
              and response.json()["request_id"] == response.headers.get("X-Request-ID"),
              f"api down: {short(response)}")
        self.say("api down: nginx answers JSON 502 with a request id")

        seconds = self.api.start()
        self.record_run()
        check(f"create-admin: exists {self.admin}" in self.api.log_since(), "second start did not find the admin")
        self.say(f"entrypoint.sh again: migrations no-op, admin exists; ready in {seconds:.1f}s, "
                 f"workers {self.api.workers()}")
        return "graceful stop and start"

    def step_persisted(self) -> str:
        if len(self.state["runs"]) < 2:
            return ("SKIP", "needs the restart step")
        checked = []
        token = self.state.get("admin_token") or self.admin_token()
        response = self.request("GET", "/api/currentuser", token)
        check(response.status_code == 200, f"a token from before the restart: {short(response)}")
        checked.append("tokens")
        if "lock_path" in self.state:
            path, winner = self.state["lock_path"], self.state["lock_winner"]
            response = self.request("GET", f"/api/locks/{quote(path)}", self.state["racer_tokens"][winner])
            check(response.status_code == 200 and mentions(response.json(), winner), f"lock lost: {short(response)}")
            loser = next(n for n in self.state["racer_tokens"] if n != winner)
            response = self.request("POST", "/api/locks", self.state["racer_tokens"][loser],
                                    json={"asset_path": path, "branch": "main"})
            check(response.status_code == 409, f"lock re-acquired by {loser}: {short(response)}")
            self.say(f"lock {path} still held by {winner} (another user: 409)")
            checked.append("lock")
        if "checkin_session" in self.state:
            response = self.request("GET", "/api/session", token)
            body = response.json()
            check(response.status_code == 200 and body.get("active") is True
                  and body["data"]["session_id"] == self.state["checkin_session"], f"check-in lost: {short(response)}")
            self.say(f"check-in {self.state['checkin_session']} still active")
            self.check_active_users()
            checked.append("check-in")
        if "page" in self.state:
            self.check_page_stats()
            checked.append("page data")
        if "app_session" in self.state:
            self.register_token(self.state["app_session"])
            checked.append("app session")
        return "still there after the restart: " + ", ".join(checked)

    def step_scheduler(self) -> str:
        import psycopg2

        time.sleep(3.5)  # a few 1-second intervals of the current run
        conn = psycopg2.connect(os.environ["DATABASE_URI"])
        try:
            for number, run in enumerate(self.state["runs"], 1):
                until = run.get("stopped_at") or utcnow()
                with conn.cursor() as cur:
                    cur.execute("SELECT host, pid, count(*) FROM job_runs WHERE started_at >= %s AND started_at < %s "
                                "GROUP BY host, pid", (run["ready_at"], until))
                    rows = cur.fetchall()
                runners = {(host, pid) for host, pid, _ in rows}
                total = sum(n for _, _, n in rows)
                check(total >= 2, f"run {number}: only {total} job runs between {run['ready_at']} and {until}")
                check(len(runners) == 1, f"run {number}: jobs ran in {len(runners)} processes: {rows}")
                pid = next(iter(runners))[1]
                check(pid in run["workers"], f"run {number}: pid {pid} is not one of the workers {run['workers']}")
                self.say(f"api run {number} (master {run['master']}, workers {run['workers']}): {total} job runs, "
                         f"all by worker {pid}")
        finally:
            conn.close()
        return f"the scheduler ran in exactly one worker in each of {len(self.state['runs'])} run(s)"

    # ------------------------------------------------------------------ driver

    def run(self) -> int:
        print(f"e2e: steps {', '.join(self.selected)}", flush=True)
        for name in self.selected:
            began = time.monotonic()
            try:
                outcome = getattr(self, f"step_{name}")()
                verdict, detail = outcome if isinstance(outcome, tuple) else ("PASS", outcome)
            except (Failed, AssertionError, KeyError, ValueError, requests.RequestException) as exc:
                verdict, detail = "FAIL", f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, Failed):
                    traceback.print_exc(limit=3)
            self.results.append((name, verdict))
            print(f"{verdict} {name}: {detail} ({time.monotonic() - began:.1f}s)", flush=True)
            if verdict == "FAIL" and name in ("entrypoint",):
                break
        if self.api.process is not None and self.api.process.poll() is None:
            rc, seconds = self.api.stop()
            print(f"e2e: api stopped (exit {rc}, {seconds:.1f}s)")
        failed = [n for n, v in self.results if v == "FAIL"]
        passed = sum(1 for _, v in self.results if v == "PASS")
        skipped = sum(1 for _, v in self.results if v == "SKIP")
        if failed:
            print(f"e2e: failed steps: {', '.join(failed)}")
        print(f"e2e: {passed} passed, {len(failed)} failed, {skipped} skipped")
        return 1 if failed or len(self.results) < len(self.selected) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nginx", required=True, help="nginx's URL (every smoke request goes here)")
    parser.add_argument("--api", required=True, help="gunicorn's own URL (only to wait for readiness)")
    parser.add_argument("--standin", required=True, help="the Alohomora stand-in's URL")
    parser.add_argument("--entrypoint", required=True)
    parser.add_argument("--work", required=True, help="e2e.sh's temp folder (logs, pid file)")
    parser.add_argument("--only", type=lambda text: [s.strip() for s in text.split(",") if s.strip()],
                        help=f"comma-separated subset of {','.join(OPTIONAL)}")
    args = parser.parse_args(argv)
    unknown = set(args.only or []) - set(OPTIONAL) - set(ALWAYS)
    if unknown:
        parser.error(f"unknown steps: {', '.join(sorted(unknown))}")
    suite = Suite(args)
    try:
        return suite.run()
    finally:
        if suite.api.process is not None and suite.api.process.poll() is None:
            suite.api.process.kill()


if __name__ == "__main__":
    sys.exit(main())
