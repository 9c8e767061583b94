"""`flask` CLI: create-admin, set-config, users list, settings list, scheduler."""

from models import User


def test_create_admin_from_options_is_idempotent(runner, db):
    args = ["create-admin", "--username", "root", "--email", "root@example.com", "--password", "a-long-password"]
    first = runner.invoke(args=args)
    second = runner.invoke(args=args)
    assert "created root" in first.output and "exists root" in second.output
    assert db.session.query(User).filter_by(username="root", is_admin=True).count() == 1


def test_create_admin_from_initial_admin_settings(make_app):
    app = make_app({"admin.initial.username": "boss", "admin.initial.email": "boss@example.com",
                    "admin.initial.password": "a-long-password"})
    result = app.test_cli_runner().invoke(args=["create-admin"])
    assert "created boss" in result.output


def test_create_admin_skips_without_credentials(runner):
    assert "skipped" in runner.invoke(args=["create-admin"]).output


def test_set_config_validates(runner):
    assert runner.invoke(args=["set-config", "auto_release.hours", "24"]).exit_code == 0
    bad_value = runner.invoke(args=["set-config", "auto_release.hours", "soon"])
    bad_key = runner.invoke(args=["set-config", "no.such.key", "1"])
    assert bad_value.exit_code != 0 and "VALUE" in bad_value.output
    assert bad_key.exit_code != 0 and "KEY" in bad_key.output


def test_users_list(runner, factory):
    factory.user("carol", is_admin=True)
    output = runner.invoke(args=["users", "list"]).output
    assert "carol\tcarol@example.com\tadmin" in output


def test_settings_list_masks_secrets(runner):
    output = runner.invoke(args=["settings", "list"]).output
    assert "jwt.secret_key\tJWT_SECRET_KEY\t\"***\"" in output


def test_scheduler_run_job_records_a_run(runner, db):
    from models import JobRun

    result = runner.invoke(args=["scheduler", "run-job", "purge_revoked_tokens"])
    assert result.exit_code == 0, result.output
    run = db.session.query(JobRun).one()
    assert run.job_id == "purge_revoked_tokens" and run.ok is True
    assert runner.invoke(args=["scheduler", "run-job", "nope"]).exit_code != 0
