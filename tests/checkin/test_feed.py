"""GET /api/model/active-users: the check-in contract's exact shape, who may read it, paging, one query."""

from datetime import timedelta

import pytest
from sqlalchemy import event

from extensions import db as _db
from services import clock
from tests.checkin.conftest import T0


def check_in_at(client, headers, at):
    clock.freeze(at)
    return client.post("/api/checkin", headers=headers).get_json()["data"]["session_id"]


def test_feed_answers_the_contract_shape(client, factory, alice, alice_headers, bob, bob_headers, model_headers):
    client.put("/api/users/me/profile", headers=alice_headers,
               json={"display_name": "MusicFan", "preferences": [0.5, 0.8, 0.2, 1.0, 0.0]})
    client.put("/api/users/me/profile", headers=bob_headers,
               json={"display_name": "BeatLover", "preferences": [0.3, 0.6, 0.9, 0.1, 0.7]})
    gone, expired = factory.user("gone"), factory.user("expired")
    check_in_at(client, factory.headers(expired), T0 - timedelta(minutes=31))  # expired at 14:29
    check_in_at(client, alice_headers, T0)
    check_in_at(client, factory.headers(gone), T0 + timedelta(minutes=5))
    client.post("/api/checkout", headers=factory.headers(gone))
    check_in_at(client, bob_headers, T0 + timedelta(minutes=15))
    clock.freeze(T0 + timedelta(minutes=30))
    resp = client.get("/api/model/active-users", headers=model_headers)
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.get_json() == {
        "success": True,
        "count": 2,
        "timestamp": "2025-11-09T14:30:00Z",
        "data": [
            {"user_id": str(alice.id), "display_name": "MusicFan", "checked_in_at": "2025-11-09T14:00:00Z",
             "expires_at": "2025-11-09T15:00:00Z", "preferences": [0.5, 0.8, 0.2, 1.0, 0.0]},
            {"user_id": str(bob.id), "display_name": "BeatLover", "checked_in_at": "2025-11-09T14:15:00Z",
             "expires_at": "2025-11-09T15:15:00Z", "preferences": [0.3, 0.6, 0.9, 0.1, 0.7]},
        ],
    }


def test_feed_escapes_names_and_matches_the_paged_encoding(client, factory, alice, alice_headers, model_headers):
    """The whole feed is encoded by the database on PostgreSQL and by Python for pages: the same item, byte
    for byte meaning, even for names JSON must escape."""
    name = 'Ü "quoted" back\\slash\ttab </script> 🎧'
    assert client.put("/api/users/me/profile", headers=alice_headers,
                      json={"display_name": name, "preferences": [0.125, 1, 0, 0.5, 0.999]}).status_code == 200
    check_in_at(client, alice_headers, T0)
    whole = client.get("/api/model/active-users", headers=model_headers).get_json()
    paged = client.get("/api/model/active-users?limit=5", headers=model_headers).get_json()
    assert whole["data"][0]["display_name"] == name
    assert whole["data"][0]["preferences"] == [0.125, 1, 0, 0.5, 0.999]
    assert whole["data"] == paged["data"] and whole["count"] == paged["count"] == 1


def test_empty_feed(client, model_headers):
    clock.freeze(T0)
    assert client.get("/api/model/active-users", headers=model_headers).get_json() == {
        "success": True, "count": 0, "timestamp": "2025-11-09T14:00:00Z", "data": []}


def test_one_user_is_one_row_after_many_checkins(client, alice_headers, model_headers):
    for minute in range(5):
        check_in_at(client, alice_headers, T0 + timedelta(minutes=minute))
    feed = client.get("/api/model/active-users", headers=model_headers).get_json()
    assert feed["count"] == 1 and feed["data"][0]["expires_at"] == "2025-11-09T15:04:00Z"


def test_paging_with_limit_and_cursor(client, factory, model_headers):
    users = [factory.user(f"user{i}") for i in range(5)]
    for i, user in enumerate(users):
        check_in_at(client, factory.headers(user), T0 + timedelta(minutes=i % 2))  # ties on checked_in_at
    clock.freeze(T0 + timedelta(minutes=10))
    full = client.get("/api/model/active-users", headers=model_headers).get_json()
    assert full["count"] == 5 and "next_cursor" not in full
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        page = client.get("/api/model/active-users", headers=model_headers, query_string=query).get_json()
        assert page["success"] is True and page["count"] == len(page["data"]) <= 2
        seen += page["data"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == full["data"]
    assert [row["checked_in_at"] for row in seen] == sorted(row["checked_in_at"] for row in seen)


def test_paging_errors_in_checkin_shape(client, model_headers, make_app):
    bad_cursor = client.get("/api/model/active-users?limit=2&cursor=bm9wZQ", headers=model_headers)
    assert bad_cursor.status_code == 400
    assert bad_cursor.get_json() == {"success": False, "error": "Invalid cursor"}
    zero = client.get("/api/model/active-users?limit=0", headers=model_headers)
    assert zero.status_code == 422 and zero.get_json()["error"] == "Validation failed"
    assert zero.get_json()["details"][0]["loc"] == ["limit"]
    huge = client.get("/api/model/active-users?limit=10001", headers=model_headers)
    assert huge.status_code == 422 and huge.get_json()["details"] == {"max": 10000}


def _count_statements(engine, monkeypatch):
    """Every statement sent to the database (all of them go through SQLAlchemy's engine)."""
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


@pytest.mark.parametrize("size", [2, 12])
def test_feed_reads_checkins_in_one_query(client, factory, model_headers, size, monkeypatch):
    for i in range(size):
        user = factory.user(f"user{i}")
        client.post("/api/checkin", headers=factory.headers(user))
    statements = _count_statements(_db.engine, monkeypatch)
    feed = client.get("/api/model/active-users", headers=model_headers).get_json()
    assert feed["count"] == size
    reads = [s for s in statements if "checkins" in s]
    assert len(reads) == 1 and "JOIN users" in reads[0]
    assert not [s for s in statements if s.lstrip().upper().startswith("SELECT") and "FROM users" in s
                and "checkins" not in s]  # no per-user lookups


def test_endpoints_are_documented(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path, method in [("/api/checkin", "post"), ("/api/session", "get"), ("/api/checkout", "post"),
                         ("/api/model/active-users", "get"), ("/api/users/me/profile", "put"),
                         ("/api/admin/api-keys", "post"), ("/api/admin/api-keys/{key_id}", "delete")]:
        assert method in paths[path], path
    feed = paths["/api/model/active-users"]["get"]
    assert {"apiKey": []} in feed["security"]
    assert {p["name"] for p in feed["parameters"]} == {"limit", "cursor"}
