#!/usr/bin/env bash
# The api container's entrypoint (Dockerfile), also run as is by `make e2e`:
# wait for the database, migrate, create the admin, test mail when enabled, then exec gunicorn
# (PID 1 in the container, so SIGTERM from `docker stop` reaches it and it shuts down gracefully).
set -euo pipefail
cd "$(dirname "$0")"
export FLASK_APP="${FLASK_APP:-app}"
PYTHON="${PYTHON:-python}"

log() { echo "entrypoint: $*"; }

log "waiting for the database (up to ${DB_WAIT_SECONDS:-60}s)"
"$PYTHON" - <<'PY'
"""Connect with the settings' DATABASE_URI until it answers or DB_WAIT_SECONDS pass."""
import os
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

import settings
from app import database_uri

instance = os.environ.get("CONCIERGE_INSTANCE") or str(Path("instance").resolve())
uri = database_uri(settings.load_static()["database.uri"], instance)
if uri.startswith("sqlite"):
    sys.exit(0)
engine = create_engine(uri, connect_args={"connect_timeout": 3} if uri.startswith("postgresql") else {})
deadline = time.monotonic() + float(os.environ.get("DB_WAIT_SECONDS", "60"))
while True:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        break
    except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
        if time.monotonic() > deadline:
            sys.exit(f"entrypoint: the database did not answer: {type(exc).__name__}: {exc}")
        time.sleep(1)
engine.dispose()
PY

log "flask db upgrade"
flask db upgrade
log "flask create-admin"
flask create-admin

case "$(echo "${MAIL_ENABLED:-false}" | tr '[:upper:]' '[:lower:]')" in
  1|true|yes|on)
    if flask test-email --help >/dev/null 2>&1; then
      # The result is recorded in the database (system.startup.mail_test_status); a bad mail server
      # must not keep the api down.
      log "flask test-email"
      flask test-email || log "test-email failed (continuing)"
    else
      log "MAIL_ENABLED but this build has no 'flask test-email': skipped"
    fi
    ;;
esac

log "starting gunicorn"
exec gunicorn -c deploy/gunicorn.conf.py app:app
