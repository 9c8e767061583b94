"""GET/PUT /api/users/me/profile: defaults, updates, validation of the 5 preferences."""

import pytest

PROFILE = "/api/users/me/profile"


def test_defaults(client, alice, alice_headers):
    resp = client.get(PROFILE, headers=alice_headers)
    assert resp.status_code == 200
    assert resp.get_json()["data"] == {"user_id": str(alice.id), "username": "alice", "display_name": "alice",
                                       "preferences": [0.5, 0.5, 0.5, 0.5, 0.5]}


def test_update_and_read_back(client, alice_headers):
    resp = client.put(PROFILE, headers=alice_headers, json={"display_name": "  MusicFan ",
                                                            "preferences": [0, 1, 0.25, 0.5, 1.0]})
    assert resp.status_code == 200 and resp.get_json()["message"] == "Profile updated"
    assert resp.get_json()["data"]["display_name"] == "MusicFan"
    assert resp.get_json()["data"]["preferences"] == [0.0, 1.0, 0.25, 0.5, 1.0]
    only_name = client.put(PROFILE, headers=alice_headers, json={"display_name": "DJ"})
    assert only_name.get_json()["data"]["preferences"] == [0.0, 1.0, 0.25, 0.5, 1.0]
    data = client.get(PROFILE, headers=alice_headers).get_json()["data"]
    assert data["display_name"] == "DJ" and data["preferences"] == [0.0, 1.0, 0.25, 0.5, 1.0]


@pytest.mark.parametrize(("body", "loc"), [
    ({"preferences": [0.5, 0.5, 0.5, 0.5]}, ["preferences"]),
    ({"preferences": [0.5] * 6}, ["preferences"]),
    ({"preferences": [0.5, 0.5, 1.5, 0.5, 0.5]}, ["preferences", 2]),
    ({"preferences": [0.5, -0.1, 0.5, 0.5, 0.5]}, ["preferences", 1]),
    ({"preferences": ["0.5", 0.5, 0.5, 0.5, 0.5]}, ["preferences", 0]),
    ({"preferences": [True, 0.5, 0.5, 0.5, 0.5]}, ["preferences", 0]),
    ({"preferences": [None, 0.5, 0.5, 0.5, 0.5]}, ["preferences", 0]),
    ({"preferences": "0.5,0.5,0.5,0.5,0.5"}, ["preferences"]),
    ({"display_name": ""}, ["display_name"]),
    ({"display_name": "x" * 81}, ["display_name"]),
    ({"nickname": "x"}, ["nickname"]),
])
def test_validation(client, alice_headers, body, loc):
    resp = client.put(PROFILE, headers=alice_headers, json=body)
    assert resp.status_code == 422
    assert resp.get_json()["status"] == "error"
    assert [d["loc"] for d in resp.get_json()["details"]] == [loc]
    assert client.get(PROFILE, headers=alice_headers).get_json()["data"]["preferences"] == [0.5] * 5


def test_non_finite_is_refused(client, alice_headers):
    resp = client.put(PROFILE, headers={**alice_headers, "Content-Type": "application/json"},
                      data='{"preferences": [NaN, 0.5, 0.5, 0.5, 0.5]}')
    assert resp.status_code in (400, 422)
    assert client.get(PROFILE, headers=alice_headers).get_json()["data"]["preferences"] == [0.5] * 5


def test_empty_update_is_422(client, alice_headers):
    resp = client.put(PROFILE, headers=alice_headers, json={})
    assert resp.status_code == 422 and resp.get_json()["message"].startswith("Nothing to update")


def test_needs_a_token(client):
    resp = client.get(PROFILE)
    assert resp.status_code == 401 and resp.get_json()["status"] == "error"
