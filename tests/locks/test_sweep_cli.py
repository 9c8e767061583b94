"""The auto-release sweep with a frozen clock, its settings, the job, and the `flask locks` CLI."""

from datetime import datetime, timedelta

import jobs
from models import JobRun, Lock, LockRelease
from services import clock, configuration, locks, repos

T0 = datetime(2026, 3, 1, 12, 0, 0)


def _lock_at(user, path, at, branch="main"):
    with clock.frozen(at):
        return locks.acquire(repos.get(repos.DEFAULT), user, path, branch)


def test_sweep_releases_only_locks_older_than_the_setting(app, alice, bob):
    _lock_at(alice, "Old.uasset", T0)
    _lock_at(bob, "Edge.uasset", T0 + timedelta(hours=1))
    _lock_at(alice, "Young.uasset", T0 + timedelta(hours=50))
    clock.freeze(T0 + timedelta(hours=73))  # default auto_release.hours = 72
    assert locks.release_expired_locks() == 1
    assert {lock.asset_path for lock in Lock.query.all()} == {"Edge.uasset", "Young.uasset"}
    row = LockRelease.query.one()
    assert (row.asset_path, row.owner, row.reason, row.released_by) == ("Old.uasset", "alice", "auto", None)
    assert row.released_at == T0 + timedelta(hours=73) and row.locked_at == T0
    assert locks.release_expired_locks() == 0  # idempotent


def test_sweep_reads_the_database_override(app, alice):
    _lock_at(alice, "A.uasset", T0)
    configuration.set_overrides({"auto_release.hours": 2}, "test")
    clock.freeze(T0 + timedelta(hours=1, minutes=59))
    assert locks.release_expired_locks() == 0
    clock.freeze(T0 + timedelta(hours=2, seconds=1))
    assert locks.release_expired_locks() == 1


def test_sweep_does_nothing_when_disabled(app, alice):
    _lock_at(alice, "A.uasset", T0)
    configuration.set_overrides({"auto_release.enabled": False}, "test")
    clock.freeze(T0 + timedelta(days=30))
    assert locks.release_expired_locks() == 0
    assert Lock.query.count() == 1


def test_sweep_job_is_declared_and_records_its_run(app, alice):
    job = jobs.job_by_id("release_expired_locks")
    assert job.seconds == 3600 and job.target == "services.locks:release_expired_locks"
    _lock_at(alice, "A.uasset", T0)
    clock.freeze(T0 + timedelta(days=4))
    assert jobs.execute("release_expired_locks") == 1
    run = JobRun.query.filter_by(job_id="release_expired_locks").one()
    assert run.ok is True and run.result == "1"


def test_cli_list_release_and_release_branch(app, runner, alice, bob):
    _lock_at(alice, "Content/A.uasset", T0, branch="main")
    _lock_at(bob, "Content/B.uasset", T0, branch="feature")
    _lock_at(bob, "Content/C.uasset", T0, branch="feature")
    listed = runner.invoke(args=["locks", "list"])
    assert listed.exit_code == 0
    assert "Content/A.uasset\talice\tmain\t2026-03-01T12:00:00Z" in listed.output
    only_bob = runner.invoke(args=["locks", "list", "--owner", "bob"]).output
    assert "Content/A.uasset" not in only_bob and "Content/B.uasset" in only_bob
    released = runner.invoke(args=["locks", "release", "/Content/A.uasset"])
    assert released.exit_code == 0 and "released Content/A.uasset (held by alice)" in released.output
    missing = runner.invoke(args=["locks", "release", "Content/A.uasset"])
    assert missing.exit_code != 0 and "Lock not found" in missing.output
    branch = runner.invoke(args=["locks", "release-branch", "feature"])
    assert branch.exit_code == 0 and "released 2 locks on feature" in branch.output
    assert Lock.query.count() == 0
    reasons = sorted((r.reason, r.released_by) for r in LockRelease.query.all())
    assert reasons == [("admin", "cli"), ("branch", "cli"), ("branch", "cli")]
