"""The console's JSON endpoints: the API's rules through the console (another account, non-admins, analytics
authorization) and hostile input, on both lanes."""

from __future__ import annotations

import pytest

ADMIN_GETS = ["/console/api/admin/users", "/console/api/admin/settings", "/console/api/admin/api-keys",
              "/console/api/admin/repositories", "/console/api/presence", "/console/api/lock-releases"]
ADMIN_PAGES = ["/console/presence", "/console/admin/users", "/console/admin/settings", "/console/admin/api-keys",
               "/console/admin/repositories"]


def paths(response) -> list[str]:
    return [item["asset_path"] for item in response.get_json()["data"]["items"]]


def test_board_shows_api_locks_with_filters_and_both_orders(console, alice, bob, alice_headers, bob_headers, take_lock):
    take_lock(alice_headers, "Content/Maps/A.umap", "main")
    take_lock(bob_headers, "Content/Chars/B.uasset", "feature/x")
    take_lock(alice_headers, "Content/Maps/C.umap", "feature/x")
    session = console("bob")
    assert paths(session.call("GET", "/console/api/locks")) == ["Content/Maps/C.umap", "Content/Chars/B.uasset",
                                                                "Content/Maps/A.umap"]
    assert paths(session.call("GET", "/console/api/locks?order=oldest"))[0] == "Content/Maps/A.umap"
    assert paths(session.call("GET", "/console/api/locks?owner=alice&branch=feature/x")) == ["Content/Maps/C.umap"]
    assert paths(session.call("GET", "/console/api/locks?prefix=content/maps&order=oldest")) == [
        "Content/Maps/A.umap", "Content/Maps/C.umap"]
    mine = session.call("GET", "/console/api/locks?owner=bob").get_json()["data"]["items"]
    assert [item["mine"] for item in mine] == [True]


def test_another_account_cannot_release_someone_elses_lock(console, alice, bob, alice_headers, take_lock):
    lock = take_lock(alice_headers, "Content/Hero.uasset")
    session = console("bob")
    url = f"/console/api/repos/default/locks/{lock['id']}"
    assert session.call("DELETE", url, json={}).status_code == 403
    assert session.call("DELETE", url, json={"force": True}).status_code == 403  # force is for admins only
    assert paths(session.call("GET", "/console/api/locks")) == ["Content/Hero.uasset"]


def test_owner_releases_and_admin_force_releases_with_the_audit(console, admin, alice, alice_headers, take_lock):
    own = take_lock(alice_headers, "Content/Own.uasset")
    other = take_lock(alice_headers, "Content/Other.uasset")
    session = console("alice")
    released = session.call("DELETE", f"/console/api/repos/default/locks/{own['id']}", json={})
    assert released.status_code == 200 and released.get_json()["data"]["asset_path"] == "Content/Own.uasset"
    boss = console("admin")
    url = f"/console/api/repos/default/locks/{other['id']}"
    assert boss.call("DELETE", url, json={}).status_code == 403  # without force even an admin is refused
    assert boss.call("DELETE", url, json={"force": True}).status_code == 200
    assert paths(boss.call("GET", "/console/api/locks?repo=*")) == []
    audit = boss.call("GET", "/console/api/lock-releases").get_json()["data"]["items"]
    assert [(row["asset_path"], row["reason"], row["released_by"]) for row in audit] == [
        ("Content/Other.uasset", "admin", "admin"), ("Content/Own.uasset", "owner", "alice")]


def test_notify_is_a_4xx_while_mail_is_off(console, alice, bob, alice_headers, take_lock):
    lock = take_lock(alice_headers, "Content/Hero.uasset")
    response = console("bob").call("POST", f"/console/api/repos/default/locks/{lock['id']}/notify", json={})
    assert response.status_code == 409 and response.get_json()["message"] == "Mail is disabled on this server"


def test_non_admin_cannot_reach_admin_pages_or_endpoints(console, alice, db):
    from models import User

    session = console("alice")
    for url in ADMIN_PAGES:
        assert session.call("GET", url).status_code == 403, url
    for url in ADMIN_GETS:
        assert session.call("GET", url).status_code == 403, url
    created = session.call("POST", "/console/api/admin/users",
                           json={"username": "mallory", "email": "m@example.com", "password": "long enough pw"})
    assert created.status_code == 403
    assert session.call("PUT", "/console/api/admin/settings", json={"auto_release.hours": 1}).status_code == 403
    assert db.session.query(User).filter_by(username="mallory").count() == 0


