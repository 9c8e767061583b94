"""Migration 0008 on a database that has data: locks and audit rows made at revision 0007 (one namespace, no
repositories) land in the repository `default` and are served by /api/locks and /api/lfs/locks (both lanes).

The test migrates a throwaway database of its own (a temp SQLite file, or a new PostgreSQL database on the
test server), never the shared test database.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from extensions import db
from models import User
from tests.conftest import RUN_ID, Factory, throwaway_database
from tests.lfs.conftest import basic, lfs_json

BEFORE = "0007_checkins_hot_extend"

# The tables as revision 0007 had them (only the columns written here): models.py describes head.
_v7 = sa.MetaData()
USERS = sa.Table("users", _v7, sa.Column("id", sa.Uuid), sa.Column("username", sa.String),
                 sa.Column("email", sa.String), sa.Column("password_hash", sa.String),
                 sa.Column("is_admin", sa.Boolean), sa.Column("preferences", sa.JSON),
                 sa.Column("token_version", sa.Integer), sa.Column("created_at", sa.DateTime))
LOCKS = sa.Table("locks", _v7, sa.Column("id", sa.Integer), sa.Column("asset_path", sa.String),
                 sa.Column("path_key", sa.String), sa.Column("owner_id", sa.Uuid), sa.Column("branch", sa.String),
                 sa.Column("comment", sa.String), sa.Column("created_at", sa.DateTime))
RELEASES = sa.Table("lock_releases", _v7, sa.Column("lock_id", sa.Integer), sa.Column("asset_path", sa.String),
                    sa.Column("owner", sa.String), sa.Column("branch", sa.String),
                    sa.Column("locked_at", sa.DateTime), sa.Column("released_at", sa.DateTime),
                    sa.Column("released_by", sa.String), sa.Column("reason", sa.String))


@pytest.fixture
def fresh_database(tmp_path):
    """An empty database nobody else uses: a temp SQLite file, or a new database on the PostgreSQL server."""
    with throwaway_database(tmp_path, f"concierge_migrate_{RUN_ID}_{uuid.uuid4().hex[:6]}") as url:
        yield url


@pytest.fixture
def old_app(base_settings, migrated, fresh_database):
    app = create_app({**base_settings, "database.uri": fresh_database})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_locks_and_audit_from_0007_move_into_default(old_app):
    upgrade(revision=BEFORE)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    at = datetime(2026, 3, 1, 12, 0, 0)
    with db.engine.begin() as conn:
        conn.execute(USERS.insert(), [
            {"id": uid, "username": name, "email": f"{name}@example.com", "password_hash": "not used",
             "is_admin": False, "preferences": [], "token_version": 0, "created_at": at}
            for uid, name in ((alice, "alice"), (bob, "bob"))])
        conn.execute(LOCKS.insert(), [
            {"id": 7, "asset_path": "Content/Hero.uasset", "path_key": "content/hero.uasset", "owner_id": alice,
             "branch": "main", "comment": "rigging", "created_at": at},
            {"id": 8, "asset_path": "Maps/Level.umap", "path_key": "maps/level.umap", "owner_id": bob,
             "branch": None, "comment": None, "created_at": at}])
        conn.execute(RELEASES.insert(), [
            {"lock_id": 3, "asset_path": "Old.uasset", "owner": "alice", "branch": "main", "locked_at": at,
             "released_at": at, "released_by": "alice", "reason": "owner"}])

    upgrade()  # to head

    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM locks WHERE repository_id = "
                                 "(SELECT id FROM repositories WHERE name = 'default')")).scalar() == 2
        assert conn.execute(text("SELECT repository FROM lock_releases")).scalars().all() == ["default"]

    factory = Factory(old_app)
    client = old_app.test_client()
    alice_user = db.session.get(User, alice)
    admin = factory.user("admin", is_admin=True)
    headers = factory.headers(alice_user)
    rest = client.get("/api/locks", headers=headers).get_json()["data"]
    assert sorted((lk["asset_path"], lk["owner"], lk["repo"]) for lk in rest["items"]) == [
        ("Content/Hero.uasset", "alice", "default"), ("Maps/Level.umap", "bob", "default")]
    one = client.get("/api/locks/content/HERO.uasset", headers=headers).get_json()["data"]
    assert (one["id"], one["comment"], one["created_at"]) == (7, "rigging", "2026-03-01T12:00:00.000Z")

    key = factory.api_key(["lfs"], user=alice_user)
    lfs = client.get("/api/lfs/locks?path=Maps/Level.umap", headers=basic("alice", key))
    assert lfs.status_code == 200
    assert [(lk["id"], lk["owner"]["name"]) for lk in lfs.get_json()["locks"]] == [("8", "bob")]
    # the old unique key became per-repository: the migrated lock still holds its path in `default`
    held = client.post("/api/lfs/locks", headers=basic("alice", key), **lfs_json({"path": "maps/level.umap"}))
    assert held.status_code == 409 and held.get_json()["lock"]["id"] == "8"

    audit = client.get("/api/admin/lock-releases?repo=default", headers=factory.headers(admin)).get_json()["data"]
    assert [(r["asset_path"], r["reason"], r["repo"]) for r in audit["items"]] == [("Old.uasset", "owner", "default")]
