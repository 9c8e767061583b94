#!/usr/bin/env bash
# The whole suite, in two lanes: SQLite + in-memory limits, and PostgreSQL + Redis.
# Extra arguments go to pytest (e.g. `make test ARGS="-k locks"`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
ensure_services
# The lock tests drive the real `git lfs` client (Debian package git-lfs).
if ! git lfs version >/dev/null 2>&1; then
  echo "=== installing git-lfs"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq git-lfs
fi
# The console's browser tests drive Debian's chromium through its chromedriver (they skip only without them).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "=== installing chromium and chromium-driver"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq chromium chromium-driver \
    || echo "chromium could not be installed: the console's browser tests will be skipped"
fi

# The two lanes run side by side (each mostly waits on one core: Python, or Python and PostgreSQL), their
# output kept apart and printed lane by lane once both are done. TEST_LANES_IN_TURN=1 runs them in turn.
logs=$(mktemp -d /tmp/concierge-test-lanes.XXXXXX)
run_lane() {
  local rc=0
  CONCIERGE_TEST_LANE=$1 .venv/bin/pytest "${@:2}" || rc=$?
  echo "$rc" > "$logs/$1.rc"
}
if [ -n "${TEST_LANES_IN_TURN:-}" ]; then
  for lane in sqlite postgres; do echo "=== concierge test lane: $lane"; run_lane $lane "$@"; done
else
  echo "=== concierge test lanes: sqlite and postgres, side by side (output follows when both are done)"
  run_lane sqlite "$@" > "$logs/sqlite.log" 2>&1 &
  run_lane postgres "$@" > "$logs/postgres.log" 2>&1 &
  wait
  for lane in sqlite postgres; do echo "=== concierge test lane: $lane"; cat "$logs/$lane.log"; done
fi

declare -A outcome
failed=0
for lane in sqlite postgres; do
  rc=$(cat "$logs/$lane.rc")
  # pytest exit 5 = no tests collected: never a pass
  if [ "$rc" -eq 5 ]; then echo "lane $lane: no tests were collected"; fi
  if [ "$rc" -eq 0 ]; then outcome[$lane]=passed; else outcome[$lane]="FAILED (exit $rc)"; failed=1; fi
done
rm -rf "$logs"
echo "=== lanes: sqlite ${outcome[sqlite]}, postgres ${outcome[postgres]}"
exit $failed
