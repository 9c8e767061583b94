#!/usr/bin/env bash
# `make e2e`: the production topology of docker-compose.yml, without Docker, on this machine's loopback:
# throwaway PostgreSQL and Redis (Debian's packages, installed if missing), the api started by
# entrypoint.sh exactly as the container starts it (CONCIERGE_ENV=production, 4 gunicorn workers),
# nginx with deploy/nginx.conf in front, a local Alohomora stand-in; then scripts/e2e_smoke.py drives
# every check through nginx, restarts the api and checks that nothing was lost. Everything is torn down.
#
#   make e2e                                   # every step
#   E2E_ONLY=login,restart,scheduler make e2e  # infrastructure steps + a subset (see e2e_smoke.py --help)
#   E2E_KEEP=1 make e2e                        # keep the temp folder (logs) afterwards
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source scripts/services.sh

work=$(mktemp -d /tmp/concierge-e2e.XXXXXX)
chmod 755 "$work"
standin_pid=""
nginx_pid=""

cleanup() {
  local rc=$?
  set +e
  if [ -f "$work/app.pid" ]; then kill -TERM "$(cat "$work/app.pid")" 2>/dev/null; fi
  if [ -n "$nginx_pid" ]; then kill -QUIT "$nginx_pid" 2>/dev/null; wait "$nginx_pid" 2>/dev/null; fi
  if [ -n "$standin_pid" ]; then kill "$standin_pid" 2>/dev/null; wait "$standin_pid" 2>/dev/null; fi
  if [ -f "$work/app.pid" ]; then
    for _ in $(seq 50); do kill -0 "$(cat "$work/app.pid")" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$(cat "$work/app.pid")" 2>/dev/null
  fi
  stop_throwaway_services
  if [ $rc -ne 0 ]; then
    echo "--- e2e failed; last lines of the api log ($work/app.log):"
    tail -n 40 "$work/app.log" 2>/dev/null
    echo "--- nginx error log:"
    tail -n 20 "$work/nginx/error.log" 2>/dev/null
  fi
  if [ -n "${E2E_KEEP:-}" ]; then echo "e2e: kept $work (E2E_KEEP)"; rm -rf "$work/nginx/client_body" "$work/pg"
  else rm -rf "$work"; fi
  echo "e2e: torn down"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "=== e2e: services"
start_throwaway_services
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install nginx
git lfs version >/dev/null 2>&1 || apt_install git-lfs  # the lfs step drives the real client
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
"$NGINX" -v 2>&1 | sed 's/^/e2e: /'

# The database the container would get from docker-compose.yml (its own, not the server's default one).
.venv/bin/python -c 'import sys, psycopg2
c = psycopg2.connect(sys.argv[1]); c.autocommit = True; c.cursor().execute("CREATE DATABASE concierge")' "$TEST_DATABASE_URL"

api_port=$(free_port); nginx_port=$(free_port); standin_port=$(free_port)
secret() { .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(36))'; }

# The api's environment: docker-compose.yml's, with loopback addresses instead of service names.
export PATH="$ROOT/.venv/bin:$PATH"
export CONCIERGE_ENV=production FLASK_APP=app
export CONCIERGE_INSTANCE="$work/instance" CONCIERGE_CONFIG="$work/config.json"
export DATABASE_URI="${TEST_DATABASE_URL%/*}/concierge"
export RATELIMIT_STORAGE_URI="$TEST_REDIS_URL"
export JWT_SECRET_KEY; JWT_SECRET_KEY=$(secret)
export MODEL_API_KEY; MODEL_API_KEY=$(secret)
export INITIAL_ADMIN_USER=e2eadmin INITIAL_ADMIN_EMAIL=e2eadmin@example.com
export INITIAL_ADMIN_PASSWORD; INITIAL_ADMIN_PASSWORD=$(secret)
export GUNICORN_BIND="127.0.0.1:$api_port" WEB_CONCURRENCY=4 GUNICORN_GRACEFUL_TIMEOUT=20
export TRUSTED_PROXIES=1 FORWARDED_ALLOW_IPS=127.0.0.1
export PROMETHEUS_MULTIPROC_DIR="$work/metrics"
export MAIL_ENABLED=false
export ALOHOMORA_BASE_URL="http://127.0.0.1:$standin_port" ALOHOMORA_TIMEOUT=5
# e2e only: jobs every second and quick takeover, so the single-runner check fits in seconds.
export SCHEDULER_INTERVAL_SECONDS=1 SCHEDULER_STANDBY_POLL_SECONDS=1

if .venv/bin/python -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("tests.alohomora_standin") is None)'; then
  .venv/bin/python -m tests.alohomora_standin --port "$standin_port" >"$work/standin.log" 2>&1 &
  standin_pid=$!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$standin_port") 2>/dev/null && break; sleep 0.2; done
  echo "e2e: Alohomora stand-in on port $standin_port"
else
  echo "e2e: no tests/alohomora_standin.py in this build: the relay step will fail if selected"
fi

# nginx: deploy/nginx.conf filled in like the nginx image does, everything under $work, in the foreground.
mkdir -p "$work/nginx"
export NGINX_LISTEN="127.0.0.1:$nginx_port" API_UPSTREAM="127.0.0.1:$api_port"
export NGINX_CLIENT_MAX_BODY_SIZE="${NGINX_CLIENT_MAX_BODY_SIZE:-12m}" NGINX_RUN_DIR="$work/nginx"
export NGINX_ACCESS_LOG="$work/nginx/access.log" NGINX_ERROR_LOG="$work/nginx/error.log" METRICS_ALLOW_FROM=127.0.0.1
.venv/bin/python scripts/render_template.py deploy/nginx.conf "$work/nginx/nginx.conf" \
  NGINX_LISTEN API_UPSTREAM NGINX_CLIENT_MAX_BODY_SIZE NGINX_RUN_DIR NGINX_ACCESS_LOG NGINX_ERROR_LOG METRICS_ALLOW_FROM
"$NGINX" -t -q -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf"
"$NGINX" -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
echo "e2e: nginx on 127.0.0.1:$nginx_port -> api on 127.0.0.1:$api_port"

echo "=== e2e: smoke suite (through nginx)"
.venv/bin/python scripts/e2e_smoke.py \
  --nginx "http://127.0.0.1:$nginx_port" --api "http://127.0.0.1:$api_port" \
  --standin "http://127.0.0.1:$standin_port" \
  --entrypoint "$ROOT/entrypoint.sh" --work "$work" ${E2E_ONLY:+--only "$E2E_ONLY"}
