#!/usr/bin/env bash
# `make bench [BENCH=name]`: run bench/bench_<name>.py (all of them without BENCH) on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
ensure_services
names=${BENCH:-$(ls bench/bench_*.py | sed 's#bench/bench_##; s#\.py##')}
for name in $names; do
  echo "=== bench: $name"
  .venv/bin/python -m "bench.bench_$name"
done
