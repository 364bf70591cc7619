#!/usr/bin/env python3
"""Reference fixtures for ForensightFaces' MTCNN (facenet-pytorch==2.6.0 as the reference).

Developer tool, not a project dependency. Needs torch, numpy, ffmpeg/ffprobe and
    pip install --no-deps facenet-pytorch==2.6.0
(torchvision is NOT needed: scripts/reference/_facenet_compat.py stubs it when it is absent or
broken and replaces facenet's `batched_nms` with a pure-torch copy of torchvision's).
Also checks facenet's own P/R/O-Net weights (the .pt files inside its package) against the
converted ${FORENSIGHT_CACHE:-~/.cache/forensight}/weights/mtcnn_{pnet,rnet,onet}.safetensors
when those exist (scripts/setup/weights.sh).

Writes into Tests/ForensightFacesTests/Fixtures/ (or --out-dir):

mtcnn_nets.safetensors (F32) - raw network outputs, eval, no_grad, one thread:
    pnet.input [1,3,31,45]  pnet.reg [1,4,11,18]  pnet.prob [1,2,11,18]
    rnet.input [3,3,24,24]  rnet.reg [3,4]        rnet.prob [3,2]
    onet.input [2,3,48,48]  onet.reg [2,4]        onet.landmarks [2,10]  onet.prob [2,2]
  Inputs: x[i] = Float(sin(Double(Float(i) * Float(c)))), i = flat row-major NCHW index,
  c = 0.37 (pnet), 0.53 (rnet), 0.29 (onet): the product in float32, sin in float64, one
  rounding to float32 (values in [-1, 1]). The header metadata repeats the formulas.

mtcnn_ffpp.json - facenet-pytorch MTCNN(min_face_size=20, thresholds=[0.6,0.7,0.7],
  factor=0.709, keep_all=True, device='cpu').detect(frame, landmarks=True) on real decoded
  frames (numpy HWC uint8 RGB, exactly the ffmpeg rgb24 bytes), plus intermediate stage counts,
  the pyramid, the O-Net input boxes, and two parameter variants (min_face_size=40, factor=0.8).
  Frames are decoded with the command recorded in the JSON; each frame is decoded twice and the
  two SHA-1s must agree.

    python3 scripts/reference/make_mtcnn_fixtures.py
Deterministic (torch.set_num_threads(1)); the JSON also records whether 4 threads give the
same detections.
"""
import argparse
import hashlib
import json
import math
import os
import subprocess
import sys

sys.dont_write_bytecode = True

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import _facenet_compat  # noqa: E402
from _safetensors_io import read_safetensors, write_safetensors  # noqa: E402

DEFAULT_OUT = os.path.join(ROOT, "Tests", "ForensightFacesTests", "Fixtures")
DATASETS = os.path.abspath(os.path.join(ROOT, "..", "shared", "datasets"))

# (dataset-relative video, frame index K, why)
FRAMES = [
    ("ffpp-c23-mini/original_youtube_c23/033.mp4", 280, "854x480, three faces"),
    ("ffpp-c23-mini/original_youtube_c23/263.mp4", 299,
     "720p, two faces; area order (largest first) differs from probability order"),
    ("ffpp-c23-mini/original_youtube_c23/044.mp4", 100, "720p"),
    ("ffpp-c23-mini/original_youtube_c23/134.mp4", 0,
     "720p; second detection is a weak one (p~0.74, near the 0.7 O-Net threshold)"),
    ("ffpp-c23-mini/original_youtube_c23/147.mp4", 37, "600x480"),
    ("ffpp-c23-mini/original_youtube_c23/210.mp4", 123, "654x480"),
    ("ffpp-c23-mini/Deepfakes_c23/192_134.mp4", 50, "720p, Deepfakes"),
    ("ffpp-c23-mini/Deepfakes_c23/097_033.mp4", 200, "640x480, Deepfakes"),
    ("ffpp-c23-mini/Face2Face_c23/033_097.mp4", 150, "832x480, Face2Face, two faces"),
    ("ffpp-c23-mini/Face2Face_c23/266_252.mp4", 300, "704x480, Face2Face"),
    ("ffpp-c23-mini/FaceSwap_c23/481_469.mp4", 10, "720p, FaceSwap"),
    ("ffpp-c23-mini/FaceSwap_c23/252_266.mp4", 400, "800x480, FaceSwap"),
    ("celebdf-mini/Celeb-real/id0_0000.mp4", 60, "Celeb-DF real, 942x500, yuv420p"),
    ("celebdf-mini/Celeb-synthesis/id0_id1_0002.mp4", 200, "Celeb-DF synthesis, 944x500, yuv420p"),
]
BASE_PARAMS = {"min_face_size": 20, "thresholds": [0.6, 0.7, 0.7], "factor": 0.709}
VARIANTS = [  # (frame video, K, parameter overrides)
    ("ffpp-c23-mini/original_youtube_c23/033.mp4", 280, {"min_face_size": 40}),
    ("ffpp-c23-mini/original_youtube_c23/263.mp4", 299, {"factor": 0.8}),
]

