#!/usr/bin/env python3
"""Generates reference values for Forensight's tensor-engine ops from PyTorch.

Writes, into Tests/ForensightTensorTests/Fixtures/ (or --out DIR):
  engine_ops.safetensors  all F32. For every case NAME:
      NAME.in0, NAME.in1, ...   the inputs, in the order documented in engine_ops.json
      NAME.out (, NAME.out1)    the output(s) of the torch op
      NAME.r (, NAME.r1)        a random tensor of each output's shape
      NAME.grad<i>              d/d in<i> of  sum_k (out_k * r_k).sum()   (only for the inputs that get grads)
      NAME.<aux>                extra non-differentiable data (e.g. cross_entropy_ls.targets, class ids as floats)
  engine_ops.json         every case: the torch expression, its parameters, every stored tensor's shape,
                          which inputs have grads, and the max |float32 - float64| deviation of the stored
                          out/grads (a hint for test tolerances).

Every value comes from torch's own ops (torch.nn.functional, torch.fft, torch.Tensor methods) in float32
on CPU; gradients come from torch.autograd. Deterministic: torch.manual_seed(0), one thread.

    python3 scripts/reference/make_engine_fixtures.py            # regenerate
    python3 scripts/reference/make_engine_fixtures.py --check    # regenerate, reload and re-verify
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _safetensors_io import read_safetensors, write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "..", "Tests", "ForensightTensorTests", "Fixtures")


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float32)


def uniform(lo, hi, *shape):
    return torch.empty(*shape, dtype=torch.float32).uniform_(lo, hi)


def activation_input(*shape):
    """Values over [-8, 8], each more than 0.05 away from 0 and 6 (the relu6 kinks); includes >6 and <0."""
    x = uniform(-8.0, 8.0, *shape)
    near = ((x.abs() < 0.05) | ((x - 6.0).abs() < 0.05))
    x = torch.where(near, x + 0.2, x)
    flat = x.view(-1)
    flat[0], flat[1] = 7.25, -7.5  # guarantee both saturated regions of relu6 are hit
    assert ((x.abs() > 0.05) & ((x - 6.0).abs() > 0.05)).all()
    return x


def same_padding(size, k, s, d=1):
    """TensorFlow 'SAME': total = max((ceil(in/s)-1)*s + (k-1)*d + 1 - in, 0); top/left = total//2."""
    eff = (k - 1) * d + 1
    total = max((math.ceil(size / s) - 1) * s + eff - size, 0)
    return total // 2, total - total // 2


def conv_same(x, w, stride):
    kh, kw = w.shape[-2:]
    top, bottom = same_padding(x.shape[-2], kh, stride)
    left, right = same_padding(x.shape[-1], kw, stride)
    return F.conv2d(F.pad(x, (left, right, top, bottom)), w, None, stride=stride)


