"""Acceptance: the real `git` and `git-lfs` clients against a live server, on both storage backends."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from models import LfsObject
from services import repos
from tests.conftest import PASSWORD, LiveServer
from tests.lfs.conftest import blob

pytestmark = pytest.mark.skipif(shutil.which("git") is None or subprocess.run(
    ["git", "lfs", "version"], capture_output=True).returncode != 0, reason="git-lfs is not installed")


@pytest.fixture
def server(lfs_app):
    with LiveServer(lfs_app) as live:
        yield live


def _git(cwd: Path, env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


class Account:
    """One person's HOME (credentials stored for the server) and their clones."""

    def __init__(self, root: Path, name: str, server_url: str, secret: str = PASSWORD):
        self.name, self.root = name, root
        home = root / f"home-{name}"
        home.mkdir()
        creds = home / ".git-credentials"
        creds.write_text(f"http://{name}:{quote(secret)}@{server_url.removeprefix('http://')}\n")
        self.env = {**os.environ, "HOME": str(home), "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1",
                    "GIT_ASKPASS": "/bin/false", "GIT_LFS_SKIP_SMUDGE": "0"}
        for key, value in (("user.name", name), ("user.email", f"{name}@example.com"),
                           ("credential.helper", f"store --file={creds}"), ("init.defaultBranch", "main")):
            _git(root, self.env, "config", "--global", key, value)
        _git(root, self.env, "lfs", "install")

    def git(self, clone: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _git(clone, self.env, *args, check=check)


def _origin(root: Path, name: str = "origin.git") -> Path:
    bare = root / name
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    return bare


def _first_clone(who: Account, bare: Path, lfs_url: str, locksverify: bool = True) -> Path:
    """A working copy that tracks *.uasset with LFS and names the server in a committed .lfsconfig."""
    work = who.root / f"work-{who.name}-{bare.name}"
    who.git(who.root, "clone", "-q", str(bare), str(work))
    (work / ".lfsconfig").write_text(f"[lfs]\n\turl = {lfs_url}\n")  # every clone finds the server
    # git-lfs reads locksverify only from git config (an .lfsconfig value is ignored as unsafe)
    who.git(work, "config", f"lfs.{lfs_url}.locksverify", "true" if locksverify else "false")
    who.git(work, "lfs", "track", "*.uasset")
    (work / "Content").mkdir()
    return work


def _clone(who: Account, bare: Path) -> Path:
    work = who.root / f"work-{who.name}-{bare.name}"
    who.git(who.root, "clone", "-q", str(bare), str(work))
    lfs_url = who.git(work, "config", "-f", ".lfsconfig", "lfs.url").stdout.strip()
    who.git(work, "config", f"lfs.{lfs_url}.locksverify", "true")
    return work


def test_push_then_clone_and_pull_gets_identical_bytes(server, lfs_factory, tmp_path, backend):
    lfs_factory.user("alice")
    lfs_factory.user("bob")
    bare = _origin(tmp_path)
    alice = Account(tmp_path, "alice", server.url)
    work = _first_clone(alice, bare, f"{server.url}/api/repos/default/lfs")
    data, oid = blob(3 * 1024 * 1024 + 17, b"hero")
    (work / "Content" / "Hero.uasset").write_bytes(data)
    alice.git(work, "add", ".")
    alice.git(work, "commit", "-q", "-m", "hero")
    alice.git(work, "push", "-q", "origin", "main")
    assert LfsObject.query.one().oid == oid

    bob = Account(tmp_path, "bob", server.url)
    bob.env["GIT_LFS_SKIP_SMUDGE"] = "1"  # a pointer first, then `git lfs pull`
    copy = _clone(bob, bare)
    assert (copy / "Content" / "Hero.uasset").read_bytes().startswith(b"version https://git-lfs")
    bob.git(copy, "lfs", "pull")
    assert (copy / "Content" / "Hero.uasset").read_bytes() == data


def test_locks_across_two_accounts_and_push_time_verification(server, lfs_factory, tmp_path, backend):
    lfs_factory.user("alice")
    lfs_factory.user("bob")
    bare = _origin(tmp_path)
    url = f"{server.url}/api/repos/default/lfs"
    alice, bob = Account(tmp_path, "alice", server.url), Account(tmp_path, "bob", server.url)
    work = _first_clone(alice, bare, url)
    (work / "Content" / "Hero.uasset").write_bytes(b"v1" * 1000)
    alice.git(work, "add", ".")
    alice.git(work, "commit", "-q", "-m", "v1")
    alice.git(work, "push", "-q", "origin", "main")
    theirs = _clone(bob, bare)

    assert "Locked Content/Hero.uasset" in alice.git(work, "lfs", "lock", "Content/Hero.uasset").stdout
    refused = bob.git(theirs, "lfs", "lock", "Content/Hero.uasset", check=False)
    assert refused.returncode != 0 and "already locked by alice" in refused.stdout + refused.stderr
    # Plain `git lfs locks` (what the Unreal Git plugin parses): path<TAB>owner<TAB>ID:n
    listed = bob.git(theirs, "lfs", "locks").stdout.strip()
    assert re.fullmatch(r"Content/Hero\.uasset\s*\talice\s*\tID:\d+", listed), listed

    (theirs / "Content" / "Hero.uasset").write_bytes(b"bob's change" * 100)
    bob.git(theirs, "commit", "-q", "-am", "bob edits a locked file")
    halted = bob.git(theirs, "push", "origin", "main", check=False)
    assert halted.returncode != 0 and "Content/Hero.uasset" in halted.stdout + halted.stderr

    (work / "Content" / "Hero.uasset").write_bytes(b"v2" * 1000)
    alice.git(work, "commit", "-q", "-am", "v2 by the holder")
    alice.git(work, "push", "-q", "origin", "main")  # the holder's push passes

    assert "Unlocked Content/Hero.uasset" in alice.git(work, "lfs", "unlock", "Content/Hero.uasset").stdout
    assert bob.git(theirs, "lfs", "locks").stdout.strip() == ""


def test_lock_fifty_files_in_one_command_and_unlock_by_path(server, lfs_factory, tmp_path, backend):
    lfs_factory.user("alice")
    bare = _origin(tmp_path)
    alice = Account(tmp_path, "alice", server.url)
    work = _first_clone(alice, bare, f"{server.url}/api/lfs", locksverify=False)
    paths = [f"Content/Asset{i:02d}.uasset" for i in range(50)]
    for path in paths:
        (work / path).write_bytes(path.encode())
    alice.git(work, "add", ".")
    alice.git(work, "commit", "-q", "-m", "fifty")
    alice.git(work, "lfs", "lock", *paths)
    lines = alice.git(work, "lfs", "locks").stdout.strip().splitlines()
    assert len(lines) == 50 and all("\talice" in line for line in lines)
    assert "Unlocked Content/Asset07.uasset" in alice.git(work, "lfs", "unlock", "Content/Asset07.uasset").stdout
    assert len(alice.git(work, "lfs", "locks").stdout.strip().splitlines()) == 49


def test_the_same_path_is_locked_independently_in_two_repositories(server, lfs_factory, tmp_path, backend):
    lfs_factory.user("alice")
    lfs_factory.user("bob")
    repos.create("art")
    repos.create("code")
    alice, bob = Account(tmp_path, "alice", server.url), Account(tmp_path, "bob", server.url)
    art = _first_clone(alice, _origin(tmp_path, "art.git"), f"{server.url}/api/repos/art/lfs")
    code = _first_clone(bob, _origin(tmp_path, "code.git"), f"{server.url}/api/repos/code/lfs")
    for who, work in ((alice, art), (bob, code)):
        (work / "Content" / "Hero.uasset").write_bytes(b"hero")
        who.git(work, "add", ".")
        who.git(work, "commit", "-q", "-m", "hero")
        assert "Locked Content/Hero.uasset" in who.git(work, "lfs", "lock", "Content/Hero.uasset").stdout
    assert "\talice" in alice.git(art, "lfs", "locks").stdout
    assert "\tbob" in bob.git(code, "lfs", "locks").stdout


def test_a_restricted_repository_refuses_a_non_member_and_an_anonymous_client(server, lfs_factory, tmp_path,
                                                                              backend):
    lfs_factory.user("alice")
    lfs_factory.user("bob")
    repos.create("secret", restricted=True)
    repos.set_member("secret", "alice", "write")
    url = f"{server.url}/api/repos/secret/lfs"
    bare = _origin(tmp_path)
    alice, bob = Account(tmp_path, "alice", server.url), Account(tmp_path, "bob", server.url)
    work = _first_clone(alice, bare, url)
    (work / "Content" / "Hero.uasset").write_bytes(b"classified" * 100)
    alice.git(work, "add", ".")
    alice.git(work, "commit", "-q", "-m", "hero")
    alice.git(work, "push", "-q", "origin", "main")  # a member with write access

    bob.env["GIT_LFS_SKIP_SMUDGE"] = "1"
    theirs = _clone(bob, bare)
    pulled = bob.git(theirs, "lfs", "pull", check=False)
    assert pulled.returncode != 0 or (theirs / "Content" / "Hero.uasset").read_bytes().startswith(b"version ")
    assert "403" in pulled.stderr or "not" in pulled.stderr.lower()
    assert bob.git(theirs, "lfs", "locks", check=False).returncode != 0

    import base64

    bob_auth = {"Authorization": "Basic " + base64.b64encode(f"bob:{PASSWORD}".encode()).decode()}
    assert requests.get(f"{url}/locks", headers=bob_auth, timeout=10).status_code == 403
    anonymous = requests.get(f"{url}/locks", timeout=10)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Basic")
