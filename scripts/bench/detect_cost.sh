#!/usr/bin/env bash
# Whole-process `detect` time of several models (and builds) on one clip, in a loop of alternating runs, so that
# their ratios are measured under the same load.
#   bash scripts/bench/detect_cost.sh CLIP ROUNDS NAME=BINARY:MODEL [NAME=BINARY:MODEL ...]
# Prints one line per run: round, name, seconds, load average; then the median per name.
set -euo pipefail
clip="$1"; rounds="$2"; shift 2
log=$(mktemp)
for ((i = 1; i <= rounds; i++)); do
  for row in "$@"; do
    name="${row%%=*}"; spec="${row#*=}"; bin="${spec%%:*}"; model="${spec#*:}"
    start=$(date +%s.%N)
    "$bin" detect "$clip" --model "$model" --json > /dev/null
    end=$(date +%s.%N)
    echo "$i $name $(echo "$end - $start" | bc) $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$log"
  done
done
python3 - "$log" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    _, name, seconds, _ = line.split()
    runs.setdefault(name, []).append(float(seconds))
for name, times in runs.items():
    print(f"median {name} {statistics.median(times):.2f} s over {len(times)} runs")
PY
