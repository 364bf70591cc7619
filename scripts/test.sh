#!/usr/bin/env bash
# The test suite on a fresh machine: install what is missing, build in release (numerics are tested as shipped), run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup/deps.sh
bash scripts/setup/weights.sh
log=$(mktemp)
if ! swift build -c release --build-tests >"$log" 2>&1; then
  grep -E "error|warning: unre" "$log" >&2 || tail -30 "$log" >&2
  echo "build failed (full log: $log)" >&2; exit 1
fi
swift test -c release --skip-build 2>&1 | grep -vE "^Test Case '.*' started" 
exit "${PIPESTATUS[0]}"
