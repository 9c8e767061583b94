"""Repositories (issue 19): admins create, restrict, set quotas, manage members and delete; everyone lists
the repositories they may read. Each repository's Git LFS endpoint is `/api/repos/<name>/lfs`."""

from flask import Blueprint

from blueprints.common import BEARER, admin_required, authenticated, expects, require_user
from envelope import success
from schemas import Envelope, RepoIn, RepoMemberIn, RepoPatchIn
from services import lfs_objects, repos

bp = Blueprint("repos", __name__)

TAGS = ("repositories",)


def _shape(repo: repos.Repo, access: str | None = None) -> dict:
    return repos.as_dict(repo, access=access, lfs_path=f"/api/repos/{repo.name}/lfs")


@bp.post("/api/repos")
@admin_required
@expects(json=RepoIn, resp={201: Envelope, 401: None, 403: None, 409: None, 422: None}, tags=TAGS, security=BEARER)
def create_repo(body: RepoIn):
    """Create a repository (admin): `{name, restricted?, quota_bytes?}`."""
    repo = repos.create(body.name, restricted=body.restricted, quota_bytes=body.quota_bytes)
    return success(_shape(repo, "write"), "Repository created", 201)


@bp.get("/api/repos")
@authenticated()
@expects(resp={200: Envelope, 401: None}, tags=TAGS, security=BEARER)
def list_repos():
    """The repositories you may read, with your access (`read` or `write`)."""
    return success([_shape(repo, access) for repo, access in repos.visible_to(require_user())], "Repositories")


@bp.get("/api/repos/<name>")
@authenticated()
@expects(resp={200: Envelope, 401: None, 403: None, 404: None}, tags=TAGS, security=BEARER)
def get_repo(name: str):
    """One repository you may read, with its object count, bytes used and quota."""
    account = require_user()
    repo = repos.authorize(name, account, "read")
    return success({**_shape(repo, repos.access_of(repo, account)), **lfs_objects.stats(repo)}, "Repository")


@bp.patch("/api/repos/<name>")
@admin_required
@expects(json=RepoPatchIn, resp={200: Envelope, 403: None, 404: None, 422: None}, tags=TAGS, security=BEARER)
def update_repo(name: str, body: RepoPatchIn):
    """Restrict or open a repository, set or clear (`clear_quota`) its quota (admin)."""
    quota = None if body.clear_quota else (body.quota_bytes if body.quota_bytes is not None else False)
    repo = repos.update(name, restricted=body.restricted, quota_bytes=quota)
    return success(_shape(repo, "write"), "Repository updated")


@bp.delete("/api/repos/<name>")
@admin_required
@expects(resp={200: Envelope, 403: None, 404: None}, tags=TAGS, security=BEARER)
def delete_repo(name: str):
    """Delete a repository with its locks and the objects no other repository holds (admin)."""
    return success(repos.delete_repository(name, by=require_user().username), "Repository deleted")


@bp.get("/api/repos/<name>/members")
@admin_required
@expects(resp={200: Envelope, 403: None, 404: None}, tags=TAGS, security=BEARER)
def list_members(name: str):
    """Members of a repository and their access (admin)."""
    return success([{"username": u, "access": a} for u, a in repos.members(name)], "Members")


@bp.put("/api/repos/<name>/members")
@admin_required
@expects(json=RepoMemberIn, resp={200: Envelope, 403: None, 404: None, 422: None}, tags=TAGS, security=BEARER)
def set_member(name: str, body: RepoMemberIn):
    """Grant an account `read` or `write` access (what counts once the repository is restricted; admin)."""
    repos.set_member(name, body.username, body.access)
    return success({"username": body.username.lower(), "access": body.access}, "Member set")


@bp.delete("/api/repos/<name>/members/<username>")
@admin_required
@expects(resp={200: Envelope, 403: None, 404: None}, tags=TAGS, security=BEARER)
def remove_member(name: str, username: str):
    """Remove an account's access (admin)."""
    repos.remove_member(name, username)
    return success({"username": username.lower()}, "Member removed")
