#!/usr/bin/env bash
# `make bench`: the quick benchmarks, one after another (a few minutes on 2 cores; run it on an
# otherwise idle machine). Each prints its figures and ends with a key=value line; this script
# prints those last lines together at the end, with the CPU and the load, for
# docs/benchmarks.md. The long learning comparison is separate: python bench/agents_compare.py.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
set +u
# shellcheck source=/dev/null
source "$ROOT/env.sh"
set -u
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
BENCHES=(sim_throughput controller_loop transition_io transition_transport learner_throughput)
summary=()
for b in "${BENCHES[@]}"; do
  echo "== python bench/$b.py"
  out="$(python "bench/$b.py" 2>&1 | tee /dev/stderr | tail -n 1)"
  summary+=("$b: $out")
done
echo
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p'), load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s\n' "${summary[@]}"
