"""The real `git lfs` client (Debian package git-lfs) against a live server: two users, two clones."""

import json
import os
import shutil
import subprocess
from urllib.parse import quote

import pytest
import requests

from tests.conftest import PASSWORD

pytestmark = pytest.mark.skipif(shutil.which("git") is None or subprocess.run(
    ["git", "lfs", "version"], capture_output=True).returncode != 0, reason="git-lfs is not installed")


class Clone:
    """A working copy whose lfs.url points at the live server, with its user's credentials stored."""

    def __init__(self, root, name, server_url):
        self.dir = root / name
        self.dir.mkdir()
        home = root / f"home-{name}"
        home.mkdir()
        (home / ".git-credentials").write_text(
            f"http://{name}:{quote(PASSWORD)}@{server_url.removeprefix('http://')}\n")
        self.env = {**os.environ, "HOME": str(home), "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1",
                    "GIT_ASKPASS": "/bin/false"}
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", name)
        self.git("config", "user.email", f"{name}@example.com")
        self.git("config", "credential.helper", f"store --file={home / '.git-credentials'}")
        self.git("lfs", "install", "--local")
        self.git("remote", "add", "origin", f"{server_url}/repo.git")
        self.git("config", "lfs.url", f"{server_url}/api/lfs")
        self.git("config", f"lfs.{server_url}/api/lfs.locksverify", "true")
        (self.dir / "Content").mkdir()
        (self.dir / "Content" / "Hero.uasset").write_bytes(b"\x00binary")
        self.git("add", ".")
        self.git("commit", "-q", "-m", "assets")

    def git(self, *args, check=True):
        done = subprocess.run(["git", *args], cwd=self.dir, env=self.env, capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done


def test_git_lfs_lock_locks_verify_unlock(live_server, factory, tmp_path, alice_headers):
    factory.user("bob")
    alice = Clone(tmp_path, "alice", live_server.url)
    bob = Clone(tmp_path, "bob", live_server.url)

    locked = alice.git("lfs", "lock", "Content/Hero.uasset")
    assert "Locked Content/Hero.uasset" in locked.stdout

    refused = bob.git("lfs", "lock", "Content/Hero.uasset", check=False)
    assert refused.returncode != 0
    assert "already locked by alice" in refused.stderr + refused.stdout

    listed = json.loads(bob.git("lfs", "locks", "--json").stdout)
    assert [(lk["path"], lk["owner"]["name"]) for lk in listed] == [("Content/Hero.uasset", "alice")]
    lock_id = listed[0]["id"]

    verified = alice.git("lfs", "locks", "--verify")
    assert verified.stdout.startswith("O Content/Hero.uasset\talice")  # O = ours
    theirs = bob.git("lfs", "locks", "--verify")
    assert theirs.stdout.strip().startswith("Content/Hero.uasset\talice")

    rest = requests.get(f"{live_server.url}/api/locks", headers=alice_headers, timeout=10).json()["data"]
    assert [(i["asset_path"], i["owner"], str(i["id"])) for i in rest["items"]] == \
        [("Content/Hero.uasset", "alice", lock_id)]

    not_yours = bob.git("lfs", "unlock", "Content/Hero.uasset", check=False)
    assert not_yours.returncode != 0
    assert "alice" in not_yours.stderr + not_yours.stdout

    unlocked = alice.git("lfs", "unlock", "Content/Hero.uasset")
    assert "Unlocked Content/Hero.uasset" in unlocked.stdout
    assert json.loads(bob.git("lfs", "locks", "--json").stdout) == []
    assert requests.get(f"{live_server.url}/api/locks", headers=alice_headers, timeout=10).json()["data"]["total"] == 0
