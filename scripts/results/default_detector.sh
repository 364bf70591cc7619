#!/usr/bin/env bash
# The numbers of docs/RESULTS.md for the default detector, old and new side by side, on the test split of the
# project's protocol (ProtocolSplit, split seed 0). Each evaluate call journals its items, so an interrupted run
# continues with RESUME=1.
#   bash scripts/results/default_detector.sh OLD.safetensors NEW.safetensors OUTDIR
# Needs ../shared/datasets. Both models are scored on the same samples: the union of their training ids is left out.
# Environment: RESUME=1 continues from the journals; FFPP_STABILITY_FRAMES (8) and ROBUSTNESS_FRAMES (32) set the
# frames per video; SKIP_FFPP_STABILITY=1 and SKIP_ROBUSTNESS=1 leave those steps for a later call (a step whose
# results file exists is not run again); FORENSIGHT_BIN picks the binary (default: the release build).
set -euo pipefail
old="$1"; new="$2"; out="$3"
root="$(cd "$(dirname "$0")/../.." && pwd)"
data="$root/../shared/datasets"
bin="${FORENSIGHT_BIN:-$root/.build/release/forensight}"
mkdir -p "$out"
resume=(); [ "${RESUME:-0}" = 1 ] && resume=(--resume)
cat "${old%.safetensors}.training-ids.txt" "${new%.safetensors}.training-ids.txt" | sort -u > "$out/left-out-ids.txt"
models=(--model "old=$old" --model "new=$new" --exclude-ids "$out/left-out-ids.txt")
# 1. Clean: FF++ (people in fakes), held-out CelebA people, FairFace and Celeb-DF photos and videos.
[ -f "$out/clean.json" ] || "$bin" evaluate "$data/ffpp-c23-mini" "$data/celeba-real" "$data/fairface-real" "$data/celebdf-mini" \
  --test-split "${models[@]}" --out "$out/clean.json" "${resume[@]}"
# 2. Stability of photos: 100 held-out CelebA and 100 FairFace test photos, seven edits.
[ -f "$out/stability-photos.json" ] || "$bin" evaluate "$data/celeba-real" "$data/fairface-real" --test-split --stability "${resume[@]}" \
  --stability-samples 100 "${models[@]}" --out "$out/stability-photos.json"
# 3. Stability of FF++ test videos as frames (JPEG 95), reals and fakes, so the AUC under each edit is measured too.
[ "${SKIP_FFPP_STABILITY:-0}" = 1 ] || [ -f "$out/stability-ffpp.json" ] || "$bin" evaluate "$data/ffpp-c23-mini" --test-split --stability --stability-samples 100 "${resume[@]}" \
  --stability-frames "${FFPP_STABILITY_FRAMES:-8}" "${models[@]}" --out "$out/stability-ffpp.json"
# 4. Robustness on FF++: JPEG 100/90/75/50/30, blur, noise, downscale applied to every frame.
[ "${SKIP_ROBUSTNESS:-0}" = 1 ] || [ -f "$out/robustness.json" ] || "$bin" evaluate "$data/ffpp-c23-mini" --test-split --robustness --frames "${ROBUSTNESS_FRAMES:-32}" \
  "${models[@]}" --out "$out/robustness.json" "${resume[@]}"
for f in clean stability-photos stability-ffpp robustness; do [ -f "$out/$f.json" ] && "$bin" report "$out/$f.json" --out "$out/report-$f"; done; true