FFMPEG_ARGS = ["ffmpeg", "-v", "error", "-nostdin", "-i", "{VIDEO}", "-vf", "select=eq(n\\,{K})",
               "-fps_mode", "passthrough", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-"]
FFMPEG_SHELL = ('ffmpeg -v error -nostdin -i VIDEO -vf "select=eq(n\\,K)" -fps_mode passthrough '
                '-frames:v 1 -f rawvideo -pix_fmt rgb24 -')

NET_INPUTS = {  # name: (shape, c)
    "pnet": ([1, 3, 31, 45], 0.37),
    "rnet": ([3, 3, 24, 24], 0.53),
    "onet": ([2, 3, 48, 48], 0.29),
}


def sin_input(shape, c):
    n = int(np.prod(shape))
    arg = np.arange(n, dtype=np.float32) * np.float32(c)  # float32 product
    x = np.array([math.sin(float(a)) for a in arg], dtype=np.float64).astype(np.float32)
    return x.reshape(shape)


def f64(a):
    return [float(v) for v in np.asarray(a).reshape(-1)]


# --------------------------------------------------------------------------------------------
# networks
# --------------------------------------------------------------------------------------------

def check_weights(mtcnn, cache):
    out = {}
    for name, net in (("pnet", mtcnn.pnet), ("rnet", mtcnn.rnet), ("onet", mtcnn.onet)):
        path = os.path.join(cache, "weights", f"mtcnn_{name}.safetensors")
        if not os.path.isfile(path):
            out[name] = "converted file not found (run scripts/setup/weights.sh); not checked"
            continue
        conv = read_safetensors(path)
        sd = net.state_dict()
        assert list(conv) == list(sd) or set(conv) == set(sd), f"{name}: keys differ"
        for k, v in sd.items():
            assert np.array_equal(conv[k], v.numpy()), f"{name}.{k} differs"
        out[name] = f"bit-identical to {os.path.basename(path)} ({len(sd)} tensors)"
    return out


def make_nets(mtcnn, out_dir):
    tensors, meta = {}, {}
    with torch.no_grad():
        for name, (shape, c) in NET_INPUTS.items():
            x = sin_input(shape, c)
            net = getattr(mtcnn, name).eval()
            outs = net(torch.from_numpy(x))
            tensors[f"{name}.input"] = x
            if name == "onet":
                reg, lm, prob = outs
                tensors["onet.landmarks"] = lm
            else:
                reg, prob = outs
            tensors[f"{name}.reg"] = reg
            tensors[f"{name}.prob"] = prob
            meta[f"{name}.input"] = (f"Float(sin(Double(Float(i) * Float({c})))), i = flat "
                                     f"row-major index, shape {shape}")
    meta["source"] = "facenet-pytorch==2.6.0 PNet/RNet/ONet (own .pt weights), eval, no_grad, 1 thread"
    meta["outputs"] = ("pnet -> (reg, prob); rnet -> (reg, prob); onet -> (reg, landmarks, prob); "
                       "prob = softmax over dim 1, [:,1] = face")
    path = os.path.join(out_dir, "mtcnn_nets.safetensors")
    write_safetensors(path, tensors, metadata=meta)
    return path


# --------------------------------------------------------------------------------------------
# frames
# --------------------------------------------------------------------------------------------

def probe(video):
    out = subprocess.check_output(["ffprobe", "-v", "error", "-select_streams", "v:0",
                                   "-show_entries", "stream=width,height,pix_fmt,nb_frames",
                                   "-of", "json", video])
    s = json.loads(out)["streams"][0]
    return int(s["width"]), int(s["height"]), s.get("pix_fmt"), int(s.get("nb_frames", -1))


def decode(video, k, w, h):
    cmd = [a.replace("{VIDEO}", video).replace("{K}", str(k)) for a in FFMPEG_ARGS]
    raw = subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout
    if len(raw) != w * h * 3:
        raise SystemExit(f"{video} frame {k}: got {len(raw)} bytes, expected {w * h * 3}")
    return raw


# --------------------------------------------------------------------------------------------
# instrumented detection (pass-through wrappers; results are those of facenet's detect_face)
# --------------------------------------------------------------------------------------------

class Recorder:
    def __init__(self, mtcnn):
        from facenet_pytorch.models.utils import detect_face as df
        self.df, self.mtcnn = df, mtcnn
        self.orig = {n: getattr(df, n) for n in
                     ("generateBoundingBox", "batched_nms", "batched_nms_numpy", "pad", "imresample")}
        self.reset()

    def reset(self):
        self.log = {"levels": [], "candidates": [], "nms": [], "min_nms": [], "pad_boxes": [],
                    "rnet_batch": 0, "onet_batch": 0}

    def __enter__(self):
        df, o, log = self.df, self.orig, self.log

        def imresample(img, sz):
            if tuple(sz) not in ((24, 24), (48, 48)):
                log["levels"].append([int(sz[0]), int(sz[1])])
            return o["imresample"](img, sz)

        def generateBoundingBox(reg, probs, scale, thresh):
            bb, ii = o["generateBoundingBox"](reg, probs, scale, thresh)
            log["candidates"].append(int(bb.shape[0]))
            return bb, ii

        def batched_nms(boxes, scores, idxs, thr):
            keep = o["batched_nms"](boxes, scores, idxs, thr)
            log["nms"].append({"in": int(boxes.shape[0]), "out": int(keep.shape[0]),
                               "threshold": thr, "path": "vanilla" if boxes.numel() > 4000
                               else "coordinate_trick"})
            return keep

        def batched_nms_numpy(boxes, scores, idxs, thr, method):
            keep = o["batched_nms_numpy"](boxes, scores, idxs, thr, method)
            log["min_nms"].append({"in": int(boxes.shape[0]), "out": int(keep.shape[0]),
                                   "threshold": thr, "method": method})
            return keep

        def pad(boxes, w, h):
            log["pad_boxes"].append(boxes.detach().clone().numpy())
            return o["pad"](boxes, w, h)

        def hook(key):
            def f(module, args):
                log[key] += int(args[0].shape[0])
            return f

        df.imresample, df.generateBoundingBox = imresample, generateBoundingBox
        df.batched_nms, df.batched_nms_numpy, df.pad = batched_nms, batched_nms_numpy, pad
        self.hooks = [self.mtcnn.rnet.register_forward_pre_hook(hook("rnet_batch")),
                      self.mtcnn.onet.register_forward_pre_hook(hook("onet_batch"))]
        return self

    def __exit__(self, *exc):
        for n, f in self.orig.items():
            setattr(self.df, n, f)
        for hdl in self.hooks:
            hdl.remove()


def scales_of(h, w, min_face, factor):
    """facenet's pyramid loop, replayed (Python doubles) to record the scales."""
    m = 12.0 / min_face
    minl = min(h, w) * m
    s, out = m, []
    while minl >= 12:
        out.append(s)
        s *= factor
        minl *= factor
    return out


def detections(boxes, probs, points):
    if boxes is None:
        return []
    out = []
    for b, p, lm in zip(boxes, probs, points):
        b = np.asarray(b, dtype=np.float32)
        lm = np.asarray(lm, dtype=np.float32)
        out.append({"box": f64(b), "prob": float(np.float32(p)),
                    "landmarks": [f64(pt) for pt in lm]})
    return out


def run_detect(mtcnn, rec, img, h, w, params):
    mtcnn.min_face_size = params["min_face_size"]
    mtcnn.thresholds = params["thresholds"]
    mtcnn.factor = params["factor"]
    rec.reset()
    with rec:
        boxes, probs, points = mtcnn.detect(img, landmarks=True)
    log = rec.log
    scales = scales_of(h, w, params["min_face_size"], params["factor"])
    n_scales = len(scales)
    nms = log["nms"]
    per_scale_nms = nms[:n_scales]
    assert len(log["levels"]) == n_scales and len(log["candidates"]) == n_scales
    counts = {
        "pnet_candidates_per_scale": log["candidates"],
        "pnet_after_scale_nms_per_scale": [e["out"] for e in per_scale_nms],
        "pnet_candidates": sum(log["candidates"]),
        "pnet_after_scale_nms": sum(e["out"] for e in per_scale_nms),
        "pnet_after_nms": nms[n_scales]["out"] if len(nms) > n_scales else 0,
        "rnet_input": log["rnet_batch"],
        "rnet_pass": nms[n_scales + 1]["in"] if len(nms) > n_scales + 1 else 0,
        "rnet_after_nms": nms[n_scales + 1]["out"] if len(nms) > n_scales + 1 else 0,
        "onet_input": log["onet_batch"],
        "onet_pass": log["min_nms"][0]["in"] if log["min_nms"] else 0,
        "final": log["min_nms"][0]["out"] if log["min_nms"] else 0,
        "nms_paths": sorted({e["path"] for e in nms}),
    }
    onet_boxes = []
    if len(log["pad_boxes"]) >= 2:
        onet_boxes = [f64(b[:4]) for b in log["pad_boxes"][1]]
    dets = detections(boxes, probs, points)
    assert len(dets) == counts["final"]
    return {
        "pyramid": {"scales": scales, "level_sizes_hw": log["levels"]},
        "counts": counts,
        "onet_input_boxes": onet_boxes,
        "detections": dets,
    }


def same_dets(a, b):
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x["box"] != y["box"] or x["prob"] != y["prob"] or x["landmarks"] != y["landmarks"]:
            return False
    return True


def max_diff(a, b):
    if len(a) != len(b):
        return None
    d = 0.0
    for x, y in zip(a, b):
        d = max([d] + [abs(p - q) for p, q in zip(x["box"], y["box"])]
                + [abs(x["prob"] - y["prob"])]
                + [abs(p - q) for u, v in zip(x["landmarks"], y["landmarks"]) for p, q in zip(u, v)])
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", default=DEFAULT_OUT)
    ap.add_argument("--datasets", default=DATASETS, help="folder holding ffpp-c23-mini/ and celebdf-mini/")
    ap.add_argument("--cache", default=os.environ.get("FORENSIGHT_CACHE")
                    or os.path.join(os.path.expanduser("~"), ".cache", "forensight"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    compat = _facenet_compat.install()
    from facenet_pytorch import MTCNN

    mtcnn = MTCNN(keep_all=True, device="cpu", **BASE_PARAMS)
    mtcnn.eval()
    winfo = check_weights(mtcnn, args.cache)
    os.makedirs(args.out_dir, exist_ok=True)
    nets_path = make_nets(mtcnn, args.out_dir)
    print(f"wrote {os.path.relpath(nets_path)} ({os.path.getsize(nets_path)} bytes)")

    ffv = subprocess.check_output(["ffmpeg", "-version"]).decode().splitlines()[0]
    rec = Recorder(mtcnn)
    doc = {
        "generator": "scripts/reference/make_mtcnn_fixtures.py",
        "reference": "facenet-pytorch==2.6.0 MTCNN.detect(img, landmarks=True), img = numpy "
                     "uint8 [H,W,3] RGB (the raw rgb24 bytes)",
        "mtcnn": dict(BASE_PARAMS, keep_all=True, device="cpu", select_largest=True,
                      note="select_largest is the MTCNN default: detect() orders faces by box "
                           "area, largest first (not by probability)"),
        "torch": torch.__version__,
        "torch_threads": 1,
        "compat": compat,
        "weights_check": winfo,
        "ffmpeg": ffv,
        "decode_command": FFMPEG_SHELL,
        "decode_argv": FFMPEG_ARGS,
        "paths_relative_to": "../shared/datasets/ (from the repository root)",
        "conventions": {
            "box": "[x1, y1, x2, y2] float32 (as float64 here), AFTER the O-Net regression "
                   "(bbreg with w = x2 - x1 + 1), not squared, not clamped to the image; "
                   "MATLAB-style 1-based inclusive pixel coordinates inherited from P-Net "
                   "(box = floor((2*cell + 1)/scale) .. floor((2*cell + 12)/scale))",
            "landmarks": "5 x [x, y]: left eye, right eye, nose, left mouth, right mouth; "
                         "x = x1 + w * lx - 1 with w = x2 - x1 + 1 of the O-Net INPUT box "
                         "(before the O-Net regression), so they are 0-based",
            "prob": "O-Net softmax[:, 1] (float32) of the face; > thresholds[2] kept",
            "order": "by (x2-x1)*(y2-y1) descending (select_largest=True)",
            "onet_input_boxes": "the boxes whose crops O-Net saw (R-Net stage output after "
                                "regression + rerec, float, not clamped), in their order",
        },
        "frames": [],
        "variants": [],
    }

    decoded = {}

    def get_frame(rel, k):
        if (rel, k) in decoded:
            return decoded[(rel, k)]
        video = os.path.join(args.datasets, rel)
        w, h, pix_fmt, nb = probe(video)
        raw1 = decode(video, k, w, h)
        raw2 = decode(video, k, w, h)
        s1, s2 = hashlib.sha1(raw1).hexdigest(), hashlib.sha1(raw2).hexdigest()
        assert s1 == s2, f"{rel} frame {k}: decoding is not deterministic ({s1} vs {s2})"
        img = np.frombuffer(raw1, dtype=np.uint8).reshape(h, w, 3).copy()
        decoded[(rel, k)] = (img, {"video": rel, "frame": k, "width": w, "height": h,
                                   "source_pix_fmt": pix_fmt, "video_frames": nb,
                                   "sha1_rgb24": s1, "decode_repeat_sha1_equal": True})
        return decoded[(rel, k)]

    def entry(rel, k, params, note=None):
        img, info = get_frame(rel, k)
        h, w = img.shape[:2]
        torch.set_num_threads(1)
        res = run_detect(mtcnn, rec, img, h, w, params)
        torch.set_num_threads(4)
        res4 = run_detect(mtcnn, rec, img, h, w, params)
        torch.set_num_threads(1)
        e = dict(info)
        if note:
            e["note"] = note
        e["params"] = params
        e.update(res)
        e["threads4_identical"] = same_dets(res["detections"], res4["detections"])
        if not e["threads4_identical"]:
            e["threads4_max_abs_diff"] = max_diff(res["detections"], res4["detections"])
        return e

    for rel, k, note in FRAMES:
        e = entry(rel, k, dict(BASE_PARAMS), note)
        doc["frames"].append(e)
        c = e["counts"]
        print(f"{rel} K={k} {e['width']}x{e['height']} sha1 {e['sha1_rgb24'][:12]} faces "
              f"{len(e['detections'])} probs {[round(d['prob'], 4) for d in e['detections']]} "
              f"counts P {c['pnet_candidates']}->{c['pnet_after_nms']} R {c['rnet_pass']}->"
              f"{c['rnet_after_nms']} O {c['onet_pass']}->{c['final']} "
              f"4thr-identical {e['threads4_identical']}")
    for rel, k, over in VARIANTS:
        params = dict(BASE_PARAMS, **over)
        e = entry(rel, k, params, "parameter variant: " + ", ".join(f"{a}={b}" for a, b in over.items()))
        doc["variants"].append(e)
        print(f"variant {over} {rel} K={k}: faces {len(e['detections'])}, scales "
              f"{len(e['pyramid']['scales'])}, 4thr-identical {e['threads4_identical']}")

    path = os.path.join(args.out_dir, "mtcnn_ffpp.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
