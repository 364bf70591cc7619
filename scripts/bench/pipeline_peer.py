#!/usr/bin/env python3
"""A Python pipeline of the stages `forensight detect` runs, timed as a peer (issue "Cost that does not grow").

    python3 pipeline_peer.py --video CLIP --onnx NET.onnx [--onnx NET2.onnx ...] [--samples 32]
        [--threads 2] [--runs 3] [--warmup 1] [--min-face 40] [--decode select|seek]

What a Python user would write with the usual libraries, stage by stage:
  decode   ffprobe counts the frames; one ffmpeg run keeps DeepfakeBench's 32 evenly spaced frames
           (np.linspace(0, n - 1, 32, dtype=int), as `detect` samples) with the `select` filter, piping rgb24.
           `--decode seek` instead runs one `ffmpeg -ss T -i CLIP -frames:v 1` per sample (fast on long files; on
           files with few keyframes it can return damaged frames, which is why `detect` does not seek this way).
  faces    facenet-pytorch 2.6.0 MTCNN (minimum face --min-face, thresholds 0.6/0.7/0.7, factor 0.709) on every
           sampled frame, the most confident face kept; its box grown to a square of 1.3x its longer side and
           resized to each graph's input size (bilinear). No landmark alignment or tracking: less work than
           `detect` does.
  model    ONNX Runtime runs each --onnx graph (`forensight export --onnx` writes them; an ensemble writes one
           per network) on all crops as one batch, input (x - 127) / 128. P(fake) of a graph is the sigmoid of its
           logit; the peer averages the graphs' P per frame, and the file's score is the max over frames of that
           mean (one face per frame). Calibration and stacking weights are not applied: timing is what this is for.

Prints ONE JSON line on stdout with each stage's median milliseconds over --runs (after --warmup untimed runs):
    {"decode_ms": ..., "faces_ms": ..., "model_ms": ..., "total_ms": ..., "frames": 32, "faces": F,
     "crops_per_graph": F, "graphs": G, "p_fake": ..., "threads": T, "decode": "select", ...}
On failure prints "pipeline_peer: error: ..." on stderr and exits with status 1.

Needs numpy, onnxruntime, torch (CPU) and `pip install --no-deps facenet-pytorch==2.6.0`; torchvision is
not needed (scripts/reference/_facenet_compat.py supplies its NMS in pure torch).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True


class PeerError(Exception):
    pass


def probe(path):
    """Frame count (packets, as `detect` counts them), width, height, frame rate."""
    command = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
               "stream=nb_read_packets,width,height,avg_frame_rate", "-of", "json", path]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise PeerError(f"{path}: ffprobe failed: {result.stderr.strip()[:200]}")
    streams = json.loads(result.stdout).get("streams", [])
    if not streams:
        raise PeerError(f"{path}: no video stream")
    s = streams[0]
    num, _, den = s.get("avg_frame_rate", "25/1").partition("/")
    fps = float(num) / float(den or 1) if float(den or 1) else 25.0
    return int(s["nb_read_packets"]), int(s["width"]), int(s["height"]), fps


def linspace_indices(total, count):
    """DeepfakeBench's indices, duplicates read once."""
    import numpy as np
    if total <= 0:
        return []
    return sorted(set(int(i) for i in np.linspace(0, total - 1, count, endpoint=True, dtype=int)))


