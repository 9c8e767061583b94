"""entrypoint.sh run for real (gunicorn replaced by a stub that shows how it was exec'd)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run_entrypoint(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    stub = tmp_path / "bin"
    stub.mkdir(exist_ok=True)
    (stub / "gunicorn").write_text('#!/bin/sh\necho "gunicorn stub pid $$: $*"\n')
    (stub / "gunicorn").chmod(0o755)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("INITIAL_ADMIN", "DATABASE", "MAIL_"))}
    environ.update({
        "PATH": f"{stub}:{ROOT / '.venv/bin'}:{os.environ['PATH']}",
        "CONCIERGE_INSTANCE": str(tmp_path / "instance"), "CONCIERGE_CONFIG": str(tmp_path / "config.json"),
        "JWT_SECRET_KEY": "e" * 40, "LOG_JSON": "false", "ARGON2_MEMORY_KIB": "8", "ARGON2_TIME_COST": "1",
        **env,
    })
    return subprocess.run([str(ROOT / "entrypoint.sh")], cwd=tmp_path, env=environ, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.slow
def test_entrypoint_migrates_creates_admin_and_execs_gunicorn(tmp_path):
    env = {"DATABASE_URI": f"sqlite:///{tmp_path / 'e.db'}", "MAIL_ENABLED": "yes", "INITIAL_ADMIN_USER": "boss",
           "INITIAL_ADMIN_EMAIL": "boss@example.com", "INITIAL_ADMIN_PASSWORD": "boss-password-1"}
    first = _run_entrypoint(tmp_path, **env)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert "create-admin: created boss" in out
    # MAIL_ENABLED: test-email runs when this build has it, and is skipped with a message when it does not
    assert "entrypoint: flask test-email" in out or "has no 'flask test-email': skipped" in out
    # exec'd from the project folder with the deploy config (the stub echoes its arguments)
    assert out.strip().splitlines()[-1].endswith("-c deploy/gunicorn.conf.py app:app")


def test_entrypoint_gives_up_when_the_database_never_answers(tmp_path):
    done = _run_entrypoint(tmp_path, DATABASE_URI="postgresql://nobody@127.0.0.1:1/none", DB_WAIT_SECONDS="1")
    assert done.returncode != 0
    assert "the database did not answer" in done.stderr
    assert "gunicorn stub" not in done.stdout
