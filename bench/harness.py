"""Benchmark harness: a real gunicorn server on a throwaway PostgreSQL database, and a load generator.

Figures are always reported next to the trivial endpoint (`GET /healthz`) measured in the same run on
the same server, because absolute numbers on a shared 2-core machine mean little; the ratio does.

    with BenchServer(workers=4) as server:
        server.flask("create-admin", "--username", "root", ...)
        trivial = load(server.url, Request("GET", "/healthz"), clients=16, seconds=5)
        ...
        print_table([trivial, ...])
"""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def redis_server_url() -> str:
    return os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class BenchServer:
    """gunicorn serving app:app on a fresh PostgreSQL database, dropped afterwards."""

    def __init__(self, workers: int = 4, threads: int = 4, env: dict[str, str] | None = None):
        import psycopg2

        self.workers, self.threads = workers, threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dbname = f"concierge_bench_{secrets.token_hex(4)}"
        server = urlsplit(postgres_server_url())
        self.admin_dsn = server._replace(path="/postgres").geturl().replace("postgresql+psycopg2", "postgresql")
        self.database_url = server._replace(path=f"/{self.dbname}").geturl()
        self.instance = Path(f"/tmp/{self.dbname}")
        self.instance.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "FLASK_APP": "app",
            "CONCIERGE_ENV": "production",
            "CONCIERGE_INSTANCE": str(self.instance),
            "CONCIERGE_CONFIG": str(self.instance / "config.json"),
            "DATABASE_URI": self.database_url,
            "JWT_SECRET_KEY": secrets.token_urlsafe(48),
            "LOGIN_RATE_LIMIT": "10000000 per minute",
            "PUBLIC_RATE_LIMIT": "10000000 per minute",
            "SCHEDULER_ENABLED": "false",
            "ACCESS_LOG": "false",
            "LOG_JSON": "false",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_THREADS": str(threads),
            **(env or {}),
        }
        self._psycopg2 = psycopg2
        self.process: subprocess.Popen | None = None

    def sql(self, statement: str, params: tuple | None = None, database: str | None = None):
        """Run SQL directly (setup data, or the raw-SQL side of a ratio)."""
        conn = self._psycopg2.connect(self.admin_dsn.rsplit("/", 1)[0] + "/" + (database or self.dbname))
        conn.autocommit = True
        with conn, conn.cursor() as cur:
            cur.execute(statement, params)
            rows = cur.fetchall() if cur.description else None
        conn.close()
        return rows

    def flask(self, *args: str) -> str:
        """Run a `flask` CLI command against the bench database."""
        done = subprocess.run([str(VENV_BIN / "flask"), *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, check=True)
        return done.stdout

    def python(self, code: str) -> str:
        """Run Python inside an app context of the bench database (bulk setup through the services)."""
        wrapped = "from app import create_app\napp = create_app()\nwith app.app_context():\n" + "\n".join(
            "    " + line for line in code.strip().splitlines())
        done = subprocess.run([str(VENV_BIN / "python"), "-c", wrapped], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, check=True)
        return done.stdout

    def __enter__(self) -> BenchServer:
        conn = self._psycopg2.connect(self.admin_dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{self.dbname}"')
        conn.close()
        self.flask("db", "upgrade")
        self.start()
        return self

    @property
    def log_path(self) -> Path:
        """gunicorn's and the app's logs (stdout and stderr; a file: a pipe nobody reads would block the workers)."""
        return self.instance / "gunicorn.log"

    def start(self) -> None:
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0  # this run's part
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([str(VENV_BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "app:app"],
                                            cwd=ROOT, env=self.env, stdout=log, stderr=log)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if request_once(self.url, Request("GET", "/healthz"))[0] == 200:
                    self._wait_until_workers_idle(deadline)
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not come up:\n" + self.log_path.read_text(errors="replace"))

    def _wait_until_workers_idle(self, deadline: float) -> None:
        """The first answer comes from the first worker that booted; the others may still be importing the
        app, which would eat the CPU of the first measurement. Wait until the same workers used no CPU for
        half a second. gunicorn decides how many there are (deploy/gunicorn.conf.py runs one when rate
        limits are in memory), so `self.workers` is what it started, not what was asked for."""
        previous: dict[str, int] = {}
        while time.time() < deadline:
            time.sleep(0.5)
            children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True,
                                      text=True).stdout.split()
            used = {pid: _cpu_ticks(pid) for pid in children}
            if children and used == previous:
                self.workers = len(children)
                return
            previous = used

    @property
    def topology(self) -> str:
        """How the server runs, for the figures' header."""
        limits = "memory" if self.env.get("RATELIMIT_STORAGE_URI", "memory://").startswith("memory") else "Redis"
        return (f"gunicorn {self.workers} worker{'s' if self.workers != 1 else ''} x {self.threads} threads "
                f"(rate limits in {limits}), PostgreSQL")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None
            self.report_server_errors()

    def report_server_errors(self) -> None:
        """A figure measured while the server failed requests is no figure: say so, with the first traceback."""
        with open(self.log_path, "rb") as log:
            log.seek(self._log_start)
            text = log.read().decode(errors="replace")
        errors = [line for line in text.splitlines()
                  if " ERROR " in line or "[ERROR]" in line or line.startswith("Traceback")]
        if errors:
            first = text.find("Traceback")
            print(f"\n!! the server logged {len(errors)} errors (log: {self.log_path}); the first:\n"
                  f"{text[first:first + 3000] if first >= 0 else errors[0]}", file=sys.stderr)

    def __exit__(self, *exc) -> None:
        self.stop()
        conn = self._psycopg2.connect(self.admin_dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
        conn.close()


def _cpu_ticks(pid: str) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return -1
    return int(fields[11]) + int(fields[12])  # utime + stime


@dataclass
class Request:
    method: str
    path: str
    body: object | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes | None, dict[str, str]]:
        headers = dict(self.headers)
        if self.body is None:
            return None, headers
        headers.setdefault("Content-Type", "application/json")
        return json.dumps(self.body).encode(), headers


def request_once(base_url: str, req: Request) -> tuple[int, bytes]:
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    body, headers = req.encoded()
    conn.request(req.method, req.path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


class OpenConnection:
    """One keep-alive HTTP connection, for latency measured next to SQL run over one open database
    connection: neither side pays for connecting."""

    def __init__(self, base_url: str):
        parts = urlsplit(base_url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)

    def request(self, req: Request) -> tuple[int, bytes]:
        body, headers = req.encoded()
        self.conn.request(req.method, req.path, body=body, headers=headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def close(self) -> None:
        self.conn.close()


# A request factory gets (client index, request number) and returns the request to send; lets each
# client lock its own paths or use its own token.
RequestFactory = Callable[[int, int], Request]


def _client(base_url: str, make: RequestFactory | Request, index: int, seconds: float, out) -> None:
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    latencies, statuses, n = [], {}, 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        req = make(index, n) if callable(make) else make
        body, headers = req.encoded()
        started = time.perf_counter()
        try:
            conn.request(req.method, req.path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            status = 0
        latencies.append(time.perf_counter() - started)
        statuses[status] = statuses.get(status, 0) + 1
        n += 1
    out.put((latencies, statuses))


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    rounds: list[float] = field(default_factory=list)  # requests/s of each round (interleaved())

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _drive(base_url: str, make: RequestFactory | Request, clients: int, seconds: float):
    """Latencies, statuses and elapsed seconds of `clients` processes (keep-alive) sending for `seconds`."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_client, args=(base_url, make, i, seconds, out)) for i in range(clients)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    latencies = [lat for lats, _ in results for lat in lats]
    statuses: dict[int, int] = {}
    for _, st in results:
        for code, count in st.items():
            statuses[code] = statuses.get(code, 0) + count
    return latencies, statuses, elapsed


def _result(name: str, latencies: list[float], statuses: dict[int, int], elapsed: float,
            rounds: list[float] | None = None) -> Result:
    latencies = sorted(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
    return Result(name, len(latencies), elapsed, (statistics.median(latencies) if latencies else 0) * 1000,
                  p99 * 1000, statuses, rounds or [])


def load(base_url: str, make: RequestFactory | Request, *, name: str, clients: int = 16,
         seconds: float = 5.0) -> Result:
    """Drive the server from `clients` processes (keep-alive connections) for `seconds`."""
    return _result(name, *_drive(base_url, make, clients, seconds))


def interleaved(base_url: str, cases: dict[str, RequestFactory | Request], *, clients: int = 16,
                seconds: float = 2.0, rounds: int = 5) -> list[Result]:
    """Each case driven `rounds` times for `seconds`, the cases taking turns: a ratio between two of them
    then compares the same minutes of a shared machine (background work such as autovacuum, a checkpoint
    or another process lands on every case alike, not on whichever ran during it). Each Result also keeps
    its per-round requests/s (`Result.rounds`)."""
    runs: dict[str, list] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, make in cases.items():
            runs[name].append(_drive(base_url, make, clients, seconds))
    results = []
    for name, parts in runs.items():
        statuses: dict[int, int] = {}
        for _, st, _ in parts:
            for code, count in st.items():
                statuses[code] = statuses.get(code, 0) + count
        results.append(_result(name, [lat for lats, _, _ in parts for lat in lats], statuses,
                               sum(elapsed for _, _, elapsed in parts),
                               [len(lats) / elapsed for lats, _, elapsed in parts]))
    return results


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of fn() in milliseconds."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def round_ratios(result: Result, baseline: Result) -> list[float]:
    """The ratio to the baseline within each interleaved round."""
    return [r / b for r, b in zip(result.rounds, baseline.rounds, strict=True) if b]


def print_table(results: list[Result], baseline: Result) -> None:
    """Requests/s, latency and the ratio to the trivial endpoint measured in the same run (with interleaved
    rounds: also the lowest and highest ratio of a single round)."""
    print(f"{'endpoint':<36} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs trivial':>10} {'rounds':>9}  statuses")
    for r in [baseline, *results]:
        ratio = r.rps / baseline.rps if baseline.rps else 0
        spread = round_ratios(r, baseline) if r.rounds and baseline.rounds else []
        span = f"{min(spread):.0%}-{max(spread):.0%}" if spread and r is not baseline else ""
        print(f"{r.name:<36} {r.rps:>9.1f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {ratio:>9.0%} {span:>9}  {r.statuses}")
    sys.stdout.flush()
