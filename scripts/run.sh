#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build in release, run `forensight` with your arguments.
#   bash scripts/run.sh detect clip.mp4
#   bash scripts/run.sh bench engine          (also installs the ONNX Runtime peer from PyPI)
# Relative paths are taken from the folder you run it in.
set -euo pipefail
caller="$PWD"
cd "$(dirname "$0")/.."
root="$PWD"
if [ "${1:-}" = bench ]; then bash scripts/setup/deps.sh --peer; else bash scripts/setup/deps.sh; fi
bash scripts/setup/weights.sh
log=$(mktemp)
if ! swift build -c release --product forensight >"$log" 2>&1; then
  grep -E "error|warning: unre" "$log" >&2 || tail -30 "$log" >&2
  echo "build failed (full log: $log)" >&2; exit 1
fi
export FORENSIGHT_ROOT="$root"
cd "$caller"
exec "$root/.build/release/forensight" "$@"
