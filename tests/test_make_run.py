"""`make run`'s script on the embedded default: migrates, creates the admin, serves on PORT, runs jobs."""

import json
import os
import signal
import sqlite3
import subprocess
import time

import pytest
import requests

from tests.conftest import LANE, PROJECT_ROOT, free_port


@pytest.mark.slow
@pytest.mark.skipif(LANE != "sqlite", reason="make run is the embedded default (SQLite); once is enough")
def test_run_script_serves_with_initial_admin_and_scheduler(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "CONCIERGE_INSTANCE": str(tmp_path / "instance"),
        "CONCIERGE_CONFIG": str(tmp_path / "config.json"),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "INITIAL_ADMIN_USER": "boss",
        "INITIAL_ADMIN_EMAIL": "boss@example.com",
        "INITIAL_ADMIN_PASSWORD": "boss-password-123",
        "WEB_CONCURRENCY": "2",
        "SCHEDULER_INTERVAL_SECONDS": "1",
        "SCHEDULER_STANDBY_POLL_SECONDS": "0.5",
        "ARGON2_MEMORY_KIB": "1024",
        "ACCESS_LOG": "false",
    }
    for name in ("DATABASE_URI", "RATELIMIT_STORAGE_URI", "JWT_SECRET_KEY", "CONCIERGE_ENV"):
        env.pop(name, None)
    proc = subprocess.Popen(["scripts/run.sh"], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not up yet, or slow on a busy machine
                time.sleep(0.2)
        login = requests.post(f"{base}/api/login", json={"username": "boss", "password": "boss-password-123"})
        assert login.status_code == 200, login.text
        bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
        me = requests.get(f"{base}/api/currentuser", headers=bearer)
        assert me.json()["data"]["is_admin"] is True
        # config.json is created with App1's keys, the secret generated into the instance folder
        assert set(json.loads((tmp_path / "config.json").read_text())) == {"alohomora", "app"}
        assert (tmp_path / "instance" / "jwt_secret").exists()
        # In-memory limits are exact under make run even when more workers are asked for (one process with
        # threads): 20 wrong passwords over fresh connections, and only `ratelimit.login` (10) are checked.
        codes = [requests.post(f"{base}/api/login", json={"username": "boss", "password": f"wrong-{i}"}).status_code
                 for i in range(20)]
        assert codes == [401] * 10 + [429] * 10
        public = [requests.post(f"{base}/api/health", json={"app": "a"}).status_code for _ in range(130)]
        assert public.count(200) == 120 and public.count(429) == 10
        # the in-process scheduler ran jobs, in the one worker
        time.sleep(3)
        db = sqlite3.connect(tmp_path / "instance" / "concierge.db")
        pids = {row[0] for row in db.execute("SELECT pid FROM job_runs")}
        db.close()
        assert len(pids) == 1
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
