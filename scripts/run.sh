#!/usr/bin/env bash
# `make run`: the embedded default (SQLite in instance/, in-memory rate limits, in-process scheduler).
set -euo pipefail
cd "$(dirname "$0")/.."
export FLASK_APP=app
.venv/bin/flask db upgrade
.venv/bin/flask create-admin
exec .venv/bin/gunicorn -c deploy/gunicorn.conf.py "app:app"
