"""The lock and Git LFS endpoints are documented in the generated OpenAPI document."""


def test_lock_and_lfs_routes_are_documented(client):
    spec = client.get("/api/openapi.json").get_json()
    paths = spec["paths"]
    for path, method in [("/api/locks", "get"), ("/api/locks", "post"), ("/api/locks/{asset_path}", "delete"),
                         ("/api/locks/auto-release", "post"), ("/api/locks/path/{asset_path}/notify", "post"),
                         ("/api/admin/lock-releases", "get"), ("/api/lfs/locks", "post"),
                         ("/api/lfs/locks/verify", "post"), ("/api/lfs/locks/{lock_id}/unlock", "post")]:
        assert method in paths.get(path, {}), (method, path)
    assert spec["components"]["securitySchemes"]["basicAuth"] == {"type": "http", "scheme": "basic"}
    assert {"basicAuth": []} in paths["/api/lfs/locks"]["post"]["security"]
