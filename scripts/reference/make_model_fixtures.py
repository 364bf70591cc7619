#!/usr/bin/env python3
"""Generates small whole-model reference fixtures for ForensightNN from PyTorch.

Writes, into Tests/ForensightNNTests/Fixtures/ (or --out DIR), all tensors F32:

  tiny_convnet.safetensors
      the full state_dict of TinyConvNet (below) under its own keys (conv1.weight, conv1.bias, bn1.weight,
      bn1.bias, bn1.running_mean, bn1.running_var, bn1.num_batches_tracked (as float), conv2.*, conv3.*, fc.*),
      input [2,3,16,16], output [2,4] (eval mode), r [2,4],
      grad.input and grad.<param> = gradients of (output * r).sum() in eval mode (BatchNorm uses running stats).

  tiny_transformer.safetensors
      two nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, dropout=0.0, activation="gelu",
      batch_first=True) in eval mode: norm_first=False under prefix "post.", norm_first=True under "pre.";
      their state_dicts (post.self_attn.in_proj_weight, ..., post.norm1.weight, ...), input [2,5,16],
      post.output, pre.output, r [2,5,16], post.grad.input, pre.grad.input, post.grad.<param> and
      pre.grad.<param> for every parameter (gradients of (output * r).sum()).

Outputs are computed with autograd on (input.requires_grad) and torch.backends.mha fast path disabled, so the
fused eval "fastpath" kernels are never used: the values are those of the plain composite ops.

    python3 scripts/reference/make_model_fixtures.py            # regenerate
    python3 scripts/reference/make_model_fixtures.py --check    # regenerate, reload and re-verify

Deterministic: torch.manual_seed(0), one thread.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _safetensors_io import read_safetensors, write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "..", "Tests", "ForensightNNTests", "Fixtures")


class TinyConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)
        self.conv3 = nn.Conv2d(8, 16, 1)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu6(self.conv2(x))
        x = self.conv3(x)
        x = F.max_pool2d(x, kernel_size=2, stride=2)
        x = F.gelu(x)
        x = F.adaptive_avg_pool2d(x, 1)
        x = torch.flatten(x, 1)
        return self.fc(x)


def grads_of(model, x, r):
    """(output, grad wrt input, {param name: grad}) for loss = (model(x) * r).sum()."""
    model.zero_grad(set_to_none=True)
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = model(x)
        (out * r).sum().backward()
    return out.detach(), x.grad.detach(), {n: p.grad.detach().clone() for n, p in model.named_parameters()}


def state_tensors(model, prefix=""):
    return {prefix + k: v.detach().to(torch.float32) for k, v in model.state_dict().items()}


def make_convnet():
    model = TinyConvNet()
    with torch.no_grad():  # non-trivial BatchNorm affine and running statistics
        model.bn1.weight.copy_(1.0 + 0.3 * torch.randn(8))
        model.bn1.bias.copy_(0.2 * torch.randn(8))
        model.bn1.running_mean.copy_(0.5 * torch.randn(8))
        model.bn1.running_var.copy_(torch.empty(8).uniform_(0.5, 2.0))
        model.bn1.num_batches_tracked.fill_(37)
    model.eval()
    x = torch.randn(2, 3, 16, 16)
    out0 = model(x).detach()
    r = torch.randn(out0.shape)
    out, gx, gp = grads_of(model, x, r)
    assert torch.equal(out, out0)
    t = state_tensors(model)
    t.update({"input": x, "output": out, "r": r, "grad.input": gx})
    t.update({"grad." + n: g for n, g in gp.items()})
    return model, t


def make_layer(norm_first):
    layer = nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=norm_first)
    with torch.no_grad():  # biases start at 0 and LayerNorm at (1, 0): perturb so every term matters
        for n, p in layer.named_parameters():
            if n.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape))
            elif n.startswith("norm"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape))
    return layer.eval()


def make_transformer():
    post, pre = make_layer(False), make_layer(True)
    x = torch.randn(2, 5, 16)
    r = torch.randn(2, 5, 16)
    t = {"input": x, "r": r}
    fastpath_dev = {}
    for prefix, layer in (("post.", post), ("pre.", pre)):
        out, gx, gp = grads_of(layer, x, r)
        t.update(state_tensors(layer, prefix))
        t[prefix + "output"] = out
        t[prefix + "grad.input"] = gx
        t.update({prefix + "grad." + n: g for n, g in gp.items()})
        # for information only: how far the fused eval fast path (no grad) is from the stored values
        torch.backends.mha.set_fastpath_enabled(True)
        with torch.no_grad():
            fast = layer(x)
        torch.backends.mha.set_fastpath_enabled(False)
        fastpath_dev[prefix[:-1]] = float((fast - out).abs().max())
    return post, pre, t, fastpath_dev


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true", help="reload the written files and re-verify them")
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.backends.mha.set_fastpath_enabled(False)
    os.makedirs(args.out, exist_ok=True)
    meta = {"generator": "scripts/reference/make_model_fixtures.py", "torch": torch.__version__}

    convnet, tc = make_convnet()
    post, pre, tt, fastpath_dev = make_transformer()
    paths = {}
    for fname, tensors in (("tiny_convnet.safetensors", tc), ("tiny_transformer.safetensors", tt)):
        p = os.path.join(args.out, fname)
        write_safetensors(p, tensors, metadata=meta)
        paths[fname] = p
        print(f"wrote {p} ({os.path.getsize(p)} bytes, {len(tensors)} tensors)")
    print("fused fastpath (no_grad) vs stored output, max |diff| (information only):", fastpath_dev)

    if args.check:
        for fname, tensors in (("tiny_convnet.safetensors", tc), ("tiny_transformer.safetensors", tt)):
            loaded = read_safetensors(paths[fname])
            assert set(loaded) == set(tensors), fname
            for k, v in tensors.items():
                assert np.array_equal(loaded[k], v.numpy()), (fname, k)
        # rebuild fresh modules from the reloaded state dicts and recompute everything
        lc = read_safetensors(paths["tiny_convnet.safetensors"])
        m = TinyConvNet()
        sd = {k: torch.from_numpy(lc[k]) for k in m.state_dict()}
        sd["bn1.num_batches_tracked"] = sd["bn1.num_batches_tracked"].long()
        m.load_state_dict(sd)
        m.eval()
        out, gx, gp = grads_of(m, torch.from_numpy(lc["input"]), torch.from_numpy(lc["r"]))
        assert np.array_equal(out.numpy(), lc["output"]) and np.array_equal(gx.numpy(), lc["grad.input"])
        assert all(np.array_equal(g.numpy(), lc["grad." + n]) for n, g in gp.items())
        lt = read_safetensors(paths["tiny_transformer.safetensors"])
        for prefix, nf in (("post.", False), ("pre.", True)):
            layer = nn.TransformerEncoderLayer(16, 4, 32, 0.0, activation="gelu", batch_first=True, norm_first=nf)
            layer.load_state_dict({k: torch.from_numpy(lt[prefix + k]) for k in layer.state_dict()})
            layer.eval()
            out, gx, gp = grads_of(layer, torch.from_numpy(lt["input"]), torch.from_numpy(lt["r"]))
            assert np.array_equal(out.numpy(), lt[prefix + "output"]), prefix
            assert np.array_equal(gx.numpy(), lt[prefix + "grad.input"]), prefix
            assert all(np.array_equal(g.numpy(), lt[prefix + "grad." + n]) for n, g in gp.items()), prefix
        print("check: reloaded files match fresh torch evaluations bit for bit")


if __name__ == "__main__":
    main()
