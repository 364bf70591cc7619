#!/usr/bin/env bash
# The numbers of docs/RESULTS.md "Photos through RFFR": two default files that differ only in how they score photos,
# compared on the test split's photos (clean and the seven stability edits) and on a subset of synthetic-faces-val.
#   bash scripts/results/photo_route.sh OLD.safetensors NEW.safetensors SYNTHETIC_SUBSET OUTDIR
# Videos are not evaluated: both files run the same members and stacking on them (check a few with
# `forensight detect --model OLD --json` and `--model NEW`, which give the same P(fake) to the last digit).
# SYNTHETIC_SUBSET: `python3 scripts/results/synthesis_subset.py DIR` (seeded: 100 reals, up to 60 fakes per family of
# synthetic-faces-val; validation data, never trained on); per-family AUCs: scripts/results/synthesis_families.py.
# Each evaluate call journals its items (--resume), so an interrupted run continues where it stopped.
# FORENSIGHT_BIN picks the binary (default: the release build). Needs ../shared/datasets.
set -euo pipefail
old="$1"; new="$2"; subset="$3"; out="$4"
root="$(cd "$(dirname "$0")/../.." && pwd)"
data="$root/../shared/datasets"
bin="${FORENSIGHT_BIN:-$root/.build/release/forensight}"
mkdir -p "$out"
cat "${old%.safetensors}.training-ids.txt" "${new%.safetensors}.training-ids.txt" | sort -u > "$out/left-out-ids.txt"
models=(--model "old=$old" --model "new=$new" --exclude-ids "$out/left-out-ids.txt")
# 1. Clean: held-out CelebA people and FairFace test photos.
[ -f "$out/photos-clean.json" ] || "$bin" evaluate "$data/celeba-real" "$data/fairface-real" --test-split "${models[@]}" \
  --out "$out/photos-clean.json" --resume
# 2. Generated faces (validation data: never trained on), re-saved as JPEG 90 as photos online are.
[ -f "$out/sfv-sub.json" ] || "$bin" evaluate "$subset" --model "old=$old" --model "new=$new" --condition crop:jpeg-q90 \
  --out "$out/sfv-sub.json" --resume
# 3. Stability: 100 CelebA and 100 FairFace test photos under seven edits.
[ -f "$out/stability-photos.json" ] || "$bin" evaluate "$data/celeba-real" "$data/fairface-real" --test-split --stability \
  --stability-samples 100 "${models[@]}" --out "$out/stability-photos.json" --resume
# 4. FF++ test frames as photos (JPEG 95), reals and fakes, under the same edits; 2 frames per video (FFPP_FRAMES).
[ -f "$out/stability-ffpp.json" ] || "$bin" evaluate "$data/ffpp-c23-mini" --test-split --stability --stability-samples 100 \
  --stability-frames "${FFPP_FRAMES:-2}" "${models[@]}" --out "$out/stability-ffpp.json" --resume
for f in photos-clean sfv-sub stability-photos stability-ffpp; do "$bin" report "$out/$f.json" --out "$out/report-$f"; done
