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
    try:
        user, created = accounts.ensure_admin(username, email, password)
    except ApiError as exc:  # e.g. an invalid address: the same rule as the API's
        raise click.ClickException(f"{exc.message}: {exc.details}" if exc.details else exc.message) from None
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


MAIL_TEST_STATUS_KEY = "system.startup.mail_test_status"


@click.command("test-email")
@with_appcontext
def test_email() -> None:
    """Send a test e-mail to the first admin now and store SUCCESS / FAILED / SKIPPED (the Asset Lock Manager)."""
    from services import mail

    status, detail = mail.send_test_email()
    configuration.write(MAIL_TEST_STATUS_KEY, status, "test-email")
    click.echo(f"test-email: {status}{f' ({detail})' if detail else ''}")


locks_cli = AppGroup("locks", help="Asset locks.")


@locks_cli.command("list")
@click.option("--owner", help="only this user's locks")
@click.option("--branch", help="only locks on this branch")
@click.option("--prefix", help="only paths starting with this")
@click.option("--repo", help="only this repository's locks (default: every repository)")
def list_locks(owner: str | None, branch: str | None, prefix: str | None, repo: str | None) -> None:
    """Active locks, newest first: path, owner, branch, locked at, repository."""
    from services import locks, repos

    try:
        items, _ = locks.list_locks(repos.get(repo) if repo else None, owner=owner, branch=branch, prefix=prefix,
                                    per_page=1_000_000)
    except ApiError as exc:
        raise click.ClickException(exc.message) from None
    for lock in items:
        click.echo(f"{lock.asset_path}\t{lock.owner}\t{lock.branch or '-'}\t{lock.created_at.isoformat()}Z"
                   f"\t{lock.repository}")


@locks_cli.command("release")
@click.argument("path")
@click.option("--repo", default="default", show_default=True, help="the repository holding the lock")
def release_lock(path: str, repo: str) -> None:
    """Release the lock on PATH whoever holds it (recorded as an admin release by `cli`)."""
    from services import locks, repos

    try:
        lock = locks.release_path(repos.get(repo), path, "cli")
    except ApiError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"released {lock.asset_path} (held by {lock.owner})")


@locks_cli.command("release-branch")
@click.argument("branch")
@click.option("--repo", help="only in this repository (default: every repository)")
def release_branch(branch: str, repo: str | None) -> None:
    """Release every lock on BRANCH (recorded as a branch release by `cli`)."""
    from services import locks, repos

    try:
        count = locks.release_branch(branch, None, repo=repos.get(repo) if repo else None)
    except ApiError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"released {count} locks on {branch}")


repos_cli = AppGroup("repos", help="Git LFS repositories: create, restrict, members, quota, delete.")


def _repos_call(action, *args, **kwargs):
    try:
        return action(*args, **kwargs)
    except ApiError as exc:
        raise click.ClickException(exc.message) from None


@repos_cli.command("create")
@click.argument("name")
@click.option("--restricted", is_flag=True, help="only members (and admins) may use it")
@click.option("--quota", "quota_bytes", type=click.IntRange(min=0), help="object bytes it may hold")
def create_repo(name: str, restricted: bool, quota_bytes: int | None) -> None:
    """Create repository NAME; its Git LFS endpoint is /api/repos/NAME/lfs."""
    from services import repos

    repo = _repos_call(repos.create, name, restricted=restricted, quota_bytes=quota_bytes)
    click.echo(f"created {repo.name}: lfs.url = <server>/api/repos/{repo.name}/lfs")


@repos_cli.command("list")
def list_repos() -> None:
    """Every repository: name, open/restricted, quota."""
    from services import repos

    for repo in repos.list_all():
        click.echo(f"{repo.name}\t{'restricted' if repo.restricted else 'open'}\t{repo.quota_bytes or '-'}")


@repos_cli.command("delete")
@click.argument("name")
def delete_repo(name: str) -> None:
    """Delete NAME with its locks and the objects no other repository holds."""
    from services import repos

    click.echo(f"deleted: {json.dumps(_repos_call(repos.delete_repository, name, by='cli'))}")


@repos_cli.command("restrict")
@click.argument("name")
def restrict_repo(name: str) -> None:
    """Only members (and admins) may use NAME from now on."""
    from services import repos

    _repos_call(repos.update, name, restricted=True)
    click.echo(f"{name}: restricted to members")


@repos_cli.command("open")
@click.argument("name")
def open_repo(name: str) -> None:
    """Every account may read and write NAME."""
    from services import repos

    _repos_call(repos.update, name, restricted=False)
    click.echo(f"{name}: open to every account")