def build_cases():
    """Returns the list of cases. Inputs are drawn from torch's global RNG in this fixed order."""
    C = []

    def case(name, op, inputs, fn, params=None, grads=None, aux=None, notes=None):
        C.append(dict(name=name, op=op, inputs=inputs, fn=fn, params=params or {},
                      grads=list(range(len(inputs))) if grads is None else grads,
                      aux=aux or {}, notes=notes))

    # ---- convolutions -------------------------------------------------------------------------------
    for name, xs in (("conv_same", (1, 3, 11, 13)), ("conv_same_asym", (1, 3, 10, 12))):
        pads = {"top_bottom": list(same_padding(xs[2], 3, 2)), "left_right": list(same_padding(xs[3], 3, 2))}
        case(name, "F.conv2d(F.pad(x, (left, right, top, bottom)), w, None, stride=2)",
             [("x", randn(*xs)), ("w", randn(4, 3, 3, 3))],
             lambda x, w: conv_same(x, w, 2),
             params={"stride": 2, "padding": "SAME (TensorFlow)", "bias": False, "resolved_padding": pads},
             notes=None if name == "conv_same" else
             "extra case: even input sizes give an odd SAME total, so the extra row/column goes bottom/right")
    case("conv_dilated_groups", "F.conv2d(x, w, b, stride=1, padding=2, dilation=2, groups=2)",
         [("x", randn(2, 4, 9, 9)), ("w", randn(6, 2, 3, 3)), ("b", randn(6))],
         lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=2, dilation=2, groups=2),
         params={"stride": 1, "padding": 2, "dilation": 2, "groups": 2})
    case("conv_depthwise", "F.conv2d(x, w, b, stride=2, padding=2, groups=5)",
         [("x", randn(2, 5, 10, 10)), ("w", randn(5, 1, 5, 5)), ("b", randn(5))],
         lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=2, groups=5),
         params={"stride": 2, "padding": 2, "dilation": 1, "groups": 5})
    case("conv_pointwise", "F.conv2d(x, w, b)",
         [("x", randn(2, 6, 4, 5)), ("w", randn(3, 6, 1, 1)), ("b", randn(3))],
         lambda x, w, b: F.conv2d(x, w, b),
         params={"stride": 1, "padding": 0, "dilation": 1, "groups": 1})

    # ---- pooling ------------------------------------------------------------------------------------
    case("maxpool_ceil", "F.max_pool2d(x, kernel_size=3, stride=2, ceil_mode=True)",
         [("x", randn(2, 3, 9, 10))],
         lambda x: F.max_pool2d(x, kernel_size=3, stride=2, ceil_mode=True),
         params={"kernel": 3, "stride": 2, "padding": 0, "ceil_mode": True})
    case("avgpool_pad", "F.avg_pool2d(x, kernel_size=2, stride=2, padding=1, count_include_pad=True)",
         [("x", randn(1, 2, 7, 7))],
         lambda x: F.avg_pool2d(x, kernel_size=2, stride=2, padding=1, count_include_pad=True),
         params={"kernel": 2, "stride": 2, "padding": 1, "ceil_mode": False, "count_include_pad": True})
    case("adaptive_avg", "F.adaptive_avg_pool2d(x, (3, 4))",
         [("x", randn(1, 2, 7, 9))],
         lambda x: F.adaptive_avg_pool2d(x, (3, 4)),
         params={"output_size": [3, 4]})

    # ---- resampling ---------------------------------------------------------------------------------
    case("bilinear", "F.interpolate(x, size=(9, 4), mode='bilinear', align_corners=False)",
         [("x", randn(1, 2, 5, 7))],
         lambda x: F.interpolate(x, size=(9, 4), mode="bilinear", align_corners=False),
         params={"size": [9, 4], "mode": "bilinear", "align_corners": False, "antialias": False})
    case("bilinear_ac", "F.interpolate(x, size=(9, 4), mode='bilinear', align_corners=True)",
         [("x", randn(1, 2, 5, 7))],
         lambda x: F.interpolate(x, size=(9, 4), mode="bilinear", align_corners=True),
         params={"size": [9, 4], "mode": "bilinear", "align_corners": True, "antialias": False})
    case("bilinear_down", "F.interpolate(x, size=(4, 5), mode='bilinear', align_corners=False, antialias=False)",
         [("x", randn(1, 1, 9, 11))],
         lambda x: F.interpolate(x, size=(4, 5), mode="bilinear", align_corners=False, antialias=False),
         params={"size": [4, 5], "mode": "bilinear", "align_corners": False, "antialias": False})
    case("nearest", "F.interpolate(x, size=(12, 9), mode='nearest')",
         [("x", randn(1, 2, 5, 7))],
         lambda x: F.interpolate(x, size=(12, 9), mode="nearest"),
         params={"size": [12, 9], "mode": "nearest"})

    # ---- normalization ------------------------------------------------------------------------------
    case("layer_norm", "F.layer_norm(x, (10,), w, b, eps=1e-5)",
         [("x", randn(3, 10)), ("w", randn(10)), ("b", randn(10))],
         lambda x, w, b: F.layer_norm(x, (10,), w, b, eps=1e-5),
         params={"normalized_shape": [10], "eps": 1e-5})
    case("batch_norm_train", "F.batch_norm(x, None, None, w, b, training=True, eps=1e-5)",
         [("x", randn(4, 3, 5, 5)), ("w", randn(3)), ("b", randn(3))],
         lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True, momentum=0.1, eps=1e-5),
         params={"training": True, "eps": 1e-5, "running_stats": None})
    case("batch_norm_eval", "F.batch_norm(x, running_mean, running_var, w, b, training=False, eps=1e-5)",
         [("x", randn(2, 3, 4, 4)), ("w", randn(3)), ("b", randn(3)),
          ("running_mean", randn(3)), ("running_var", uniform(0.5, 2.0, 3))],
         lambda x, w, b, m, v: F.batch_norm(x, m, v, w, b, training=False, eps=1e-5),
         params={"training": False, "eps": 1e-5}, grads=[0, 1, 2])

    # ---- activations --------------------------------------------------------------------------------
    case("gelu", "F.gelu(x, approximate='none')", [("x", activation_input(3, 7))],
         lambda x: F.gelu(x, approximate="none"), params={"approximate": "none"})
    case("quick_gelu", "x * torch.sigmoid(1.702 * x)", [("x", activation_input(3, 7))],
         lambda x: x * torch.sigmoid(1.702 * x), params={"alpha": 1.702})
    case("silu", "F.silu(x)", [("x", activation_input(3, 7))], lambda x: F.silu(x))
    case("sigmoid", "torch.sigmoid(x)", [("x", activation_input(3, 7))], lambda x: torch.sigmoid(x))
    case("tanh", "torch.tanh(x)", [("x", activation_input(3, 7))], lambda x: torch.tanh(x))
    case("relu6", "F.relu6(x)", [("x", activation_input(3, 7))], lambda x: F.relu6(x))
    case("prelu", "F.prelu(x, w)", [("x", randn(2, 3, 4, 4)), ("w", uniform(-0.5, 0.5, 3))],
         lambda x, w: F.prelu(x, w), params={"num_parameters": 3, "channel_axis": 1})
    case("softmax", "F.softmax(x, dim=1)", [("x", randn(3, 7))], lambda x: F.softmax(x, dim=1), params={"dim": 1})
    case("log_softmax", "F.log_softmax(x, dim=1)", [("x", randn(3, 7))],
         lambda x: F.log_softmax(x, dim=1), params={"dim": 1})
    case("softmax_axis0", "F.softmax(x, dim=0)", [("x", randn(4, 3, 2))],
         lambda x: F.softmax(x, dim=0), params={"dim": 0})

    # ---- attention / matmul -------------------------------------------------------------------------
    case("sdpa", "F.scaled_dot_product_attention(q, k, v, attn_mask=mask)",
         [("q", randn(2, 3, 5, 4)), ("k", randn(2, 3, 6, 4)), ("v", randn(2, 3, 6, 3)), ("mask", randn(5, 6))],
         lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
         params={"scale": "1/sqrt(q.shape[-1]) = 0.5", "mask": "additive float, broadcast over batch and heads",
                 "is_causal": False, "dropout_p": 0.0}, grads=[0, 1, 2])
    case("matmul_batched", "torch.matmul(a, b)", [("a", randn(2, 1, 3, 4)), ("b", randn(3, 4, 5))],
         lambda a, b: torch.matmul(a, b), params={"broadcast_batch": [2, 3]})
    case("linear", "F.linear(x, w, b)", [("x", randn(2, 3, 6)), ("w", randn(4, 6)), ("b", randn(4))],
         lambda x, w, b: F.linear(x, w, b), params={"formula": "x @ w.T + b"})

    # ---- FFT ----------------------------------------------------------------------------------------
    fft_note = "complex tensors stored as torch.view_as_real (last axis = [re, im]); grads are w.r.t. those reals"
    case("fft2", "view_as_real(torch.fft.fft2(view_as_complex(x)))", [("x", randn(2, 7, 14, 2))],
         lambda x: torch.view_as_real(torch.fft.fft2(torch.view_as_complex(x))),
         params={"dims": [-2, -1], "norm": "backward (no scaling)"}, notes=fft_note)
    case("ifft2", "view_as_real(torch.fft.ifft2(view_as_complex(x)))", [("x", randn(2, 7, 14, 2))],
         lambda x: torch.view_as_real(torch.fft.ifft2(torch.view_as_complex(x))),
         params={"dims": [-2, -1], "norm": "backward (1/(H*W) on the inverse)"}, notes=fft_note)
    case("fft2_224", "view_as_real(torch.fft.fft2(view_as_complex(x)))", [("x", randn(1, 28, 56, 2))],
         lambda x: torch.view_as_real(torch.fft.fft2(torch.view_as_complex(x))),
         params={"dims": [-2, -1], "norm": "backward (no scaling)"},
         notes=fft_note + "; shape is [1,28,56,2] (not 224x224, to keep the file small); 28=4*7, 56=8*7")

    # ---- losses / reductions ------------------------------------------------------------------------
    ce_targets = torch.tensor([3.0, 0.0, 4.0, 1.0])
    case("cross_entropy_ls", "F.cross_entropy(logits, targets.long(), label_smoothing=0.1)",
         [("logits", randn(4, 5))],
         lambda x, targets: F.cross_entropy(x, targets.long(), label_smoothing=0.1),
         params={"label_smoothing": 0.1, "reduction": "mean", "num_classes": 5},
         aux={"targets": ce_targets}, notes="out and r are scalars (shape [])")
    case("bce_logits", "F.binary_cross_entropy_with_logits(logits, targets)",
         [("logits", randn(6)), ("targets", torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 0.0]))],
         lambda x, t: F.binary_cross_entropy_with_logits(x, t),
         params={"reduction": "mean", "pos_weight": None},
         notes="out and r are scalars (shape []); grad1 (w.r.t. targets) = -logits * r / N")
    case("reduce_var", "x.var(dim=(0, 2), unbiased=True, keepdim=False)", [("x", randn(3, 4, 5))],
         lambda x: x.var(dim=(0, 2), unbiased=True, keepdim=False),
         params={"dim": [0, 2], "unbiased": True, "keepdim": False})
    return C