def decode_select(path, indices, width, height):
    import numpy as np
    expression = "+".join(f"eq(n\\,{i})" for i in indices)
    command = ["ffmpeg", "-v", "error", "-nostdin", "-i", path, "-vf", f"select={expression}", "-vsync", "0",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    result = subprocess.run(command, capture_output=True)
    if result.returncode != 0:
        raise PeerError(f"{path}: ffmpeg failed: {result.stderr.decode(errors='replace').strip()[:200]}")
    frame = width * height * 3
    n = len(result.stdout) // frame
    data = np.frombuffer(result.stdout[:n * frame], dtype=np.uint8).reshape(n, height, width, 3)
    return [data[i] for i in range(n)]


def decode_seek(path, indices, width, height, fps):
    import numpy as np
    frames = []
    for i in indices:
        command = ["ffmpeg", "-v", "error", "-nostdin", "-ss", f"{i / fps:.6f}", "-i", path, "-frames:v", "1",
                   "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        result = subprocess.run(command, capture_output=True)
        if result.returncode != 0 or len(result.stdout) < width * height * 3:
            continue
        frames.append(np.frombuffer(result.stdout[:width * height * 3], dtype=np.uint8).reshape(height, width, 3))
    return frames


def square_crop(frame, box, side, margin=1.3):
    """The box grown to a square of `margin` x its longer side around its centre, padded with black, resized
    (bilinear, torch's interpolate) to side x side; float32 [side, side, 3]."""
    import numpy as np
    import torch
    x0, y0, x1, y1 = (float(v) for v in box)
    half = max(x1 - x0, y1 - y0) * margin / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = int(round(cx - half)), int(round(cy - half))
    size = max(1, int(round(2 * half)))
    square = np.zeros((size, size, 3), dtype=np.uint8)
    h, w = frame.shape[:2]
    sx0, sy0, sx1, sy1 = max(0, left), max(0, top), min(w, left + size), min(h, top + size)
    if sx1 > sx0 and sy1 > sy0:
        square[sy0 - top:sy1 - top, sx0 - left:sx1 - left] = frame[sy0:sy1, sx0:sx1]
    t = torch.from_numpy(square).permute(2, 0, 1)[None].float()
    t = torch.nn.functional.interpolate(t, size=(side, side), mode="bilinear", align_corners=False)
    return t[0].permute(1, 2, 0).numpy()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", required=True)
    ap.add_argument("--onnx", action="append", required=True, help="an ONNX graph: crop [N,3,S,S] -> logit [N,1]")
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--min-face", type=int, default=40)
    ap.add_argument("--decode", choices=["select", "seek"], default="select")
    args = ap.parse_args()
    if args.runs < 1 or args.warmup < 0 or args.threads < 1 or args.samples < 1:
        raise PeerError("--runs, --threads and --samples must be >= 1, --warmup >= 0")
    for path in [args.video] + args.onnx:
        if not os.path.isfile(path):
            raise PeerError(f"{path}: no such file")

    import numpy as np
    try:
        import onnxruntime as ort
        import torch
    except ImportError as e:
        raise PeerError(f"{e}; pip install numpy onnxruntime torch")
    torch.set_num_threads(args.threads)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
    import _facenet_compat
    try:
        _facenet_compat.install()
    except ImportError as e:
        raise PeerError(f"facenet-pytorch is not importable ({e}); pip install --no-deps facenet-pytorch==2.6.0")
    from facenet_pytorch import MTCNN

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    sessions = [ort.InferenceSession(p, options, providers=["CPUExecutionProvider"]) for p in args.onnx]
    sides = [int(s.get_inputs()[0].shape[2]) for s in sessions]
    mtcnn = MTCNN(min_face_size=args.min_face, thresholds=[0.6, 0.7, 0.7], factor=0.709, keep_all=True, device="cpu")
    mtcnn.eval()

    def one_run():
        t0 = time.perf_counter()
        total, width, height, fps = probe(args.video)
        indices = linspace_indices(total, args.samples)
        if args.decode == "select":
            frames = decode_select(args.video, indices, width, height)
        else:
            frames = decode_seek(args.video, indices, width, height, fps)
        t1 = time.perf_counter()
        crops = {side: [] for side in set(sides)}
        with torch.no_grad():
            for frame in frames:
                boxes, probs, _ = mtcnn.detect(np.ascontiguousarray(frame), landmarks=True)
                if boxes is None:
                    continue
                best = boxes[int(np.argmax(probs))]
                for side in crops:
                    crops[side].append(square_crop(frame, best, side))
        t2 = time.perf_counter()
        p_fake = None
        count = len(next(iter(crops.values())))
        if count:
            per_graph = []
            for session, side in zip(sessions, sides):
                batch = ((np.stack(crops[side]) - 127.0) / 128.0).transpose(0, 3, 1, 2).copy()
                logits = session.run(None, {session.get_inputs()[0].name: batch})[0].reshape(-1)
                per_graph.append(1.0 / (1.0 + np.exp(-logits)))
            p_fake = float(np.max(np.mean(per_graph, axis=0)))
        t3 = time.perf_counter()
        return [(t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000, (t3 - t0) * 1000], len(frames), count, p_fake

    for _ in range(args.warmup):
        one_run()
    times, result = [], None
    for _ in range(args.runs):
        stage_ms, frames, faces, p_fake = one_run()
        times.append(stage_ms)
        result = (frames, faces, p_fake)
    medians = [statistics.median(t[i] for t in times) for i in range(4)]
    print(json.dumps({
        "decode_ms": round(medians[0], 1), "faces_ms": round(medians[1], 1), "model_ms": round(medians[2], 1),
        "total_ms": round(medians[3], 1), "frames": result[0], "faces": result[1], "crops_per_graph": result[1],
        "graphs": len(sessions), "p_fake": result[2], "threads": args.threads, "runs": args.runs,
        "decode": args.decode, "min_face": args.min_face, "torch": torch.__version__, "onnxruntime": ort.__version__,
        "reference": "ffmpeg select + facenet-pytorch==2.6.0 MTCNN + ONNX Runtime",
    }))


if __name__ == "__main__":
    try:
        main()
    except PeerError as e:
        print(f"pipeline_peer: error: {e}", file=sys.stderr)
        sys.exit(1)
