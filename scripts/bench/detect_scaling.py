#!/usr/bin/env python3
"""Whole-process wall time and peak memory of `forensight detect` as inputs grow longer and larger (issue 23).

Makes the inputs from FF++ 033.mp4 (854x480 H.264) with ffmpeg, then runs each given build on each input,
alternating builds within every round, and prints a Markdown table: median wall time, the largest peak resident
memory of forensight plus its ffmpeg/ffprobe children (scripts/bench/peak_rss.py), and the verdict.

    scripts/bench/detect_scaling.py --build old=/tmp/forensight-old --build new=.build/release/forensight \
        [--inputs /tmp/forensight-scaling] [--rounds 3] [--only 10s,10min,1h] \
        [--peer python=/path/to/python3 --peer-onnx NET.onnx [--peer-onnx NET2.onnx ...] [--peer-decode select|seek]]

--peer adds the Python pipeline of scripts/bench/pipeline_peer.py (ffmpeg, facenet-pytorch MTCNN, ONNX Runtime on
the --peer-onnx graphs, which `forensight export --onnx` writes) as one more column, timed the same way (a whole
process, one run per round, its imports included) on every video input; it does not read folders. For a
like-for-like column, give the builds `--model` with the detector whose graphs the peer runs (the peer has no
mouth-motion member, no calibration and no stacking weights).

Inputs (made once, reused):
  10s     ffmpeg -stream_loop 140 -i 033.mp4 -t 10   -c copy
  10min   ffmpeg -stream_loop 140 -i 033.mp4 -t 600  -c copy
  1h      ffmpeg -stream_loop 140 -i 033.mp4 -t 3600 -c copy
  4k      ffmpeg -t 10 -i 033.mp4 -an -vf scale=3840:2160 -c:v libx264 -preset veryfast -pix_fmt yuv420p
  8k      ffmpeg -ss 5 -i 033.mp4 -frames:v 1 -an -vf scale=7680:4320 -c:v libx265 -preset ultrafast -tag:v hvc1
  rotated the 10s file with -c copy -metadata:s:v:0 rotate=90 (a display matrix; decoded 480x854)
  folder  a folder of 10,000 links to photos in shared: 4,200 CelebA, 4,000 UTKFace, 1,800 FairFace (the first
          files of each, sorted by name); its row also gives photos per second
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SOURCE = os.path.join(REPO, "..", "shared", "datasets", "ffpp-c23-mini", "original_youtube_c23", "033.mp4")

INPUTS = [
    ("10s", "loop10.mp4", ["-stream_loop", "140", "-i", "{src}", "-t", "10", "-c", "copy"]),
    ("10min", "loop600.mp4", ["-stream_loop", "140", "-i", "{src}", "-t", "600", "-c", "copy"]),
    ("1h", "loop3600.mp4", ["-stream_loop", "140", "-i", "{src}", "-t", "3600", "-c", "copy"]),
    ("4k", "clip4k.mp4", ["-t", "10", "-i", "{src}", "-an", "-vf", "scale=3840:2160", "-c:v", "libx264",
                          "-preset", "veryfast", "-pix_fmt", "yuv420p"]),
    ("8k", "frame8k.mp4", ["-ss", "5", "-i", "{src}", "-frames:v", "1", "-an", "-vf", "scale=7680:4320",
                           "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
                           "-tag:v", "hvc1"]),
    ("rotated", "rot10.mp4", ["-i", "{dir}/loop10.mp4", "-c", "copy", "-metadata:s:v:0", "rotate=90"]),
]


FOLDER_SOURCES = [("celeba-real", 4200), ("utkface-real", 4000), ("fairface-real", 1800)]


def make_folder(directory):
    """The 10,000-photo folder of links (made once)."""
    folder = os.path.join(directory, "photos10k")
    if os.path.isdir(folder) and len(os.listdir(folder)) == sum(n for _, n in FOLDER_SOURCES):
        return folder
    os.makedirs(folder, exist_ok=True)
    shared = os.path.join(REPO, "..", "shared", "datasets")
    for dataset, count in FOLDER_SOURCES:
        found = []
        for root, _, files in os.walk(os.path.join(shared, dataset)):
            found += [os.path.join(root, f) for f in files if f.lower().endswith((".jpg", ".jpeg", ".png"))]
        found.sort()
        for i, path in enumerate(found[:count]):
            link = os.path.join(folder, f"{dataset}-{i:05d}{os.path.splitext(path)[1]}")
            if not os.path.lexists(link):
                os.symlink(os.path.abspath(path), link)
    return folder


def make_inputs(directory, wanted):
    os.makedirs(directory, exist_ok=True)
    paths = {}
    if "folder" in wanted:
        paths["folder"] = make_folder(directory)
    for name, file, arguments in INPUTS:
        path = os.path.join(directory, file)
        if name in wanted or (name == "rotated" and "rotated" in wanted):
            if not os.path.exists(path):
                args = [a.format(src=SOURCE, dir=directory) for a in arguments]
                subprocess.run(["nice", "ffmpeg", "-v", "error", "-nostdin", "-y"] + args + [path], check=True)
            paths[name] = path
    return paths


def run_peer(python, graphs, decode, path):
    """The Python pipeline peer as a whole process: wall time, peak memory and its score."""
    command = [sys.executable, os.path.join(HERE, "peak_rss.py"), "--", python, os.path.join(HERE, "pipeline_peer.py"),
               "--video", path, "--runs", "1", "--warmup", "0", "--decode", decode]
    for graph in graphs:
        command += ["--onnx", graph]
    result = subprocess.run(command, capture_output=True, text=True)
    measure = dict(item.split("=") for item in result.stderr.strip().splitlines()[-1].split())
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 or not lines:
        message = result.stderr.strip().splitlines()[0] if result.stderr.strip() else "no output"
        raise SystemExit(f"detect_scaling: the peer failed on {path}: {message}")
    peer = json.loads(lines[-1])
    p = peer.get("p_fake")
    verdict = {"verdict": "peer", "probability": float("nan") if p is None else p}
    return float(measure["wall_s"]), int(measure["peak_rss_mb"]), verdict


def run_once(binary, path, model=None):
    command = [sys.executable, os.path.join(HERE, "peak_rss.py"), "--", binary, "detect", path, "--json"]
    if model:
        command += ["--model", model]
    result = subprocess.run(command, capture_output=True, text=True)
    measure = dict(item.split("=") for item in result.stderr.strip().splitlines()[-1].split())
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if len(lines) > 1:   # a folder: one record per file
        records = [json.loads(line) for line in lines]
        wall = float(measure["wall_s"])
        verdict = {"verdict": f"{len(records)} files, {len(records) / wall:.1f} photos/s", "probability": float("nan")}
        return wall, int(measure["peak_rss_mb"]), verdict
    verdict = json.loads(result.stdout) if result.returncode == 0 and lines else {}
    return float(measure["wall_s"]), int(measure["peak_rss_mb"]), verdict


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", action="append", required=True, help="label=path of a forensight binary")
    parser.add_argument("--inputs", default="/tmp/forensight-scaling")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="10s,10min,1h,4k,8k,rotated")
    parser.add_argument("--model", help="detector file every build runs (default: each build's shipped model)")
    parser.add_argument("--peer", help="label=python3 with torch, facenet-pytorch and onnxruntime (pipeline_peer.py)")
    parser.add_argument("--peer-onnx", action="append", default=[], help="an ONNX graph the peer runs (repeat)")
    parser.add_argument("--peer-decode", choices=["select", "seek"], default="select")
    options = parser.parse_args()
    builds = [b.split("=", 1) for b in options.build]
    if options.peer:
        if not options.peer_onnx:
            parser.error("--peer needs at least one --peer-onnx graph (forensight export MODEL --onnx NET.onnx)")
        builds.append(tuple(options.peer.split("=", 1)) + (True,))
    builds = [(b[0], b[1], len(b) > 2) for b in builds]
    wanted = options.only.split(",")
    paths = make_inputs(options.inputs, wanted)
    results = {}
    for round_number in range(options.rounds):
        for name in wanted:
            for label, binary, is_peer in builds:
                if is_peer and name == "folder":
                    continue
                if is_peer:
                    wall, peak, verdict = run_peer(binary, options.peer_onnx, options.peer_decode, paths[name])
                else:
                    wall, peak, verdict = run_once(binary, paths[name], options.model)
                entry = results.setdefault((name, label), {"walls": [], "peaks": [], "verdict": verdict})
                entry["walls"].append(wall)
                entry["peaks"].append(peak)
                print(f"round {round_number + 1} {name} {label}: {wall:.2f} s, {peak} MB", file=sys.stderr)
    labels = [label for label, _, _ in builds]
    print("| input | " + " | ".join(f"{l} wall s (median) | {l} peak MB" for l in labels) + " | verdict, P(fake) |")
    print("|---|" + "---:|---:|" * len(labels) + "---|")
    for name in wanted:
        cells = []
        verdicts = []
        for label in labels:
            entry = results.get((name, label))
            if entry is None:
                cells += ["–", "–"]
                continue
            cells += [f"{statistics.median(entry['walls']):.2f}", f"{max(entry['peaks'])}"]
            v = entry["verdict"]
            verdicts.append(f"{v.get('verdict', '?')} {v.get('probability', float('nan')):.4f}")
        print(f"| {name} | " + " | ".join(cells) + " | " + " / ".join(verdicts) + " |")


if __name__ == "__main__":
    main()
