"""The settings resolver: precedence, config.json, secrets."""

import json

import pytest

import settings
from app import create_app


def test_precedence_default_file_env_override(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"alohomora": {"timeout": 7}, "app": {"port": 9000}}))
    values = settings.load_static({"config_json": str(cfg)}, environ={})
    assert values["alohomora.timeout"] == 7 and values["app.port"] == 9000
    assert values["auto_release.hours"] == 72  # built-in default
    values = settings.load_static({"config_json": str(cfg)}, environ={"PORT": "9100", "ALOHOMORA_TIMEOUT": "2.5"})
    assert values["app.port"] == 9100 and values["alohomora.timeout"] == 2.5
    values = settings.load_static({"config_json": str(cfg), "app.port": 9200}, environ={"PORT": "9100"})
    assert values["app.port"] == 9200


def test_config_json_is_created_with_app1_keys(tmp_path):
    cfg = tmp_path / "config.json"
    settings.load_static({"config_json": str(cfg)}, environ={})
    created = json.loads(cfg.read_text())
    assert created["alohomora"] == {"base_url": "http://localhost:8000", "timeout": 5}
    assert set(created["app"]) == {"host", "port", "debug"}


def test_env_values_are_parsed_and_validated(tmp_path):
    cfg = str(tmp_path / "c.json")
    assert settings.load_static({"config_json": cfg}, environ={"MAIL_ENABLED": "yes"})["mail.enabled"] is True
    with pytest.raises(ValueError):
        settings.load_static({"config_json": cfg}, environ={"AUTO_RELEASE_HOURS": "soon"})
    with pytest.raises(ValueError):
        settings.load_static({"config_json": cfg}, environ={"MAIL_ENABLED": "maybe"})


def test_database_override_wins_for_runtime_keys(app, runner):
    assert settings.get("auto_release.hours") == 72
    result = runner.invoke(args=["set-config", "auto_release.hours", "12"])
    assert result.exit_code == 0, result.output
    settings.forget_db_overrides()
    assert settings.get("auto_release.hours") == 12
    assert settings.static("auto_release.hours") == 72


def test_production_refuses_to_start_without_secret(base_settings, tmp_path):
    overrides = {**base_settings, "app.env": "production", "jwt.secret_key": ""}
    with pytest.raises(RuntimeError, match="JWT_SECRET_KEY"):
        create_app(overrides)
    with pytest.raises(RuntimeError, match="at least"):
        create_app({**overrides, "jwt.secret_key": "short"})


def test_development_generates_and_keeps_a_secret(base_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("CONCIERGE_INSTANCE", str(tmp_path))
    first = create_app({**base_settings, "app.env": "development", "jwt.secret_key": ""})
    second = create_app({**base_settings, "app.env": "development", "jwt.secret_key": ""})
    assert first.config["JWT_SECRET_KEY"] == second.config["JWT_SECRET_KEY"]
    assert len(first.config["JWT_SECRET_KEY"]) >= 32
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o077 == 0


def test_every_setting_is_documented_in_the_settings_page():
    from tests.conftest import PROJECT_ROOT

    page = (PROJECT_ROOT / "docs" / "settings.md").read_text()
    missing = [key for key in settings.SETTINGS if f"`{key}`" not in page]
    assert missing == []


def test_generated_secret_is_created_once_under_concurrency(tmp_path):
    """Workers of a fresh install start together: they must all end up with the same secret."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: settings.generated_secret(str(tmp_path), "shared"), range(32)))
    assert len({secret for secret, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["shared"]  # no temp files left behind


def test_overrides_are_kept_per_process_for_a_moment(app, db, monkeypatch):
    """Another worker's write (a row this process did not write) shows once the process's copy is stale."""
    from sqlalchemy import insert

    from models import ConfigEntry

    assert settings.get("auto_release.hours") == 72  # read, and now kept by this process
    db.session.execute(insert(ConfigEntry).values(key="auto_release.hours", value=6, updated_by="other worker"))
    db.session.commit()
    assert settings.get("auto_release.hours") == 72  # within the TTL: this process's copy
    monkeypatch.setattr(settings, "OVERRIDES_TTL_SECONDS", 0.0)
    assert settings.get("auto_release.hours") == 6


def test_a_write_through_this_process_is_seen_at_once(app, client, admin_headers):
    assert settings.get("auto_release.hours") == 72
    resp = client.put("/api/admin/config", json={"auto_release.hours": 9}, headers=admin_headers)
    assert resp.status_code == 200, resp.get_json()
    assert settings.get("auto_release.hours") == 9