def test_admin_creates_a_user_and_an_api_key_shown_once(console, admin, client):
    boss = console("admin")
    created = boss.call("POST", "/console/api/admin/users",
                        json={"username": "erin", "email": "erin@example.com", "password": "long enough pw"})
    assert created.status_code == 201
    user_id = created.get_json()["data"]["id"]
    assert boss.call("PUT", f"/console/api/admin/users/{user_id}/status", json={"is_admin": True}).status_code == 200
    changed = boss.call("PUT", f"/console/api/admin/users/{user_id}/email", json={"email": "e@example.org"})
    assert changed.status_code == 200
    key = boss.call("POST", "/console/api/admin/api-keys", json={"name": "ml", "scopes": ["model:read"]})
    assert key.status_code == 201
    secret = key.get_json()["data"]["key"]
    listed = boss.call("GET", "/console/api/admin/api-keys").get_json()["data"]
    assert [k["name"] for k in listed] == ["ml"] and "key" not in listed[0]
    assert client.get("/api/model/active-users", headers={"X-API-Key": secret}).status_code == 200
    revoked = boss.call("DELETE", f"/console/api/admin/api-keys/{listed[0]['id']}")
    assert revoked.status_code == 200
    assert client.get("/api/model/active-users", headers={"X-API-Key": secret}).status_code == 401
    assert boss.call("DELETE", f"/console/api/admin/users/{user_id}").status_code == 200


def test_settings_are_typed_forms_validated_like_the_api(console, admin):
    boss = console("admin")
    rows = {row["key"]: row for row in boss.call("GET", "/console/api/admin/settings").get_json()["data"]}
    hours = rows["auto_release.hours"]["schema"]
    assert hours["type"] == "integer" and hours["minimum"] == 1
    assert "schema" not in rows["database.uri"]  # static settings are not editable
    assert boss.call("PUT", "/console/api/admin/settings", json={"auto_release.hours": "48"}).status_code == 422
    assert boss.call("PUT", "/console/api/admin/settings", json={"database.uri": "x"}).status_code == 422
    saved = boss.call("PUT", "/console/api/admin/settings", json={"auto_release.hours": 48})
    assert saved.get_json()["data"]["effective"]["auto_release.hours"] == 48
    reset = boss.call("DELETE", "/console/api/admin/settings/auto_release.hours")
    assert reset.get_json()["data"]["effective"]["auto_release.hours"] == 72
    assert boss.call("DELETE", "/console/api/admin/settings/database.uri").status_code == 404


@pytest.fixture
def tracked(client, admin_headers):
    """Two sessions of alice and one of bob in app `game`, through the API."""
    for user, start, end in (("alice", "2024-01-01T09:00:00Z", "2024-01-01T10:00:00Z"),
                             ("alice", "2024-01-02T14:00:00Z", "2024-01-02T14:30:00Z"),
                             ("bob", "2024-01-02T15:00:00Z", "2024-01-02T16:00:00Z")):
        started = client.post("/api/sessions/start", json={"app": "game", "user": user, "time": start},
                              headers=admin_headers)
        assert started.status_code == 200, started.get_json()
        session_id = started.get_json()["data"]["session_id"]
        ended = client.post("/api/sessions/end", json={"app": "game", "user": user, "session_id": session_id,
                                                       "time": end}, headers=admin_headers)
        assert ended.status_code == 200


