#!/usr/bin/env python3
"""Reference outputs of M2TR (ForensightModels `M2TRNetwork`) from an independent PyTorch model.

Written here from the M2TR paper (Wang et al., ICMR 2022) as Forensight builds it on an EfficientNet-Lite trunk, with
torch.nn.functional layers and torch.fft, independently of the Swift code:
  - trunk: a tiny EfficientNet-Lite (stem 8 stride 2; MBConv expansion 1 kernel 3 stride 1 8->8; two MBConvs expansion
    2 kernel 5, the first stride 2, 8->8; TensorFlow SAME padding; BatchNorm eps 1e-3 in evaluation mode; ReLU6), no
    head: input [2, 3, 32, 32] -> map [2, 8, 8, 8];
  - proj: 1x1 convolution 8 -> d = 12;
  - two multi-scale transformer layers, patch sizes 1, 2, 4 (one head each, 4 channels each): a 1x1 convolution to
    q, k, v (d each, in that order); head i takes channels 4i..4i+3 of each, cuts them into r x r patches with
    F.unfold (token = the patch's c*r*r values, channel-major), attends softmax(q k^T / sqrt(c r r)) v over the
    patches, folds back with F.fold; the heads' maps are concatenated, then 3x3 convolution (padding 1), BatchNorm
    (eps 1e-5, evaluation mode), LeakyReLU(0.2), added to the layer's input;
  - frequency filter on the projected map: real(ifft2(fft2(f) * (a + ib))), a and b [d, 8, 8] random;
  - cross-modality fusion: nn.MultiheadAttention(d, 2 heads, batch_first) with the transformer output's positions as
    queries and the filtered map's positions as keys and values, added to the transformer output;
  - head: spatial mean -> linear d -> 1.
  - branch consistency: mean over images of |u/|u| - v/|v||^2 / 2 for the pooled transformer output u and pooled
    filtered map v.

Writes Tests/ForensightModelsTests/Fixtures/m2tr_reference.safetensors (F32): every tensor of the network under the
Swift keys (trunk._conv_stem.weight, ..., proj.*, transformer.N.{qkv,output,norm}.*, filter.weight_{real,imag},
fusion.attention.{in_proj_weight,in_proj_bias,out_proj.*}, fc.*), `input` [2, 3, 32, 32], and `rgb`, `frequency`,
`fused` [2, 12, 8, 8], `features` [2, 12], `logits` [2, 1], `consistency` [] in evaluation mode.

    /work/venv/bin/python scripts/reference/make_m2tr_fixture.py

Deterministic (torch.manual_seed(20), float64 compute on float32-rounded weights); needs torch and numpy.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _safetensors_io import write_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests/ForensightModelsTests/Fixtures/m2tr_reference.safetensors")
BLOCKS = [(1, 3, 1, 8, 8), (2, 5, 2, 8, 8), (2, 5, 1, 8, 8)]  # (expansion, kernel, stride, in, out)
STEM, D, PATCHES, LAYERS, HEADS, SIDE, MAP = 8, 12, [1, 2, 4], 2, 2, 32, 8


def param(*shape, std=0.3):
    return (torch.randn(*shape) * std).float().double()


def bn_state(s, key, c):
    s[key + ".weight"], s[key + ".bias"] = 1 + param(c, std=0.2), param(c, std=0.1)
    s[key + ".running_mean"] = param(c, std=0.2)
    s[key + ".running_var"] = (0.5 + torch.rand(c)).float().double()


def bn(s, key, x, eps):
    return F.batch_norm(x, s[key + ".running_mean"], s[key + ".running_var"], s[key + ".weight"], s[key + ".bias"],
                        training=False, eps=eps)


def same_conv(x, w, stride, groups=1):
    """TensorFlow SAME: output ceil(n / stride), the padding split with the extra pixel after."""
    k = w.shape[2]
    pads = []
    for n in (x.shape[3], x.shape[2]):
        total = max((-(-n // stride) - 1) * stride + k - n, 0)
        pads += [total // 2, total - total // 2]
    return F.conv2d(F.pad(x, pads), w, stride=stride, groups=groups)


def state():
    s = {"trunk._conv_stem.weight": param(STEM, 3, 3, 3)}
    bn_state(s, "trunk._bn0", STEM)
    for i, (e, k, st, ci, co) in enumerate(BLOCKS):
        p, hidden = f"trunk._blocks.{i}.", ci * e
        if e != 1:
            s[p + "_expand_conv.weight"] = param(hidden, ci, 1, 1)
            bn_state(s, p + "_bn0", hidden)
        s[p + "_depthwise_conv.weight"] = param(hidden, 1, k, k)
        bn_state(s, p + "_bn1", hidden)
        s[p + "_project_conv.weight"] = param(co, hidden, 1, 1)
        bn_state(s, p + "_bn2", co)
    s["proj.weight"], s["proj.bias"] = param(D, BLOCKS[-1][4], 1, 1, std=0.4), param(D, std=0.1)
    for n in range(LAYERS):
        p = f"transformer.{n}."
        s[p + "qkv.weight"], s[p + "qkv.bias"] = param(3 * D, D, 1, 1, std=0.3), param(3 * D, std=0.1)
        s[p + "output.weight"], s[p + "output.bias"] = param(D, D, 3, 3, std=0.1), param(D, std=0.1)
        bn_state(s, p + "norm", D)
    s["filter.weight_real"] = 1 + param(D, MAP, MAP, std=0.5)
    s["filter.weight_imag"] = param(D, MAP, MAP, std=0.5)
    s["fusion.attention.in_proj_weight"], s["fusion.attention.in_proj_bias"] = param(3 * D, D, std=0.3), param(3 * D, std=0.1)
    s["fusion.attention.out_proj.weight"], s["fusion.attention.out_proj.bias"] = param(D, D, std=0.3), param(D, std=0.1)
    s["fc.weight"], s["fc.bias"] = param(1, D, std=0.4), param(1, std=0.1)
    return s


def trunk(s, x):
    h = F.relu6(bn(s, "trunk._bn0", same_conv(x, s["trunk._conv_stem.weight"], 2), 1e-3))
    for i, (e, k, st, ci, co) in enumerate(BLOCKS):
        p, inp = f"trunk._blocks.{i}.", h
        if e != 1:
            h = F.relu6(bn(s, p + "_bn0", same_conv(h, s[p + "_expand_conv.weight"], 1), 1e-3))
        h = F.relu6(bn(s, p + "_bn1", same_conv(h, s[p + "_depthwise_conv.weight"], st, groups=h.shape[1]), 1e-3))
        h = bn(s, p + "_bn2", same_conv(h, s[p + "_project_conv.weight"], 1), 1e-3)
        if st == 1 and ci == co:
            h = h + inp
    return h


def multi_scale_layer(s, p, x):
    qkv = F.conv2d(x, s[p + "qkv.weight"], s[p + "qkv.bias"])
    q, k, v = qkv[:, :D], qkv[:, D:2 * D], qkv[:, 2 * D:]
    c, heads = D // len(PATCHES), []
    for i, r in enumerate(PATCHES):
        part = [F.unfold(t[:, i * c:(i + 1) * c], kernel_size=r, stride=r).transpose(1, 2) for t in (q, k, v)]  # [N, T, c r r]
        weights = torch.softmax(part[0] @ part[1].transpose(1, 2) / (c * r * r) ** 0.5, dim=-1)
        out = (weights @ part[2]).transpose(1, 2)
        heads.append(F.fold(out, output_size=(MAP, MAP), kernel_size=r, stride=r))
    y = bn(s, p + "norm", F.conv2d(torch.cat(heads, 1), s[p + "output.weight"], s[p + "output.bias"], padding=1), 1e-5)
    return x + F.leaky_relu(y, 0.2)


def frequency_filter(s, f):
    spectrum = torch.fft.fft2(f.to(torch.complex128))
    return torch.fft.ifft2(spectrum * torch.complex(s["filter.weight_real"], s["filter.weight_imag"])).real


def fusion(s, rgb, freq):
    mha = torch.nn.MultiheadAttention(D, HEADS, batch_first=True).double()
    with torch.no_grad():
        mha.in_proj_weight.copy_(s["fusion.attention.in_proj_weight"])
        mha.in_proj_bias.copy_(s["fusion.attention.in_proj_bias"])
        mha.out_proj.weight.copy_(s["fusion.attention.out_proj.weight"])
        mha.out_proj.bias.copy_(s["fusion.attention.out_proj.bias"])
    mha.eval()
    q, kv = rgb.flatten(2).transpose(1, 2), freq.flatten(2).transpose(1, 2)
    with torch.no_grad():
        out, _ = mha(q, kv, kv, need_weights=False)
    return rgb + out.transpose(1, 2).reshape(rgb.shape)


def main():
    torch.manual_seed(20)
    s = state()
    x = (torch.rand(2, 3, SIDE, SIDE) * 2 - 1).float().double()
    f = F.conv2d(trunk(s, x), s["proj.weight"], s["proj.bias"])
    rgb = f
    for n in range(LAYERS):
        rgb = multi_scale_layer(s, f"transformer.{n}.", rgb)
    freq = frequency_filter(s, f)
    fused = fusion(s, rgb, freq)
    features = fused.mean(dim=(2, 3))
    logits = F.linear(features, s["fc.weight"], s["fc.bias"])
    u, v = F.normalize(rgb.mean(dim=(2, 3)), dim=1), F.normalize(freq.mean(dim=(2, 3)), dim=1)
    consistency = ((u - v) ** 2).sum(dim=1).mean() * 0.5
    out = dict(s)
    out.update({"input": x, "rgb": rgb, "frequency": freq, "fused": fused, "features": features, "logits": logits,
                "consistency": consistency})
    write_safetensors(OUT, out, {"generator": "scripts/reference/make_m2tr_fixture.py", "torch": torch.__version__})
    print(f"wrote {os.path.relpath(OUT, ROOT)}: {len(out)} tensors, logits {logits.flatten().tolist()}, consistency {consistency.item()}")


if __name__ == "__main__":
    main()
