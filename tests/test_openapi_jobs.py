"""Generated OpenAPI; the scheduler's leader lock."""

from jobs import LeaderLock


def test_openapi_is_generated_from_pydantic_models(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/login" in spec["paths"] and "post" in spec["paths"]["/api/login"]
    body_ref = spec["paths"]["/api/login"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema_name = body_ref.rsplit("/", 1)[-1]
    assert set(spec["components"]["schemas"][schema_name]["properties"]) == {"username", "password", "app"}
    assert client.get("/api/docs").status_code == 200  # our page on vendored Swagger UI (tests/test_hardening.py)
    assert client.get("/api/docs/swagger/").status_code == 404  # spectree's CDN pages are not registered


def test_only_one_leader_per_database(app):
    first, second = LeaderLock(app), LeaderLock(app)
    assert first.try_acquire() is True
    try:
        assert second.try_acquire() is False
        assert first.still_held()
    finally:
        first.release()
    assert second.try_acquire() is True
    second.release()