def test_analytics_follows_the_apis_authorization(console, admin, alice, bob, tracked):
    session = console("alice")
    own = session.call("GET", "/console/api/reports/heatmap?app=game")  # user defaults to the caller
    assert own.status_code == 200 and own.get_json()["data"]["total_sessions"] == 2
    assert session.call("GET", "/console/api/reports/heatmap?app=game&user=bob").status_code == 403
    assert session.call("GET", "/console/api/reports/summary?app=game&user=all").status_code == 403
    boss = console("admin")
    everyone = boss.call("GET", "/console/api/reports/heatmap?app=game&user=all&tz=Europe/Berlin")
    assert everyone.get_json()["data"]["weekly_hourly"] == {"0": {"10": 1}, "1": {"15": 1, "16": 1}}
    csv = boss.call("GET", "/console/api/reports/daily-time-spent?app=game&user=all&format=csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).splitlines() == ["date,time_spent", "2024-01-01,01:00:00", "2024-01-02,01:30:00"]
    assert boss.call("GET", "/console/api/reports/timeline-bogus?app=game").status_code == 404


def test_presence_lists_checked_in_accounts_with_minutes_left(console, admin, client, alice_headers):
    assert client.post("/api/checkin", headers=alice_headers).status_code == 200
    data = console("admin").call("GET", "/console/api/presence").get_json()["data"]
    assert data["count"] == 1
    assert data["items"][0]["name"] == "alice" and 59 <= data["items"][0]["minutes_remaining"] <= 60


HOSTILE_GETS = [
    "/console/api/locks?owner=al%00ice",
    "/console/api/locks?prefix=Content%00",
    "/console/api/locks?owner=" + "a" * 65,
    "/console/api/locks?prefix=" + "p" * 1025,
    "/console/api/locks?page=" + "9" * 40,
    "/console/api/locks?per_page=100000",
    "/console/api/locks?order=sideways",
    "/console/api/locks?repo=" + "r" * 65,
    "/console/api/locks?unknown=1",
    "/console/api/reports/summary?app=game%00",
    "/console/api/reports/summary?app=" + "g" * 81,
    "/console/api/reports/summary?app=game&tz=Mars/Olympus",
    "/console/api/reports/summary?app=game&from=0000-01-01T00:00:00Z",
    "/console/api/reports/summary?app=game&from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z",
    "/console/api/lock-releases?reason=%00",
]


@pytest.mark.parametrize("url", HOSTILE_GETS)
def test_hostile_queries_are_4xx(console, admin, url):
    response = console("admin").call("GET", url)
    assert 400 <= response.status_code < 500, (url, response.status_code, response.get_data(as_text=True)[:300])
    assert response.get_json()["status"] == "error"


USER = {"email": "x@example.com", "password": "long enough pw"}
HOSTILE_BODIES = [
    ("POST", "/console/api/admin/users", {**USER, "username": "a\x00b"}),
    ("POST", "/console/api/admin/users", {**USER, "username": "u" * 65}),
    ("POST", "/console/api/admin/users", {"username": "deep", "email": "x@example.com", "password": "long enough pw",
                                          "display_name": [[[[[[[[[[[["x"]]]]]]]]]]]]}),
    ("POST", "/console/api/admin/api-keys", {"name": "k" * 200, "scopes": ["model:read"]}),
    ("POST", "/console/api/admin/api-keys", {"name": "k", "scopes": ["root"]}),
    ("PUT", "/console/api/admin/settings", {"auto_release.hours": 10 ** 40}),
    ("PUT", "/console/api/admin/settings", {"analytics.public_apps": ["a\x00"]}),
    ("POST", "/console/api/admin/repositories", {"name": "Bad Name!"}),
    ("POST", "/console/api/admin/repositories", {"name": "r" * 65}),
    ("DELETE", "/console/api/repos/default/locks/1", {"force": "yes"}),
]


@pytest.mark.parametrize(("method", "url", "body"), HOSTILE_BODIES)
def test_hostile_bodies_are_4xx_and_store_nothing(console, admin, db, method, url, body):
    from models import ApiKey, Repository, User

    before = (db.session.query(User).count(), db.session.query(ApiKey).count(), db.session.query(Repository).count())
    response = console("admin").call(method, url, json=body)
    assert 400 <= response.status_code < 500, (url, response.status_code, response.get_data(as_text=True)[:300])
    db.session.expire_all()
    assert (db.session.query(User).count(), db.session.query(ApiKey).count(),
            db.session.query(Repository).count()) == before


def test_deeply_nested_and_malformed_json_are_4xx(console, admin):
    boss = console("admin")
    deep = "[" * 100_000 + "]" * 100_000
    for raw in (deep, '{"username": ', "\x00"):
        response = boss.client.post("/console/api/admin/users", data=raw, content_type="application/json",
                                    headers={"X-CSRF-TOKEN": boss.csrf})
        assert 400 <= response.status_code < 500, response.status_code
