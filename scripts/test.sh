#!/usr/bin/env bash
# The whole suite, in two lanes: SQLite + in-memory limits, then PostgreSQL + Redis.
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

declare -A outcome
failed=0
for lane in sqlite postgres; do
  echo "=== concierge test lane: $lane"
  set +e
  CONCIERGE_TEST_LANE=$lane .venv/bin/pytest "$@"
  rc=$?
  set -e
  # pytest exit 5 = no tests collected: never a pass
  if [ $rc -eq 5 ]; then echo "lane $lane: no tests were collected"; fi
  if [ $rc -eq 0 ]; then outcome[$lane]=passed; else outcome[$lane]="FAILED (exit $rc)"; failed=1; fi
done
echo "=== lanes: sqlite ${outcome[sqlite]}, postgres ${outcome[postgres]}"
exit $failed
