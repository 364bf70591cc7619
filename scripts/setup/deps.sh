#!/usr/bin/env bash
# Installs Forensight's system and Python dependencies on Debian/Ubuntu, idempotently.
#   deps.sh            system libraries (OpenBLAS, ffmpeg) — enough to build and test
#   deps.sh --peer     also the PyPI packages of the benchmark peer (numpy, onnx, onnxruntime)
set -euo pipefail

apt_packages=(libopenblas-dev libjpeg62-turbo-dev libpng-dev ffmpeg)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]} (apt)" >&2
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >&2
fi

if [ "${1:-}" = "--peer" ]; then
  if ! python3 -c "import numpy, onnx, onnxruntime" 2>/dev/null; then
    echo "setup: installing numpy onnx onnxruntime (pip)" >&2
    python3 -m pip install -q numpy onnx onnxruntime >&2
  fi
fi

command -v swift >/dev/null || { echo "setup: Swift 6 is required (https://www.swift.org/install/linux/)" >&2; exit 1; }
