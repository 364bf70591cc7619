#!/usr/bin/env python3
"""Reference outputs of the trace autoencoders (ForensightModels `TraceAutoencoder`), computed in float64 numpy.

The reference is written from the layers' textbook definitions, independently of the Swift code:
  - convolution: out[o, y, x] = b[o] + sum_{c, ky, kx} w[o, c, ky, kx] * in_padded[c, s*y + ky, s*x + kx];
  - transposed convolution as PyTorch's ConvTranspose2d(kernel 4, stride 2, padding 1) defines it, by scattering:
    out[o, 2*i - 1 + ky, 2*j - 1 + kx] += x[c, i, j] * wt[c, o, ky, kx]  (entries outside the output dropped),
    where the Swift layer's convolution weight is w[o, c, ky, kx] = wt[c, o, 3 - ky, 3 - kx];
  - nearest doubling: out[2i + a, 2j + b] = x[i, j];
  - bilinear doubling (half-pixel centres, edge clamped, PyTorch align_corners=False):
    source coordinate max((d + 0.5) / 2 - 0.5, 0) per axis.

Writes Tests/ForensightModelsTests/Fixtures/trace_autoencoder.safetensors (F32): for each kind in
{transposed, nearest, bilinear}, the state_dict of a TraceAutoencoder(width 4, stages 2) under `<kind>.` (Swift's
keys: encoder.0.weight, ..., bottleneck.*, decoder.<i>.conv.*, output.*), its input `<kind>.input` [2, 3, 16, 12]
and output `<kind>.output`.

    python3 scripts/reference/make_trace_autoencoder_fixtures.py

Deterministic (numpy default_rng(7)); needs only numpy.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _safetensors_io import write_safetensors  # noqa: E402

WIDTH, STAGES = 4, 2
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests/ForensightModelsTests/Fixtures/trace_autoencoder.safetensors")


def conv(x, w, b, stride=1, pad=(1, 1, 1, 1)):
    """x [N,C,H,W], w [O,C,kh,kw]; pad = (top, bottom, left, right), zeros."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    t, bo, l, r = pad
    xp = np.zeros((n, c, h + t + bo, wd + l + r))
    xp[:, :, t:t + h, l:l + wd] = x
    oh = (h + t + bo - kh) // stride + 1
    ow = (wd + l + r - kw) // stride + 1
    out = np.zeros((n, o, oh, ow))
    for y in range(oh):
        for xx in range(ow):
            patch = xp[:, :, stride * y:stride * y + kh, stride * xx:stride * xx + kw]
            out[:, :, y, xx] = np.einsum("nckl,ockl->no", patch, w)
    return out + b[None, :, None, None]


def conv_transpose(x, wt, b):
    """PyTorch ConvTranspose2d(kernel 4, stride 2, padding 1): x [N,C,H,W], wt [C,O,4,4] -> [N,O,2H,2W]."""
    n, c, h, w = x.shape
    o = wt.shape[1]
    out = np.zeros((n, o, 2 * h, 2 * w))
    for i in range(h):
        for j in range(w):
            for ky in range(4):
                for kx in range(4):
                    y, xx = 2 * i - 1 + ky, 2 * j - 1 + kx
                    if 0 <= y < 2 * h and 0 <= xx < 2 * w:
                        out[:, :, y, xx] += np.einsum("nc,co->no", x[:, :, i, j], wt[:, :, ky, kx])
    return out + b[None, :, None, None]


def nearest2(x):
    return x.repeat(2, axis=2).repeat(2, axis=3)


def bilinear2(x):
    def axis_weights(n):
        m = np.zeros((2 * n, n))
        for d in range(2 * n):
            s = max((d + 0.5) / 2 - 0.5, 0.0)
            i0 = min(int(np.floor(s)), n - 1)
            i1 = min(i0 + 1, n - 1)
            f = s - i0
            m[d, i0] += 1 - f
            m[d, i1] += f
        return m
    ry, rx = axis_weights(x.shape[2]), axis_weights(x.shape[3])
    return np.einsum("yi,ncij,xj->ncyx", ry, x, rx)


def relu(x):
    return np.maximum(x, 0)


def make(kind, rng):
    widths = [WIDTH << s for s in range(STAGES)]
    state, layers = {}, []
    c = 3
    for s, w in enumerate(widths):
        state[f"encoder.{s}.weight"] = rng.normal(0, 0.3, (w, c, 3, 3))
        state[f"encoder.{s}.bias"] = rng.normal(0, 0.1, (w,))
        c = w
    state["bottleneck.weight"] = rng.normal(0, 0.2, (c, c, 3, 3))
    state["bottleneck.bias"] = rng.normal(0, 0.1, (c,))
    dec = list(reversed(widths))[1:] + [WIDTH]
    for s, w in enumerate(dec):
        k = 4 if kind == "transposed" else 3
        state[f"decoder.{s}.conv.weight"] = rng.normal(0, 0.2, (w, c, k, k))
        state[f"decoder.{s}.conv.bias"] = rng.normal(0, 0.1, (w,))
        c = w
    state["output.weight"] = rng.normal(0, 0.2, (3, c, 3, 3))
    state["output.bias"] = rng.normal(0, 0.1, (3,))
    state = {k: v.astype(np.float32).astype(np.float64) for k, v in state.items()}

    x = rng.uniform(-1, 1, (2, 3, 16, 12)).astype(np.float32).astype(np.float64)
    h = x
    for s in range(STAGES):
        h = relu(conv(h, state[f"encoder.{s}.weight"], state[f"encoder.{s}.bias"], stride=2))
    h = relu(conv(h, state["bottleneck.weight"], state["bottleneck.bias"]))
    for s in range(len(dec)):
        w, b = state[f"decoder.{s}.conv.weight"], state[f"decoder.{s}.conv.bias"]
        if kind == "transposed":
            wt = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # [C, O, 4, 4] as ConvTranspose2d stores it
            h = relu(conv_transpose(h, wt, b))
        else:
            up = nearest2(h) if kind == "nearest" else bilinear2(h)
            h = relu(conv(up, w, b))
    y = conv(h, state["output.weight"], state["output.bias"])
    out = {f"{kind}.{k}": v for k, v in state.items()}
    out[f"{kind}.input"] = x
    out[f"{kind}.output"] = y
    return out


def main():
    rng = np.random.default_rng(7)
    tensors = {}
    for kind in ("transposed", "nearest", "bilinear"):
        tensors.update(make(kind, rng))
    write_safetensors(OUT, tensors)
    print(f"wrote {OUT}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
