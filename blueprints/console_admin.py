"""The console's administration endpoints (admins only, JSON under /console/api/admin/): users, runtime settings
as typed forms, API keys and repositories, through the same services as /api/admin/*."""

from __future__ import annotations

from typing import Literal

from flask import Blueprint
from pydantic import Field

import settings
from blueprints.api_keys import key_json
from blueprints.auth import user_json
from blueprints.common import current_principal, parse_model
from blueprints.console_session import console_api, json_body
from envelope import success
from errors import ApiError, not_found
from schemas import AdminStatusIn, ApiKeyIn, CreateUserIn, EmailIn, PasswordIn, Strict
from services import accounts, api_keys, configuration, repos

bp = Blueprint("console_admin", __name__, url_prefix="/api/admin")


# ---------------------------------------------------------------- users

@bp.get("/users")
@console_api(admin=True)
def list_users():
    return success([user_json(u) for u in accounts.list_users()], "Users")


@bp.post("/users")
@console_api(admin=True)
def create_user():
    body = parse_model(CreateUserIn, json_body())
    user = accounts.create_user(body.username, body.email, body.password, is_admin=body.is_admin,
                                display_name=body.display_name)
    return success(user_json(user), "User created", 201)


@bp.delete("/users/<user_id>")
@console_api(admin=True)
def delete_user(user_id: str):
    accounts.delete_user(accounts.get_user(user_id))
    return success(None, "User deleted")


@bp.put("/users/<user_id>/password")
@console_api(admin=True)
def set_password(user_id: str):
    body = parse_model(PasswordIn, json_body())
    return success(user_json(accounts.set_password(accounts.get_user(user_id), body.password)), "Password updated")


@bp.put("/users/<user_id>/email")
@console_api(admin=True)
def set_email(user_id: str):
    body = parse_model(EmailIn, json_body())
    return success(user_json(accounts.set_email(accounts.get_user(user_id), body.email)), "Email updated")


@bp.put("/users/<user_id>/status")
@console_api(admin=True)
def set_status(user_id: str):
    body = parse_model(AdminStatusIn, json_body())
    return success(user_json(accounts.set_admin(accounts.get_user(user_id), body.is_admin)), "Admin status updated")


# ---------------------------------------------------------------- runtime settings

@bp.get("/settings")
@console_api(admin=True)
def list_settings():
    """Every setting with its source; runtime ones carry the JSON schema their form is built from."""
    rows = settings.describe()
    for row in rows:
        if row["runtime"]:
            row["schema"] = settings.SETTINGS[row["key"]].adapter.json_schema()
    return success(rows, "Settings")


@bp.put("/settings")
@console_api(admin=True)
def put_settings():
    """`{key: typed value, ...}`: validated against each setting, stored in one transaction (or none)."""
    updates = json_body()
    if not updates:
        raise ApiError(422, "Body must be a non-empty object of configuration keys")
    return success({"effective": configuration.set_overrides(updates, current_principal().name)},
                   "Configuration updated")


@bp.delete("/settings/<key>")
@console_api(admin=True)
def reset_setting(key: str):
    """Drop a runtime override: the setting goes back to its static value."""
    if key not in configuration.runtime_keys():
        raise not_found("Runtime setting")
    configuration.clear_override(key)
    return success({"effective": configuration.effective_runtime()}, "Override removed")


# ---------------------------------------------------------------- API keys

@bp.get("/api-keys")
@console_api(admin=True)
def list_keys():
    return success([key_json(key) for key in api_keys.list_keys()], "API keys")


@bp.post("/api-keys")
@console_api(admin=True)
def create_key():
    """The answer's `key` is the only time the secret is shown."""
    body = parse_model(ApiKeyIn, json_body())
    owner = accounts.get_user(body.user_id).id if body.user_id else None
    key, plaintext = api_keys.create_key(body.name, list(body.scopes), body.app, owner)
    return success(key_json(key, plaintext), "API key created: store it now, it is not shown again", 201)


@bp.delete("/api-keys/<key_id>")
@console_api(admin=True)
def revoke_key(key_id: str):
    return success(key_json(api_keys.revoke_key(key_id)), "API key revoked")


# ---------------------------------------------------------------- repositories and members

class RepositoryIn(Strict):
    name: str = Field(min_length=1, max_length=64)
    restricted: bool = False


class RepositoryUpdateIn(Strict):
    restricted: bool


class MemberIn(Strict):
    username: str = Field(min_length=1, max_length=64)
    access: Literal["read", "write"]


def _repo_json(repo: repos.Repo) -> dict:
    return repos.as_dict(repo, members=[{"username": u, "access": a} for u, a in repos.members(repo.name)])


@bp.get("/repositories")
@console_api(admin=True)
def list_repositories():
    return success([_repo_json(repo) for repo, _ in repos.visible_to(current_principal().user)], "Repositories")


@bp.post("/repositories")
@console_api(admin=True)
def create_repository():
    body = parse_model(RepositoryIn, json_body())
    return success(_repo_json(repos.create(body.name, restricted=body.restricted)), "Repository created", 201)


@bp.put("/repositories/<name>")
@console_api(admin=True)
def update_repository(name: str):
    body = parse_model(RepositoryUpdateIn, json_body())
    return success(_repo_json(repos.update(name, restricted=body.restricted)), "Repository updated")


@bp.delete("/repositories/<name>")
@console_api(admin=True)
def delete_repository(name: str):
    return success(repos.delete_repository(name, by=current_principal().name), "Repository deleted")


@bp.put("/repositories/<name>/members")
@console_api(admin=True)
def set_member(name: str):
    body = parse_model(MemberIn, json_body())
    repos.set_member(name, body.username, body.access)
    return success(_repo_json(repos.get(name)), "Member set")


@bp.delete("/repositories/<name>/members/<username>")
@console_api(admin=True)
def remove_member(name: str, username: str):
    repos.remove_member(name, username)
    return success(_repo_json(repos.get(name)), "Member removed")

