#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build in release, run `forensight` with your arguments.
#   bash scripts/run.sh bench engine
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup/deps.sh --peer
bash scripts/setup/weights.sh
log=$(mktemp)
if ! swift build -c release --product forensight >"$log" 2>&1; then
  grep -E "error|warning: unre" "$log" >&2 || tail -30 "$log" >&2
  echo "build failed (full log: $log)" >&2; exit 1
fi
export FORENSIGHT_ROOT="$PWD"
exec .build/release/forensight "$@"
