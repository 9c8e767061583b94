# Sourced, not run. Provides PostgreSQL and Redis for tests and e2e:
# uses the ones at TEST_DATABASE_URL / TEST_REDIS_URL (default 127.0.0.1:5432 / :6379) when they answer,
# otherwise starts throwaway servers from the installed binaries (apt-get installing them if missing)
# on free loopback ports, and stops them when the calling script exits.

SERVICES_DIR=""

_py() { "${VENV_PY:-.venv/bin/python}" "$@"; }

free_port() { _py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pg_answers() { _py -c 'import sys, psycopg2; psycopg2.connect(sys.argv[1], connect_timeout=2).close()' "$1" 2>/dev/null; }

redis_answers() { _py -c 'import sys, redis; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2).ping()' "$1" 2>/dev/null; }

as_postgres() {
  # PostgreSQL refuses to run as root: drop to the postgres user the Debian package creates.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

apt_install() {
  echo "services: installing $* with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq "$@" >/dev/null
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

start_throwaway_postgres() {
  [ -n "$(pg_bin)" ] || apt_install postgresql
  local bin port data
  bin=$(pg_bin); port=$(free_port); data="$SERVICES_DIR/pg"
  mkdir -p "$data"; [ "$(id -u)" = 0 ] && chown postgres "$SERVICES_DIR" "$data"
  as_postgres "$bin/initdb" -D "$data" -A trust -U postgres >/dev/null
  as_postgres "$bin/pg_ctl" -D "$data" -l "$SERVICES_DIR/pg.log" -w start \
    -o "-p $port -k $SERVICES_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" >/dev/null
  export TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
  echo "services: started throwaway PostgreSQL on port $port" >&2
}

start_throwaway_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  local port; port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --pidfile "$SERVICES_DIR/redis.pid" --logfile "$SERVICES_DIR/redis.log" --dir "$SERVICES_DIR"
  export TEST_REDIS_URL="redis://127.0.0.1:$port/0"
  echo "services: started throwaway Redis on port $port" >&2
}

stop_throwaway_services() {
  [ -n "$SERVICES_DIR" ] || return 0
  if [ -d "$SERVICES_DIR/pg" ]; then as_postgres "$(pg_bin)/pg_ctl" -D "$SERVICES_DIR/pg" -m immediate stop >/dev/null 2>&1 || true; fi
  if [ -f "$SERVICES_DIR/redis.pid" ]; then kill "$(cat "$SERVICES_DIR/redis.pid")" 2>/dev/null || true; fi
  rm -rf "$SERVICES_DIR"
}

ensure_services() {
  export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
  export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"
  SERVICES_DIR=$(mktemp -d /tmp/concierge-services.XXXXXX)
  chmod 755 "$SERVICES_DIR"
  trap stop_throwaway_services EXIT
  if pg_answers "$TEST_DATABASE_URL"; then echo "services: using PostgreSQL at $TEST_DATABASE_URL" >&2
  else start_throwaway_postgres; fi
  if redis_answers "$TEST_REDIS_URL"; then echo "services: using Redis at $TEST_REDIS_URL" >&2
  else start_throwaway_redis; fi
}

start_throwaway_services() {
  # Always fresh ones (e2e: a restart check must not see anybody else's data); the caller stops them
  # with stop_throwaway_services.
  SERVICES_DIR=$(mktemp -d /tmp/concierge-services.XXXXXX)
  chmod 755 "$SERVICES_DIR"
  start_throwaway_postgres
  start_throwaway_redis
}
