"""Throwaway PostgreSQL, Redis and gunicorn processes for the fault tests (scripts/services.sh in Python).

Each runs from the installed binaries on a free loopback port, owned by the test that starts it, so a test
may stop, kill or restart it without touching the servers everybody else shares.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def _wait_until(check, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001, S110 - not up yet: any failure means "try again"
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up within {seconds:.0f} s")
        time.sleep(0.1)


class Postgres:
    """A PostgreSQL cluster in a temp folder (initdb), stopped and started at will by the test."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
        if not bins:
            raise RuntimeError("PostgreSQL binaries not found under /usr/lib/postgresql (apt-get install postgresql)")
        self.bin = Path(bins[-1])
        # Under /tmp, not pytest's tmp_path: the postgres user must be able to enter it.
        self.dir = Path(tempfile.mkdtemp(prefix="concierge-faults-pg-"))
        self.dir.chmod(0o755)
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def create(self) -> Postgres:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.start()
        return self

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "pg.log"), "-w", "start", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200")

    def stop(self, mode: str = "fast") -> None:
        """`fast`: PostgreSQL ends every session (what a restart or a failover does to the app)."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", mode, "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    """redis-server without persistence: a restart starts with no counters."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> Redis:
        import redis

        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        _wait_until(client.ping, "redis-server")
        client.close()
        return self

    def freeze(self) -> None:
        """SIGSTOP: connections are accepted by the kernel but never answered (a hung or cut-off Redis)."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


class Gunicorn:
    """The app under deploy/gunicorn.conf.py, as entrypoint.sh runs it (migrations, admin, then gunicorn)."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "gunicorn.log"
        self.env = {**os.environ, "FLASK_APP": "app", "GUNICORN_BIND": f"127.0.0.1:{self.port}",
                    "CONCIERGE_INSTANCE": str(workdir / "instance"), "CONCIERGE_CONFIG": str(workdir / "config.json"),
                    "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"), **env}
        self.process: subprocess.Popen | None = None

    def flask(self, *args: str) -> None:
        done = subprocess.run([str(ROOT / ".venv/bin/flask"), *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> Gunicorn:
        self.flask("db", "upgrade")
        self.flask("create-admin")
        log = open(self.log_path, "w")  # noqa: SIM115 - closed when the server stops
        self.process = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-c", "deploy/gunicorn.conf.py", "app:app"],
                                        cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        workers = int(self.env.get("WEB_CONCURRENCY", "2"))
        _wait_until(lambda: self.process.poll() is None and len(self.worker_pids()) == workers
                    and requests.get(self.url + "/healthz", timeout=2).ok, "gunicorn", 60)
        return self

    def __enter__(self) -> Gunicorn:
        """Started (and stopped again if it fails to start); stopped on leaving."""
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def worker_pids(self) -> set[int]:
        """The master's children (from /proc: no extra package)."""
        pids = set()
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # exited meanwhile
            if int(fields[1]) == self.process.pid:
                pids.add(int(Path(stat).parent.name))
        return pids

    def log(self, tail: int | None = 6000) -> str:
        text = self.log_path.read_text(errors="replace")
        return text[-tail:] if tail else text

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None
