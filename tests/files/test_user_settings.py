"""The Backend Server guide's user configuration: GET/PUT /api/users/me/settings, a bounded JSON object per account."""


def test_settings_round_trip(client, alice_headers, factory):
    assert client.get("/api/users/me/settings", headers=alice_headers).get_json()["data"] == {}
    resp = client.put("/api/users/me/settings", headers=alice_headers, json={"theme": "dark", "n": [1, 2]})
    assert resp.status_code == 200 and resp.get_json()["data"] == {"theme": "dark", "n": [1, 2]}
    assert client.put("/api/users/me/settings", headers=alice_headers, json={"theme": "light"}).status_code == 200
    assert client.get("/api/users/me/settings", headers=alice_headers).get_json()["data"] == {"theme": "light"}
    other = factory.headers(factory.user("bob"))
    assert client.get("/api/users/me/settings", headers=other).get_json()["data"] == {}


def test_settings_must_be_an_object(client, alice_headers):
    resp = client.put("/api/users/me/settings", headers=alice_headers, json=[1, 2, 3])
    assert resp.status_code == 422 and resp.get_json()["message"] == "Settings must be a JSON object"


def test_settings_size_is_bounded(client, alice_headers):
    resp = client.put("/api/users/me/settings", headers=alice_headers, json={"blob": "x" * 300})
    assert resp.status_code == 413
    assert resp.get_json()["details"]["limit_bytes"] == 200
    assert client.get("/api/users/me/settings", headers=alice_headers).get_json()["data"] == {}


def test_settings_need_login(client):
    assert client.get("/api/users/me/settings").status_code == 401
