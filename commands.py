"""`flask` CLI groups. Each command's docstring is its help text."""

from __future__ import annotations

import json

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

import settings
from errors import ApiError
from services import accounts, configuration


@click.command("create-admin")
@click.option("--username", help="default: INITIAL_ADMIN_USER")
@click.option("--email", help="default: INITIAL_ADMIN_EMAIL")
@click.option("--password", help="default: INITIAL_ADMIN_PASSWORD")
@with_appcontext
def create_admin(username: str | None, email: str | None, password: str | None) -> None:
    """Create the admin account if it does not exist yet (idempotent; used by entrypoint.sh)."""
    username = username or settings.static("admin.initial.username")
    email = email or settings.static("admin.initial.email")
    password = password or settings.static("admin.initial.password")
    if not (username and email and password):
        click.echo("create-admin: skipped (set INITIAL_ADMIN_USER, INITIAL_ADMIN_EMAIL, INITIAL_ADMIN_PASSWORD)")
        return
    if len(password) < 8:
        raise click.ClickException("the admin password needs at least 8 characters")
    user, created = accounts.ensure_admin(username, email, password)
    click.echo(f"create-admin: {'created' if created else 'exists'} {user.username}")


@click.command("set-config")
@click.argument("key")
@click.argument("value")
@with_appcontext
def set_config(key: str, value: str) -> None:
    """Override a runtime setting in the database, e.g. `flask set-config auto_release.hours 48`."""
    setting = settings.SETTINGS.get(key)
    if setting is None or not setting.runtime:
        raise click.BadParameter(f"unknown runtime key; one of: {', '.join(configuration.runtime_keys())}",
                                 param_hint="KEY")
    try:
        typed = settings.parse_text(setting, value)
        configuration.set_overrides({key: typed}, "cli")
    except (ValueError, ApiError) as exc:
        raise click.BadParameter(str(exc), param_hint="VALUE") from None
    click.echo(f"{key} = {json.dumps(typed)}")


users_cli = AppGroup("users", help="Accounts.")


@users_cli.command("list")
def list_users() -> None:
    """List accounts: username, email, admin flag, id."""
    for user in accounts.list_users():
        click.echo(f"{user.username}\t{user.email}\t{'admin' if user.is_admin else '-'}\t{user.id}")


settings_cli = AppGroup("settings", help="Settings and where their values come from.")


@settings_cli.command("list")
def list_settings() -> None:
    """Every setting: key, env name, effective value (secrets masked), runtime-overridable."""
    for row in settings.describe():
        flag = "runtime" if row["runtime"] else "static"
        click.echo(f"{row['key']}\t{row['env'] or '-'}\t{json.dumps(row['value'])}\t{flag}")


scheduler_cli = AppGroup("scheduler", help="Scheduled jobs.")


@scheduler_cli.command("list")
def list_jobs() -> None:
    """The declared jobs with their ids and intervals."""
    import jobs

    for job in jobs.JOBS:
        click.echo(f"{job.id}\tevery {job.seconds}s\t{job.description}")


@scheduler_cli.command("run-job")
@click.argument("job_id")
def run_job(job_id: str) -> None:
    """Run one job now in this process."""
    import jobs

    try:
        result = jobs.execute(job_id)
    except KeyError:
        raise click.BadParameter(f"no job {job_id!r}", param_hint="JOB_ID") from None
    click.echo(f"{job_id}: {result}")


@scheduler_cli.command("run")
def run_scheduler() -> None:
    """Run the scheduler in the foreground (deployments with SCHEDULER_ENABLED=false in web processes)."""
    from flask import current_app

    import jobs

    click.echo("scheduler: waiting for leadership, then running jobs (Ctrl-C stops)")
    jobs.start_scheduler(current_app._get_current_object(), block=True)


analytics_cli = AppGroup("analytics", help="Activity sessions and page visits (seed 003).")


@analytics_cli.command("purge")
def purge_analytics() -> None:
    """Delete sessions and page visits older than analytics.retention_days now (0 = keep everything)."""
    from services import activity

    click.echo(f"purged: {json.dumps(activity.purge_expired())}")


@analytics_cli.command("erase")
@click.argument("app_name")
@click.argument("user")
def erase_analytics(app_name: str, user: str) -> None:
    """Erasure request: delete every session, event and page visit of USER in APP_NAME."""
    from services import activity

    click.echo(f"erased: {json.dumps(activity.erase_user_data(app_name, user))}")


def register_commands(app: Flask) -> None:
    """Attach every CLI command and group to the app."""
    for command in (create_admin, set_config, users_cli, settings_cli, scheduler_cli, analytics_cli):
        app.cli.add_command(command)
