"""The deployment files, checked without Docker: compose structure, Dockerfile, entrypoint, .env.example, nginx."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import settings

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import env_example  # noqa: E402
from render_template import render  # noqa: E402

NGINX_NAMES = ["NGINX_LISTEN", "API_UPSTREAM", "NGINX_CLIENT_MAX_BODY_SIZE", "NGINX_RUN_DIR", "NGINX_ACCESS_LOG",
               "NGINX_ERROR_LOG", "METRICS_ALLOW_FROM"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_every_service_with_a_healthcheck(compose):
    services = compose["services"]
    assert set(services) == {"api", "postgres", "redis", "nginx", "mailpit", "minio", "minio-bucket"}
    for name, service in services.items():
        if service.get("restart") == "no":
            continue  # a one-shot setup step (minio-bucket): it exits, there is nothing to check
        assert service["healthcheck"]["test"], name
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["api"]["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                             "redis": {"condition": "service_healthy"}}
    assert services["nginx"]["depends_on"] == {"api": {"condition": "service_healthy"}}


def test_compose_volumes_keep_database_and_workspace(compose):
    assert set(compose["volumes"]) == {"pgdata", "workspace", "lfs", "minio"}
    assert "lfs:/app/instance/lfs" in compose["services"]["api"]["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]
    assert "workspace:/app/instance/workspace" in compose["services"]["api"]["volumes"]


def test_compose_api_environment_points_at_the_other_services(compose):
    env = compose["services"]["api"]["environment"]
    assert env["CONCIERGE_ENV"] == "production"
    assert env["DATABASE_URI"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URI"]
    assert env["RATELIMIT_STORAGE_URI"] == "redis://redis:6379/0"
    assert env["GUNICORN_BIND"] == "0.0.0.0:5000" and env["TRUSTED_PROXIES"].endswith("1}")
    assert compose["services"]["api"]["stop_grace_period"] == "30s"
    assert "ports" not in compose["services"]["api"]  # only nginx is published


def test_compose_nginx_fills_in_every_template_name(compose):
    nginx = compose["services"]["nginx"]
    assert "./deploy/nginx.conf:/etc/nginx/templates/nginx.conf.template:ro" in nginx["volumes"]
    assert nginx["environment"]["NGINX_ENVSUBST_OUTPUT_DIR"] == "/etc/nginx"
    assert set(NGINX_NAMES) <= set(nginx["environment"])
    assert nginx["environment"]["API_UPSTREAM"] == "api:5000"
    template_names = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", _nginx_directives()))
    assert template_names == set(NGINX_NAMES)


def _nginx_directives() -> str:
    return "\n".join(line for line in (ROOT / "deploy/nginx.conf").read_text().splitlines()
                     if not line.lstrip().startswith("#"))


def _bytes(size: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", size).groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit.lower()]


def test_nginx_body_limit_covers_the_apps_largest_limit(compose):
    default = re.fullmatch(r"\$\{NGINX_CLIENT_MAX_BODY_SIZE:-(\w+)\}",
                           compose["services"]["nginx"]["environment"]["NGINX_CLIENT_MAX_BODY_SIZE"]).group(1)
    # the limits on ONE request body (a quota such as workspace.quota_bytes spans many requests)
    request_limits = ("http.max_body_bytes", "workspace.max_file_bytes", "users.settings_max_bytes")
    largest = max(settings.SETTINGS[key].default for key in request_limits)
    assert _bytes(default) >= largest, "raise NGINX_CLIENT_MAX_BODY_SIZE (compose, .env.example) to the app's limit"
    assert f"NGINX_CLIENT_MAX_BODY_SIZE={default}" in (ROOT / ".env.example").read_text()


def test_env_example_is_generated_from_settings():
    text = (ROOT / ".env.example").read_text()
    assert text == "\n".join(env_example.lines()) + "\n", "run: .venv/bin/python scripts/env_example.py > .env.example"
    names = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, re.M))
    wanted = {s.env for s in settings.SETTINGS.values() if s.env} - env_example.OMITTED
    assert wanted <= names
    assert {"POSTGRES_PASSWORD", "WEB_CONCURRENCY", "GUNICORN_BIND", "PROMETHEUS_MULTIPROC_DIR"} <= names
    assert re.search(r"^JWT_SECRET_KEY=$", text, re.M)  # secrets are never given example values


def test_dockerfile_layers_and_user():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    copy_requirements = lines.index("COPY requirements.txt .")
    pip = next(i for i, line in enumerate(lines) if "pip install" in line)
    copy_all = next(i for i, line in enumerate(lines) if line.startswith("COPY") and line.endswith(". ."))
    assert copy_requirements < pip < copy_all  # dependencies are their own cached layer
    user = lines.index("USER concierge")
    assert not [line for line in lines[user:] if line.startswith("RUN")]  # nothing is installed at or after USER
    assert lines[-1] == 'ENTRYPOINT ["./entrypoint.sh"]'
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".env", "instance", ".git"} <= set(ignored)


def test_entrypoint_steps_in_order():
    text = (ROOT / "entrypoint.sh").read_text()
    assert "\nset -euo pipefail\n" in text
    order = ["DB_WAIT_SECONDS", "flask db upgrade", "flask create-admin", "flask test-email --help",
             "exec gunicorn -c deploy/gunicorn.conf.py app:app"]
    positions = [text.index(step) for step in order]
    assert positions == sorted(positions)
    assert subprocess.run(["bash", "-n", str(ROOT / "entrypoint.sh")]).returncode == 0


def test_render_template_fills_only_named_uppercase_variables():
    text = "listen ${NGINX_LISTEN}; set $x $request_id; ${OTHER}"
    assert render(text, ["NGINX_LISTEN"], {"NGINX_LISTEN": "8080", "OTHER": "no"}) == \
        "listen 8080; set $x $request_id; ${OTHER}"
    with pytest.raises(SystemExit):
        render(text, ["NGINX_LISTEN"], {})


@pytest.mark.skipif(not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()), reason="nginx not installed")
def test_rendered_nginx_conf_passes_nginx_t(tmp_path):
    values = {"NGINX_LISTEN": "127.0.0.1:1", "API_UPSTREAM": "127.0.0.1:2", "NGINX_CLIENT_MAX_BODY_SIZE": "1m",
              "NGINX_RUN_DIR": str(tmp_path), "NGINX_ACCESS_LOG": str(tmp_path / "access.log"),
              "NGINX_ERROR_LOG": str(tmp_path / "error.log"), "METRICS_ALLOW_FROM": "127.0.0.1"}
    conf = tmp_path / "nginx.conf"
    conf.write_text(render((ROOT / "deploy/nginx.conf").read_text(), NGINX_NAMES, values))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    done = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = conf.read_text()
    for header in ("X-Request-ID", "X-Forwarded-For", "X-Forwarded-Proto"):
        assert f"proxy_set_header {header}" in text
    assert "client_max_body_size 1m;" in text


def _check_compose_schema(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / ".venv/bin/check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
                           str(path)], capture_output=True, text=True)


def test_compose_file_matches_the_compose_specification(tmp_path):
    done = _check_compose_schema(ROOT / "docker-compose.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    # the check can fail: a misspelt healthcheck key is refused
    broken = (ROOT / "docker-compose.yml").read_text().replace("start_period: 30s", "start_periode: 30s")
    (tmp_path / "docker-compose.yml").write_text(broken)
    assert _check_compose_schema(tmp_path / "docker-compose.yml").returncode != 0
