#!/usr/bin/env bash
# The project's test command: set up (idempotent), build, run every package's tests with
# `colcon test` (each package prints its 5 slowest tests: the suite must stay under 15 min on
# CI), then `colcon test-result --verbose`. Exits non-zero on any failure or error.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
set +u
# shellcheck source=/dev/null
source "$ROOT/env.sh"
set -u
# Every node a test starts talks only on this machine, on domains of this run's own
# (each package adds its own offset 1..5 to this base; see src/*/test/conftest.py).
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export SERL_TEST_DOMAIN_BASE="${SERL_TEST_DOMAIN_BASE:-$(( 10 * (1 + $$ % 9) ))}"
export MUJOCO_GL="${MUJOCO_GL:-egl}"

rm -rf "$ROOT/build"/*/test_results "$ROOT/build"/*/pytest.xml
rc=0
colcon test --executor sequential --event-handlers console_direct+ \
  --return-code-on-test-failure \
  --pytest-args -ra --durations=5 --timeout=600 -p no:cacheprovider "$@" || rc=$?
summary="$(colcon test-result --all --verbose 2>&1)" || rc=1
echo "$summary"
# One closing line a CI reader understands, from colcon's own count.
python3 - "$summary" <<'PY'
import re, sys
m = re.search(r'Summary: (\d+) tests?, (\d+) errors?, (\d+) failures?, (\d+) skipped', sys.argv[1])
if m:
    tests, errors, failures, skipped = map(int, m.groups())
    passed = tests - errors - failures - skipped
    print(f'serl-ros2: {passed} passed, {errors + failures} failed, {skipped} skipped')
PY
exit $rc
