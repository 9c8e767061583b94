"""The production path's cost: nginx (deploy/nginx.conf) in front of gunicorn, and a /metrics scrape.

gunicorn 4 workers on PostgreSQL (bench/harness.py), nginx rendered from the template into a temp folder.
Run: make bench BENCH=deploy   (needs nginx: `apt-get install nginx`; skipped without it)
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import ROOT, BenchServer, Request, free_port, load, print_table, request_once

sys.path.insert(0, str(ROOT / "scripts"))
from render_template import render  # noqa: E402

CLIENTS, SECONDS = 16, 5


def start_nginx(upstream_port: int, folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    values = {"NGINX_LISTEN": f"127.0.0.1:{port}", "API_UPSTREAM": f"127.0.0.1:{upstream_port}",
              "NGINX_CLIENT_MAX_BODY_SIZE": "1m", "NGINX_RUN_DIR": str(folder),
              "NGINX_ACCESS_LOG": str(folder / "access.log"), "NGINX_ERROR_LOG": str(folder / "error.log"),
              "METRICS_ALLOW_FROM": "127.0.0.1"}
    conf = folder / "nginx.conf"
    conf.write_text(render((ROOT / "deploy/nginx.conf").read_text(), list(values), values))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    process = subprocess.Popen([nginx, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(conf),
                                "-g", "daemon off;"])
    url = f"http://127.0.0.1:{port}"
    for _ in range(50):
        try:
            if request_once(url, Request("GET", "/healthz"))[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    return process, url


def main() -> None:
    if not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
        print("bench deploy: nginx is not installed (apt-get install nginx): skipped")
        return
    folder = Path(tempfile.mkdtemp(prefix="concierge-bench-nginx-"))
    folder.chmod(0o755)
    with BenchServer(workers=4, env={"TRUSTED_PROXIES": "1"}) as server:
        nginx, via_nginx = start_nginx(server.port, folder)
        try:
            trivial = load(server.url, Request("GET", "/healthz"), name="GET /healthz (direct, trivial)",
                           clients=CLIENTS, seconds=SECONDS)
            results = [
                load(via_nginx, Request("GET", "/healthz"), name="GET /healthz through nginx", clients=CLIENTS,
                     seconds=SECONDS),
                load(via_nginx, Request("GET", "/readyz"), name="GET /readyz through nginx (DB ping)",
                     clients=CLIENTS, seconds=SECONDS),
                load(server.url, Request("GET", "/metrics"), name="GET /metrics (4-worker scrape)", clients=4,
                     seconds=SECONDS),
            ]
        finally:
            nginx.terminate()
            nginx.wait(10)
            shutil.rmtree(folder, ignore_errors=True)
        print(f"gunicorn 4 workers x 4 threads, PostgreSQL, nginx (deploy/nginx.conf), {CLIENTS} clients, "
              f"{SECONDS}s each (/metrics: 4 clients)")
        print_table(results, trivial)


if __name__ == "__main__":
    main()