def evaluate(c, dtype, rs=None):
    """Runs case c in `dtype`. Returns (outs, rs, grads-by-input-index)."""
    ins = [t.detach().to(dtype).clone().requires_grad_(i in c["grads"]) for i, (_, t) in enumerate(c["inputs"])]
    aux = {k: v.to(dtype) for k, v in c["aux"].items()}
    out = c["fn"](*ins, **aux)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    if rs is None:
        rs = [torch.randn(o.shape, dtype=torch.float32) for o in outs]
    loss = sum((o * r.to(dtype)).sum() for o, r in zip(outs, rs))
    diff = [ins[i] for i in c["grads"]]
    gs = torch.autograd.grad(loss, diff)
    return [o.detach() for o in outs], rs, dict(zip(c["grads"], [g.detach() for g in gs]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true", help="reload the written file and re-verify it")
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(1)
    cases = build_cases()
    tensors, manifest = {}, []
    for c in cases:
        name = c["name"]
        outs, rs, grads = evaluate(c, torch.float32)
        # float64 re-run with the same inputs and R: how far float32 is from the exact answer
        outs64, _, grads64 = evaluate(c, torch.float64, rs)
        dev_out = max(float((a.double() - b).abs().max()) for a, b in zip(outs, outs64))
        dev_grad = max(float((grads[i].double() - grads64[i]).abs().max()) for i in grads)

        entry = {"name": name, "op": c["op"], "params": c["params"], "inputs": [], "outputs": [], "aux": {},
                 "grads": [f"grad{i}" for i in c["grads"]],
                 "float64_max_abs_dev": {"out": dev_out, "grad": dev_grad}}
        if c["notes"]:
            entry["notes"] = c["notes"]
        for i, (role, t) in enumerate(c["inputs"]):
            tensors[f"{name}.in{i}"] = t
            entry["inputs"].append({"tensor": f"in{i}", "role": role, "shape": list(t.shape),
                                    "grad": f"grad{i}" if i in grads else None})
        for k, t in enumerate(outs):
            sfx = "" if k == 0 else str(k)
            tensors[f"{name}.out{sfx}"] = outs[k]
            tensors[f"{name}.r{sfx}"] = rs[k]
            entry["outputs"].append({"tensor": f"out{sfx}", "r": f"r{sfx}", "shape": list(t.shape)})
        for i, g in grads.items():
            tensors[f"{name}.grad{i}"] = g
        for k, v in c["aux"].items():
            tensors[f"{name}.{k}"] = v
            entry["aux"][k] = {"shape": list(v.shape), "values": v.tolist()}
        manifest.append(entry)

    os.makedirs(args.out, exist_ok=True)
    st_path = os.path.join(args.out, "engine_ops.safetensors")
    write_safetensors(st_path, tensors, metadata={"generator": "scripts/reference/make_engine_fixtures.py",
                                                  "torch": torch.__version__})
    doc = {
        "generator": "python3 scripts/reference/make_engine_fixtures.py",
        "torch_version": torch.__version__,
        "dtype": "float32",
        "convention": ("For case NAME: NAME.in<i> inputs in listed order; NAME.out (NAME.out1...) outputs; "
                       "NAME.r (NAME.r1...) random tensors of the outputs' shapes; NAME.grad<i> = gradient of "
                       "sum_k (out_k * r_k).sum() w.r.t. in<i> (only for inputs whose 'grad' is not null); "
                       "NAME.<aux> extra non-differentiable data."),
        "float64_max_abs_dev": "max |float32 result - float64 re-run on the same inputs| for out and grads",
        "cases": manifest,
    }
    with open(os.path.join(args.out, "engine_ops.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    size = os.path.getsize(st_path)
    print(f"wrote {st_path} ({size} bytes, {len(tensors)} tensors, {len(cases)} cases)")
    assert size < 200 * 1024, size

    if args.check:
        loaded = read_safetensors(st_path)
        assert set(loaded) == set(tensors)
        for k, v in tensors.items():
            assert np.array_equal(loaded[k], v.detach().numpy()), k
        # re-run each case from the *reloaded* inputs and compare against the stored outputs and grads
        for c in cases:
            n = c["name"]
            c2 = dict(c, inputs=[(role, torch.from_numpy(loaded[f"{n}.in{i}"])) for i, (role, _) in enumerate(c["inputs"])],
                      aux={k: torch.from_numpy(loaded[f"{n}.{k}"]) for k in c["aux"]})
            rs = [torch.from_numpy(loaded[f"{n}.r"])]
            outs, _, grads = evaluate(c2, torch.float32, rs)
            assert np.array_equal(outs[0].numpy(), loaded[f"{n}.out"]), n
            for i, g in grads.items():
                assert np.array_equal(g.numpy(), loaded[f"{n}.grad{i}"]), (n, i)
        print("check: reloaded file matches a fresh torch evaluation bit for bit")


if __name__ == "__main__":
    main()
