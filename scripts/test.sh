#!/usr/bin/env bash
# The test suite on a fresh machine: install what is missing, build in release (numerics are tested as shipped), run.
set -euo pipefail
cd "$(dirname "$0")/.."
# --peer: also numpy, onnx and onnxruntime (pip), which the ONNX export test runs against; it skips without them.
bash scripts/setup/deps.sh --peer || { echo "setup: the PyPI peers (onnx, onnxruntime) were not installed: their tests will skip" >&2; bash scripts/setup/deps.sh; }
bash scripts/setup/weights.sh
# PostgreSQL on loopback for the shared-queue tests (ForensightServerTests.PostgresQueueTests); they skip without it.
if [ -z "${FORENSIGHT_TEST_POSTGRES:-}" ]; then
  FORENSIGHT_TEST_POSTGRES=$(bash scripts/setup/postgres.sh) || { echo "PostgreSQL not set up: its tests will skip" >&2; FORENSIGHT_TEST_POSTGRES=""; }
  export FORENSIGHT_TEST_POSTGRES
fi
log=$(mktemp)
if ! swift build -c release --build-tests >"$log" 2>&1; then
  grep -E "error" "$log" >&2 || tail -30 "$log" >&2
  echo "build failed (full log: $log)" >&2; exit 1
fi
set +e
swift test -c release --skip-build --disable-swift-testing 2>&1 | grep -vE "^Test Case '.*' (started|passed)" | tee "$log"
status=${PIPESTATUS[0]}
# The web app end to end on the release binary: a headless Chromium uploads a clip through the page, and the server
# is SIGKILLed during a stream of uploads (scripts/serve/end_to_end.sh; a few minutes). Each is one more test.
e2e=$(mktemp)
bash scripts/serve/end_to_end.sh .build/release/forensight 2>&1 | tee "$e2e"
[ "${PIPESTATUS[0]}" = 0 ] || { [ "$status" != 0 ] || status=1; }
set -e
# One closing line: "tests: N passed, N failed, N skipped".
summary=$(grep -E "Executed [0-9]+ tests?, with" "$log" | tail -1)
number() { echo "$summary" | grep -oE "[0-9]+ $1" | head -1 | grep -oE '^[0-9]+' || echo 0; }
total=$(number "tests?,")
failed=$(number "failures?")
skipped=$(number "tests? skipped")
count() { grep -cE "^end-to-end [a-z]+: $1" "$e2e" || true; }
e2e_passed=$(count passed) e2e_failed=$(count failed) e2e_skipped=$(count skipped)
echo "tests: $((total - failed - skipped + e2e_passed)) passed, $((failed + e2e_failed)) failed, $((skipped + e2e_skipped)) skipped"
exit "$status"
