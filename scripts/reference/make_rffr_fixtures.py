#!/usr/bin/env python3
"""Reference outputs of RFFR's networks (ForensightModels `BlockInpainter` and `RFFRNetwork`), computed by PyTorch.

The reference is written here from the architectures' descriptions, independently of the Swift code, with
torch.nn.functional layers:
  - BlockInpainter (width 4, input [2, 4, 32, 32]): conv3x3 4->w (pad 1), three conv3x3 stride 2 (pad 1) to 2w, 4w,
    4w, a dilated (2) conv3x3 4w->4w (pad 2); three decoder stages of bilinear resizing (align_corners=False) to the
    matching encoder map's size, conv3x3 (pad 1), ReLU, plus that encoder map; a conv3x3 to RGB. ReLU after every
    convolution but the last.
  - RFFRNetwork with a tiny EfficientNet-Lite crop branch (stem 8, an MBConv of expansion 1 kernel 3 stride 1 8->8,
    two MBConvs of expansion 2 kernel 5, the first stride 2, 8->8, head 16; TensorFlow SAME padding; BatchNorm eps
    1e-3 in evaluation mode; ReLU6), the residual branch (four conv3x3 stride 2 pad 1 without bias, 3->16->32->64->128,
    BatchNorm eps 1e-3 + ReLU each, global mean), the pooled features concatenated [crop 16, residual 128] and a linear
    head to one logit. Input [2, 6, 32, 32]: channels 0-2 the crop, 3-5 the residual.

Writes Tests/ForensightModelsTests/Fixtures/rffr_reference.safetensors (F32):
  inpainter.<Swift key>, inpainter_input [2,4,32,32], inpainter_output [2,3,32,32],
  network.<Swift key> (every RFFRNetwork tensor, BatchNorm running statistics random), network_input [2,6,32,32],
  network_output [2,1].

    /work/venv/bin/python scripts/reference/make_rffr_fixtures.py

Deterministic (torch.manual_seed(11), float64 compute on float32-rounded weights); needs torch and numpy.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _safetensors_io import write_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests/ForensightModelsTests/Fixtures/rffr_reference.safetensors")
W = 4


def param(*shape, std=0.3):
    return (torch.randn(*shape) * std).float().double()


def inpainter_state(prefix):
    s = {}
    chans = [W, 2 * W, 4 * W, 4 * W]
    cin = 4
    for i, c in enumerate(chans):
        s[f"{prefix}encoder.{i}.weight"], s[f"{prefix}encoder.{i}.bias"] = param(c, cin, 3, 3), param(c, std=0.1)
        cin = c
    s[f"{prefix}bottleneck.weight"], s[f"{prefix}bottleneck.bias"] = param(cin, cin, 3, 3, std=0.2), param(cin, std=0.1)
    for i in range(3):
        co = chans[2 - i]
        s[f"{prefix}decoder.{i}.weight"], s[f"{prefix}decoder.{i}.bias"] = param(co, chans[3 - i], 3, 3, std=0.2), param(co, std=0.1)
    s[f"{prefix}output.weight"], s[f"{prefix}output.bias"] = param(3, W, 3, 3, std=0.2), param(3, std=0.1)
    return s


def inpainter_forward(s, p, x):
    skips, h = [], x
    for i in range(4):
        h = F.relu(F.conv2d(h, s[f"{p}encoder.{i}.weight"], s[f"{p}encoder.{i}.bias"], stride=1 if i == 0 else 2, padding=1))
        skips.append(h)
    h = F.relu(F.conv2d(h, s[f"{p}bottleneck.weight"], s[f"{p}bottleneck.bias"], padding=2, dilation=2))
    for i in range(3):
        skip = skips[2 - i]
        up = F.interpolate(h, size=skip.shape[2:], mode="bilinear", align_corners=False)
        h = F.relu(F.conv2d(up, s[f"{p}decoder.{i}.weight"], s[f"{p}decoder.{i}.bias"], padding=1)) + skip
    return F.conv2d(h, s[f"{p}output.weight"], s[f"{p}output.bias"], padding=1)


def bn_state(s, key, c):
    s[key + ".weight"], s[key + ".bias"] = 1 + param(c, std=0.2), param(c, std=0.1)
    s[key + ".running_mean"] = param(c, std=0.2)
    s[key + ".running_var"] = (0.5 + torch.rand(c)).float().double()


def bn(s, key, x):
    return F.batch_norm(x, s[key + ".running_mean"], s[key + ".running_var"], s[key + ".weight"], s[key + ".bias"],
                        training=False, eps=1e-3)


def same_conv(x, w, stride, groups=1):
    """TensorFlow SAME: output ceil(n / stride), the padding split with the extra pixel after."""
    k = w.shape[2]
    pads = []
    for n in (x.shape[3], x.shape[2]):
        total = max((-(-n // stride) - 1) * stride + k - n, 0)
        pads += [total // 2, total - total // 2]
    return F.conv2d(F.pad(x, pads), w, stride=stride, groups=groups)


# (expand ratio, kernel, stride, in, out) per block of the tiny crop branch.
BLOCKS = [(1, 3, 1, 8, 8), (2, 5, 2, 8, 8), (2, 5, 1, 8, 8)]
STEM, HEAD = 8, 16


def network_state():
    s = inpainter_state("inpainter.")
    s["crop._conv_stem.weight"] = param(STEM, 3, 3, 3)
    bn_state(s, "crop._bn0", STEM)
    for i, (e, k, st, ci, co) in enumerate(BLOCKS):
        p, hidden = f"crop._blocks.{i}.", ci * e
        if e != 1:
            s[p + "_expand_conv.weight"] = param(hidden, ci, 1, 1)
            bn_state(s, p + "_bn0", hidden)
        s[p + "_depthwise_conv.weight"] = param(hidden, 1, k, k)
        bn_state(s, p + "_bn1", hidden)
        s[p + "_project_conv.weight"] = param(co, hidden, 1, 1)
        bn_state(s, p + "_bn2", co)
    s["crop._conv_head.weight"] = param(HEAD, BLOCKS[-1][4], 1, 1)
    bn_state(s, "crop._bn1", HEAD)
    s["crop._fc.weight"], s["crop._fc.bias"] = param(1, HEAD), param(1)  # built, unused by RFFR
    widths = [3, 16, 32, 64, 128]
    for i in range(4):
        s[f"residual.convs.{i}.weight"] = param(widths[i + 1], widths[i], 3, 3, std=0.2)
        bn_state(s, f"residual.norms.{i}", widths[i + 1])
    s["head.weight"], s["head.bias"] = param(1, HEAD + 128, std=0.2), param(1, std=0.1)
    return s


def network_forward(s, x):
    crop, cue = x[:, :3], x[:, 3:]
    h = F.relu6(bn(s, "crop._bn0", same_conv(crop, s["crop._conv_stem.weight"], 2)))
    for i, (e, k, st, ci, co) in enumerate(BLOCKS):
        p, inp = f"crop._blocks.{i}.", h
        if e != 1:
            h = F.relu6(bn(s, p + "_bn0", same_conv(h, s[p + "_expand_conv.weight"], 1)))
        h = F.relu6(bn(s, p + "_bn1", same_conv(h, s[p + "_depthwise_conv.weight"], st, groups=h.shape[1])))
        h = bn(s, p + "_bn2", same_conv(h, s[p + "_project_conv.weight"], 1))
        if st == 1 and ci == co:
            h = h + inp
    h = F.relu6(bn(s, "crop._bn1", same_conv(h, s["crop._conv_head.weight"], 1)))
    crop_features = h.mean(dim=(2, 3))
    r = cue
    for i in range(4):
        r = F.relu(bn(s, f"residual.norms.{i}", F.conv2d(r, s[f"residual.convs.{i}.weight"], stride=2, padding=1)))
    fused = torch.cat([crop_features, r.mean(dim=(2, 3))], dim=1)
    return F.linear(fused, s["head.weight"], s["head.bias"])


def main():
    torch.manual_seed(11)
    out = {}
    s = inpainter_state("")
    x = (torch.rand(2, 4, 32, 32) * 2 - 1).float().double()
    out.update({"inpainter." + k: v for k, v in s.items()})
    out["inpainter_input"], out["inpainter_output"] = x, inpainter_forward(s, "", x)
    n = network_state()
    y = (torch.rand(2, 6, 32, 32) * 2 - 1).float().double()
    out.update({"network." + k: v for k, v in n.items()})
    out["network_input"], out["network_output"] = y, network_forward(n, y)
    write_safetensors(OUT, out)
    print(f"wrote {OUT}: {len(out)} tensors, logits {out['network_output'].flatten().tolist()}")


if __name__ == "__main__":
    main()
