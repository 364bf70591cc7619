#!/usr/bin/env bash
# The web app end to end on a release binary, as the README's test command runs it after the Swift tests:
#   1. browser: a headless Chromium (Debian's chromium and chromium-driver, selenium from PyPI, installed here if
#      missing) uploads a generated 10-s 720p clip through the page and checks the rendered verdict against the
#      record; the screenshot goes to docs/serve-result.png (a synthetic clip: no dataset image enters the repo);
#   2. kill: 20 uploads while the server is SIGKILLed 4 times; every acknowledged upload must end with one result.
# Usage: bash scripts/serve/end_to_end.sh BINARY
# Prints one line per test ("end-to-end NAME: passed|failed|skipped (reason)") and closes with
# "end-to-end: N passed, N failed, N skipped"; exits 1 when one failed. A test skips only when a tool it needs
# cannot be installed.
set -uo pipefail
cd "$(dirname "$0")/../.."
binary=${1:?usage: end_to_end.sh BINARY}
[ -x "$binary" ] || { echo "end-to-end: no binary at $binary" >&2; exit 1; }
work=$(mktemp -d /tmp/forensight-e2e-XXXXXX)
log="$work/e2e.log"
passed=0 failed=0 skipped=0
report() {  # NAME OUTCOME [REASON]
  echo "end-to-end $1: $2${3:+ ($3)}"
  case $2 in passed) passed=$((passed + 1));; failed) failed=$((failed + 1));; *) skipped=$((skipped + 1));; esac
}
install_browser() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    { $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium chromium-driver; } >>"$log" 2>&1 \
      || { echo "apt-get could not install chromium and chromium-driver"; return 1; }
  fi
  python3 -c "import selenium" 2>/dev/null || python3 -m pip install -q selenium >>"$log" 2>&1 \
    || { echo "pip could not install selenium"; return 1; }
}

# 1. The page in a real browser, with a clip made here (testsrc2 has no face: the verdict is NO_FACE).
clip="$work/testsrc.mp4"
if ! command -v ffmpeg >/dev/null; then
  report browser skipped "no ffmpeg to make the clip"
elif ! ffmpeg -v error -f lavfi -i testsrc2=size=1280x720:rate=25 -t 10 -pix_fmt yuv420p "$clip" >>"$log" 2>&1; then
  report browser failed "ffmpeg could not make the clip (log: $log)"
elif ! why=$(install_browser); then
  report browser skipped "$why"
elif out=$(timeout 900 python3 scripts/serve/browser_test.py "$binary" "$clip" docs/serve-result.png 2>>"$log"); then
  echo "$out"
  report browser passed
else
  echo "$out"
  report browser failed "log: $log"
fi

# 2. SIGKILLs during a stream of uploads.
if out=$(timeout 900 python3 scripts/serve/kill_test.py "$binary" --uploads 20 --kills 4 --port 18181 2>>"$log"); then
  echo "$out"
  report kill passed
else
  echo "$out"
  report kill failed "log: $log"
fi

echo "end-to-end: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