@repos_cli.command("quota")
@click.argument("name")
@click.argument("quota_bytes")
def set_repo_quota(name: str, quota_bytes: str) -> None:
    """Set NAME's quota in bytes (`none`: the lfs.default_quota_bytes setting)."""
    from services import repos

    value = None if quota_bytes == "none" else click.IntRange(min=0).convert(quota_bytes, None, None)
    _repos_call(repos.update, name, quota_bytes=value)
    click.echo(f"{name}: quota {value if value is not None else 'default'}")


@repos_cli.command("grant")
@click.argument("name")
@click.argument("username")
@click.argument("access", type=click.Choice(["read", "write"]))
def grant_repo(name: str, username: str, access: str) -> None:
    """Give USERNAME read or write access to NAME (what counts while it is restricted)."""
    from services import repos

    _repos_call(repos.set_member, name, username, access)
    click.echo(f"{name}: {username} may {access}")


@repos_cli.command("revoke")
@click.argument("name")
@click.argument("username")
def revoke_repo(name: str, username: str) -> None:
    """Take USERNAME's membership of NAME away."""
    from services import repos

    _repos_call(repos.remove_member, name, username)
    click.echo(f"{name}: {username} removed")


@repos_cli.command("members")
@click.argument("name")
def repo_members(name: str) -> None:
    """Members of NAME and their access."""
    from services import repos

    for username, access in _repos_call(repos.members, name):
        click.echo(f"{username}\t{access}")


api_keys_cli = AppGroup("api-keys", help="Service API keys (shown once, stored hashed).")


@api_keys_cli.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="model:read, track:write, analytics:read or relay (repeatable)")
@click.option("--app", "app_name", help="bind the key to this client app")
@click.option("--user", "username", help="the key authenticates as this account")
def create_api_key(name: str, scopes: tuple[str, ...], app_name: str | None, username: str | None) -> None:
    """Create a key and print it once, e.g. `flask api-keys create ml-model --scope model:read`."""
    from services import api_keys

    owner = accounts.find_by_username(username) if username else None
    if username and owner is None:
        raise click.BadParameter(f"no account {username!r}", param_hint="--user")
    try:
        key, plaintext = api_keys.create_key(name, list(scopes), app_name, owner.id if owner else None)
    except ApiError as exc:
        raise click.BadParameter(f"{exc.message}: {exc.details}", param_hint="--scope") from None
    click.echo(f"created {key.id} prefix={key.prefix} scopes={','.join(key.scopes)}")
    click.echo(f"key (shown once): {plaintext}")


@api_keys_cli.command("list")
def list_api_keys() -> None:
    """Every key: id, prefix, name, scopes, app, created, last used, revoked."""
    from services import api_keys

    for key in api_keys.list_keys():
        click.echo("\t".join([str(key.id), key.prefix, key.name, ",".join(key.scopes), key.app or "-",
                              str(key.created_at), str(key.last_used_at or "-"),
                              f"revoked {key.revoked_at}" if key.revoked_at else "live"]))


@api_keys_cli.command("revoke")
@click.argument("key_id")
def revoke_api_key(key_id: str) -> None:
    """Revoke a key by its id (see `flask api-keys list`)."""
    from services import api_keys

    try:
        key = api_keys.revoke_key(key_id)
    except ApiError as exc:
        raise click.BadParameter(exc.message, param_hint="KEY_ID") from None
    click.echo(f"revoked {key.id} prefix={key.prefix}")


relay_cli = AppGroup("relay", help="App sessions and the Alohomora relay.")


@relay_cli.command("callback-path")
def relay_callback_path() -> None:
    """The notification path to give Alohomora as this server's callback URL (prefix it with the public base URL)."""
    from services import alohomora

    click.echo(f"/relay/{alohomora.notification_secret()}/receive_session_notification")


@relay_cli.command("purge-sessions")
def relay_purge_sessions() -> None:
    """Delete expired app sessions, their files and folders now (the `purge_app_sessions` job)."""
    from services import app_sessions

    click.echo(f"purged {app_sessions.purge_expired_sessions()} expired sessions")


analytics_cli = AppGroup("analytics", help="Activity sessions and page visits (the Session Server API).")


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
    for command in (create_admin, set_config, users_cli, settings_cli, scheduler_cli, test_email, locks_cli,
                    repos_cli, api_keys_cli, relay_cli, analytics_cli):
        app.cli.add_command(command)
