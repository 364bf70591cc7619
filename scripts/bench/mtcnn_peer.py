#!/usr/bin/env python3
"""facenet-pytorch MTCNN speed peer for Forensight's face-detection benchmarks.

    python3 mtcnn_peer.py --frames F.bin --shape N,H,W --threads 2 --runs R --min-face 20
        [--warmup 1] [--factor 0.709] [--thresholds 0.6,0.7,0.7]

F.bin holds N raw rgb24 frames (H*W*3 bytes each, row-major, as `ffmpeg -f rawvideo -pix_fmt
rgb24` writes them). Each frame goes one at a time, as a numpy uint8 [H,W,3] array, through
facenet-pytorch 2.6.0's `MTCNN(min_face_size, thresholds, factor, keep_all=True,
device='cpu').detect(frame, landmarks=True)`. Timing uses torch.set_num_threads(threads), after
`--warmup` untimed passes over all frames. A run is one pass over the N frames; its time per frame
is the pass time / N.

Prints ONE JSON line on stdout:
    {"ms_per_frame_median": ..., "ms_per_frame_min": ..., "faces": [count per frame],
     "frames": N, "height": H, "width": W, "threads": T, "runs": R, "min_face": ..., ...}
On failure prints "mtcnn_peer: error: ..." on stderr and exits with status 1.

Needs torch, numpy and `pip install --no-deps facenet-pytorch==2.6.0`. torchvision is not needed:
scripts/reference/_facenet_compat.py provides torchvision's batched_nms in pure torch. That NMS
runs in Python loops, which is slower than torchvision's C++ kernel. On these frames it is a small
share of the time.
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.dont_write_bytecode = True


class PeerError(Exception):
    pass


def parse_shape(text):
    try:
        n, h, w = (int(v) for v in text.split(","))
    except ValueError:
        raise PeerError(f"--shape must be N,H,W (got {text!r})")
    if n < 1 or h < 1 or w < 1:
        raise PeerError(f"--shape values must be positive (got {text!r})")
    return n, h, w


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", required=True, help="raw rgb24 frames, N*H*W*3 bytes")
    ap.add_argument("--shape", required=True, help="N,H,W")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--min-face", type=int, default=20)
    ap.add_argument("--factor", type=float, default=0.709)
    ap.add_argument("--thresholds", default="0.6,0.7,0.7")
    args = ap.parse_args()

    n, h, w = parse_shape(args.shape)
    if args.threads < 1 or args.runs < 1 or args.warmup < 0:
        raise PeerError("--threads and --runs must be >= 1, --warmup >= 0")
    try:
        thresholds = [float(v) for v in args.thresholds.split(",")]
        assert len(thresholds) == 3
    except (ValueError, AssertionError):
        raise PeerError(f"--thresholds must be three numbers (got {args.thresholds!r})")
    try:
        size = os.path.getsize(args.frames)
    except OSError as e:
        raise PeerError(f"cannot read {args.frames}: {e.strerror}")
    if size != n * h * w * 3:
        raise PeerError(f"{args.frames}: {size} bytes, expected N*H*W*3 = {n * h * w * 3}")

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
    import _facenet_compat
    try:
        _facenet_compat.install()
    except ImportError as e:
        raise PeerError(f"facenet-pytorch is not importable ({e}); "
                        "pip install --no-deps facenet-pytorch==2.6.0")
    from facenet_pytorch import MTCNN

    data = np.fromfile(args.frames, dtype=np.uint8).reshape(n, h, w, 3)
    frames = [np.ascontiguousarray(data[i]) for i in range(n)]
    mtcnn = MTCNN(min_face_size=args.min_face, thresholds=thresholds, factor=args.factor,
                  keep_all=True, device="cpu")
    mtcnn.eval()

    def one_pass():
        faces = []
        for f in frames:
            boxes, _, _ = mtcnn.detect(f, landmarks=True)
            faces.append(0 if boxes is None else int(len(boxes)))
        return faces

    with torch.no_grad():
        for _ in range(args.warmup):
            one_pass()
        per_frame, faces = [], None
        for _ in range(args.runs):
            t0 = time.perf_counter()
            counts = one_pass()
            per_frame.append((time.perf_counter() - t0) * 1000.0 / n)
            if faces is None:
                faces = counts
            elif counts != faces:
                raise PeerError(f"face counts changed between runs: {faces} vs {counts}")

    print(json.dumps({
        "ms_per_frame_median": round(statistics.median(per_frame), 3),
        "ms_per_frame_min": round(min(per_frame), 3),
        "faces": faces,
        "frames": n, "height": h, "width": w,
        "threads": args.threads, "runs": args.runs, "warmup": args.warmup,
        "min_face": args.min_face, "factor": args.factor, "thresholds": thresholds,
        "torch": torch.__version__, "reference": "facenet-pytorch==2.6.0 MTCNN.detect",
    }))


if __name__ == "__main__":
    try:
        main()
    except PeerError as e:
        print(f"mtcnn_peer: error: {e}", file=sys.stderr)
        sys.exit(1)
