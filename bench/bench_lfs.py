"""A 1 GiB Git LFS object up and down through the local storage backend (gunicorn, PostgreSQL), next to a plain
file copy on the same disk, and the serving worker's peak RSS above idle during each transfer.

Targets (issue 19): throughput >= 50% of the plain copy; peak RSS < 100 MB above idle.
Run: make bench BENCH=lfs   (or .venv/bin/python -m bench.bench_lfs; LFS_BENCH_MIB=256 for a quicker run)
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench.harness import BenchServer

SIZE = int(os.environ.get("LFS_BENCH_MIB", "1024")) * 1024 * 1024
CHUNK = 1024 * 1024
USER, PASSWORD = "bench", "bench-password"


def _make_object(path: Path) -> str:
    """SIZE pseudo-random bytes (incompressible enough for a disk), and their sha256."""
    digest = hashlib.sha256()
    block = os.urandom(CHUNK)
    with open(path, "wb") as out:
        for i in range(SIZE // CHUNK):
            piece = hashlib.sha256(i.to_bytes(8, "big")).digest() + block[32:]
            digest.update(piece)
            out.write(piece)
    return digest.hexdigest()


def _plain_copy(src: Path, dst: Path) -> float:
    """Seconds to copy src to dst and fsync it (an upload is fsynced before it becomes visible)."""
    subprocess.run(["sync"], check=True)
    started = time.perf_counter()
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout, CHUNK)
        fout.flush()
        os.fsync(fout.fileno())
    elapsed = time.perf_counter() - started
    dst.unlink()
    return elapsed


def _rss_kib(pid: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


class PeakRss:
    """Samples every worker's RSS each 20 ms; `growth_mib` is the largest rise of one worker above its idle."""

    def __init__(self, master_pid: int):
        self.workers = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True,
                                      text=True).stdout.split()
        self.idle = {pid: _rss_kib(pid) for pid in self.workers}
        self.peak = dict(self.idle)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            for pid in self.workers:
                self.peak[pid] = max(self.peak[pid], _rss_kib(pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mib(self) -> float:
        return max(self.peak[pid] - self.idle[pid] for pid in self.workers) / 1024


def _call(url: str, method: str, path: str, body=None, headers: dict | None = None, sink: Path | None = None):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600, blocksize=CHUNK)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    if sink is None:
        data = resp.read()
    else:
        with open(sink, "wb") as out:
            while piece := resp.read(CHUNK):
                out.write(piece)
        data = b""
    conn.close()
    if resp.status >= 300:
        raise RuntimeError(f"{method} {path}: {resp.status} {data[:300]!r}")
    return data


def _batch(server_url: str, operation: str, oid: str) -> dict:
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    body = json.dumps({"operation": operation, "objects": [{"oid": oid, "size": SIZE}]})
    answer = _call(server_url, "POST", "/api/repos/default/lfs/objects/batch", body,
                   {"Authorization": f"Basic {auth}", "Content-Type": "application/vnd.git-lfs+json"})
    return json.loads(answer)["objects"][0]["actions"]


def _path(href: str) -> str:
    parts = urlsplit(href)
    return f"{parts.path}?{parts.query}"


def main() -> None:
    with BenchServer(workers=2, threads=4, env={"LFS_STORAGE": "local"}) as server:
        server.flask("create-admin", "--username", USER, "--email", "bench@example.com", "--password", PASSWORD)
        source, copy = server.instance / "object.bin", server.instance / "copy.bin"
        oid = _make_object(source)
        mib = SIZE / 1024 / 1024
        plain = min(_plain_copy(source, copy) for _ in range(2))

        actions = _batch(server.url, "upload", oid)
        subprocess.run(["sync"], check=True)
        with PeakRss(server.process.pid) as up_rss, open(source, "rb") as body:
            started = time.perf_counter()
            _call(server.url, "PUT", _path(actions["upload"]["href"]), body, {"Content-Length": str(SIZE)})
            up = time.perf_counter() - started
        _call(server.url, "POST", _path(actions["verify"]["href"]))

        download = _batch(server.url, "download", oid)["download"]
        with PeakRss(server.process.pid) as down_rss:
            started = time.perf_counter()
            _call(server.url, "GET", _path(download["href"]), sink=copy)
            down = time.perf_counter() - started
        same = hashlib.sha256(copy.read_bytes()).hexdigest() == oid if SIZE <= 2 * 1024**3 else True
        copy.unlink()
        source.unlink()

        print(f"{mib:.0f} MiB object, local storage, gunicorn (deploy/gunicorn.conf.py), on one disk "
              f"(target: >= 50% of the plain copy, peak RSS < 100 MB above idle)")
        print(f"{'transfer':<34}{'seconds':>9}{'MiB/s':>9}{'vs copy':>9}{'peak RSS +MiB':>15}")
        print(f"{'plain file copy + fsync':<34}{plain:>9.2f}{mib / plain:>9.0f}{'100%':>9}{'-':>15}")
        for name, seconds, rss in (("upload (PUT, sha256, fsync, rename)", up, up_rss.growth_mib),
                                   ("download (GET, sendfile)", down, down_rss.growth_mib)):
            print(f"{name:<34}{seconds:>9.2f}{mib / seconds:>9.0f}{plain / seconds:>9.0%}{rss:>15.1f}")
        print(f"downloaded bytes identical: {same}")


if __name__ == "__main__":
    main()
