"""A 1 GiB Git LFS object up and down through the local storage backend (gunicorn, PostgreSQL), next to a plain
file copy on the same disk, and the serving worker's peak RSS above idle during each transfer.

Targets (issue 19): throughput >= 50% of the plain copy; peak RSS < 100 MB above idle.
Run: make bench BENCH=lfs   (or .venv/bin/python -m bench.bench_lfs; LFS_BENCH_MIB=256 for a quicker run,
LFS_BENCH_ROUNDS=3 for more rounds)

What each side does (all on the same disk, the source file in the page cache, `sync` before each step):
- plain copy: one Python process reads the file and writes a new one, 1 MiB at a time, then fsync;
- upload: this process sends the file (http.client, 1 MiB blocks) in a PUT to gunicorn over loopback; the
  worker receives it, hashes it (sha256), writes it, fsyncs and renames it into place, i.e. the copy's work
  plus sha256 and the network;
- download: the worker sends the stored file with sendfile(); this process receives it 1 MiB at a time
  (the same read-and-write loop as the copy) into a new file, not fsynced (git-lfs does not fsync either).
The machine is shared, so each round runs the copy, the upload and the download back to back, and the
table shows the best round of each; `rounds` is each round's ratio to that round's copy.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.harness import BenchServer

SIZE = int(os.environ.get("LFS_BENCH_MIB", "1024")) * 1024 * 1024
ROUNDS = int(os.environ.get("LFS_BENCH_ROUNDS", "2"))
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
        while piece := fin.read(CHUNK):
            fout.write(piece)
        fout.flush()
        os.fsync(fout.fileno())
    elapsed = time.perf_counter() - started
    dst.unlink()
    return elapsed


def _cpu_seconds(pid: str) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _rss_kib(pid: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


class PeakRss:
    """Samples every worker's RSS each 20 ms; `growth_mib` is the largest rise of one worker above its idle,
    `cpu_seconds` the CPU time (user + system) the workers used meanwhile."""

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
        self._cpu = sum(_cpu_seconds(pid) for pid in self.workers)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_seconds = sum(_cpu_seconds(pid) for pid in self.workers) - self._cpu

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


def _batch(server_url: str, operation: str, oid: str, repo: str) -> dict:
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    body = json.dumps({"operation": operation, "objects": [{"oid": oid, "size": SIZE}]})
    answer = _call(server_url, "POST", f"/api/repos/{repo}/lfs/objects/batch", body,
                   {"Authorization": f"Basic {auth}", "Content-Type": "application/vnd.git-lfs+json"})
    return json.loads(answer)["objects"][0]["actions"]


def _path(href: str) -> str:
    parts = urlsplit(href)
    return f"{parts.path}?{parts.query}"


@dataclass
class Round:
    copy: float
    up: float
    down: float
    up_rss: PeakRss
    down_rss: PeakRss


def _round(server: BenchServer, source: Path, copy: Path, oid: str, n: int) -> tuple[Round, bool]:
    """A plain copy, then the object up into a new repository and down again, then the repository deleted.

    No timed step deletes or truncates a file: the disk is mounted with `discard` on some machines, where
    freeing 1 GiB takes seconds. So the object is removed (with its repository) and the downloaded file
    deleted after each round, outside the timings."""
    plain = _plain_copy(source, copy)
    repo = f"bench-{n}"
    server.flask("repos", "create", repo)
    actions = _batch(server.url, "upload", oid, repo)
    subprocess.run(["sync"], check=True)
    with PeakRss(server.process.pid) as up_rss, open(source, "rb") as body:
        started = time.perf_counter()
        _call(server.url, "PUT", _path(actions["upload"]["href"]), body, {"Content-Length": str(SIZE)})
        up = time.perf_counter() - started
    _call(server.url, "POST", _path(actions["verify"]["href"]))

    download = _batch(server.url, "download", oid, repo)["download"]
    subprocess.run(["sync"], check=True)
    with PeakRss(server.process.pid) as down_rss:
        started = time.perf_counter()
        _call(server.url, "GET", _path(download["href"]), sink=copy)
        down = time.perf_counter() - started
    same = _sha256(copy) == oid
    copy.unlink()
    server.flask("repos", "delete", repo)
    return Round(plain, up, down, up_rss, down_rss), same


def main() -> None:
    with BenchServer(workers=2, threads=4, env={"LFS_STORAGE": "local"}) as server:
        server.flask("create-admin", "--username", USER, "--email", "bench@example.com", "--password", PASSWORD)
        source, copy = server.instance / "object.bin", server.instance / "copy.bin"
        oid = _make_object(source)
        mib = SIZE / 1024 / 1024
        done = [_round(server, source, copy, oid, n) for n in range(ROUNDS)]
        rounds, same = [r for r, _ in done], all(ok for _, ok in done)
        source.unlink()

        plain = min(r.copy for r in rounds)
        print(f"{mib:.0f} MiB object, local storage, gunicorn (deploy/gunicorn.conf.py), on one disk, best of "
              f"{ROUNDS} rounds (target: >= 50% of the plain copy, peak RSS < 100 MB above idle)")
        print(f"{'transfer':<36}{'seconds':>8}{'MiB/s':>7}{'vs copy':>8}  {'rounds':<14}{'RSS +MiB':>9}"
              f"{'worker CPU s':>13}")
        print(f"{'plain copy (read, write, fsync)':<36}{plain:>8.2f}{mib / plain:>7.0f}{'100%':>8}  {'':<14}"
              f"{'-':>9}{'-':>13}")
        for name, seconds, rss in (("upload (PUT, sha256, fsync, rename)", lambda r: r.up, lambda r: r.up_rss),
                                   ("download (GET, sendfile)", lambda r: r.down, lambda r: r.down_rss)):
            best = min(seconds(r) for r in rounds)
            each = "/".join(f"{r.copy / seconds(r):.0%}" for r in rounds)
            peak = max(rss(r).growth_mib for r in rounds)
            cpu = min(rss(r).cpu_seconds for r in rounds)
            print(f"{name:<36}{best:>8.2f}{mib / best:>7.0f}{plain / best:>8.0%}  {each:<14}{peak:>9.1f}{cpu:>13.2f}")
        print(f"downloaded bytes identical: {same}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as src:
        buffer = memoryview(bytearray(CHUNK))
        while n := src.readinto(buffer):
            digest.update(buffer[:n])
    return digest.hexdigest()


if __name__ == "__main__":
    main()
