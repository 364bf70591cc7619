#!/usr/bin/env bash
# The web app in a real browser: installs (idempotently) Debian's chromium and chromium-driver and selenium from
# PyPI, then runs scripts/serve/browser_test.py. Usage: bash scripts/serve/browser_test.sh BINARY VIDEO [SCREENSHOT]
set -euo pipefail
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium chromium-driver >&2
fi
python3 -c "import selenium" 2>/dev/null || pip install -q selenium >&2
exec python3 "$(dirname "$0")/browser_test.py" "$@"
