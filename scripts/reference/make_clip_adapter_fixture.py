#!/usr/bin/env python3
"""Reference outputs of the CLIP adapter detector (ForensightModels `CLIPAdapterNetwork`) from an independent
PyTorch model.

Written here from the design of issue 19 part 4 as Forensight builds it on frozen EfficientNet-Lite tokens, with
torch.fft, a Haar DWT written in torch, Sobel and box filters as F.conv2d, nn.TransformerEncoderLayer and a
gradient-reversal autograd.Function, independently of the Swift code. Every part is on, on the tiny trunk of the
M2TR / ForgeLens fixtures (blocks 0-2 of a stem-8 EfficientNet-Lite; block 2 selected: an 8 x 8 map of 8 channels
at 32 px), d = 16:

  tokens     block 2's map flattened row-major to 64 tokens, linear 8 -> 16 (tokens.proj.0), a learned class token
             (tokens.class_tokens [1, 16]) prepended;
  freq       FFT high-pass of the input (fftshift, zero the centred square of side 2r + 1, r = floor(0.125 * 32) = 4,
             ifftshift, ifft2, real part) -> conv 3x3 stride 2 pad 1 (3 -> 8) -> exact GELU -> adaptive average pool
             to 8 x 8 -> linear 8 -> 16; Haar LH, HL, HH of every channel ((a+b-c-d)/2, (a-b+c-d)/2, (a-b-c+d)/2;
             channels [LH x3, HL x3, HH x3]) -> conv 3x3 stride 1 pad 1 (9 -> 8) -> GELU -> pool -> linear 8 -> 16;
             patches + fft * fft_scale + dwt * dwt_scale (scales random here, zero in a fresh Swift model);
  boundary   luma 0.299 R + 0.587 G + 0.114 B; |luma - box3(luma)| and sqrt(Gx^2 + Gy^2 + 1e-6) (Sobel), zero
             padding 1; adaptive average pool to 8 x 8; conv 1x1 (2 -> 1); sigmoid -> w; patches * (1 + w);
  encoder    one post-norm nn.TransformerEncoderLayer(16, 4 heads, feed-forward 32, GELU, batch_first), evaluation;
  feature    f = h[:, 0] / sqrt(sum(h[:, 0]^2) + 1e-12);
  arcmargin  cos = f @ normalize(centres).T (row 0 real, row 1 fake); logits = 16 (cos_fake - cos_real); training
             logits with labels: the true class's cos -> cos(theta + 0.3) (ArcFace: cos*cos m - sin*sin m where
             cos > cos(pi - m), else cos - sin(pi - m) * m; sin = sqrt(clamp(1 - cos^2, 1e-6)));
  identity   GRL(f) (forward identity, backward -0.5 * grad) -> linear 16 -> 8 -> ReLU -> linear 8 -> 5 slots;
             identities [3, 7, 3, None] -> slots [3, 2, 3], rows 0-2, cross-entropy over the batch's slots [3, 2].

Writes Tests/ForensightModelsTests/Fixtures/clip_adapter_reference.safetensors (F32): the weights under the Swift keys,
and `input` [4, 3, 32, 32], `adapted` [4, 65, 16], `boundary_weights` [4, 64], `features` [4, 16], `logits`,
`train_logits` [4, 1] (labels 0, 0, 1, 1), `identity_loss` [1], the gradients of the identity loss
(`grad_identity.<key>` for identity.out.weight, encoder.linear1.weight, tokens.proj.0.weight: the last two reversed
and scaled by the GRL) and of the binary cross-entropy of the training logits (`grad_bce.<key>` for two BatchNorm
gammas of the trunk, which norm tuning trains, and freq_adapter.fft_scale).

    /work/venv/bin/python scripts/reference/make_clip_adapter_fixture.py

Deterministic (torch.manual_seed(21), float64 compute on float32-rounded weights); needs torch only.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _safetensors_io import write_safetensors  # noqa: E402
from make_m2tr_fixture import param  # noqa: E402
import make_forgelens_fixture as forgelens  # noqa: E402  (the tiny trunk with its tokens.trunk.* keys)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests/ForensightModelsTests/Fixtures/clip_adapter_reference.safetensors")
D, HEADS, FF, STEM_C, CUTOFF, GRID = 16, 4, 32, 8, 0.125, 8
SCALE, MARGIN, ID_HIDDEN, SLOTS, ALPHA = 16.0, 0.3, 8, 5, 0.5
LABELS, IDENTITIES = [0.0, 0.0, 1.0, 1.0], [3, 7, 3, None]
GRAD_IDENTITY = ["identity.out.weight", "encoder.linear1.weight", "tokens.proj.0.weight"]
GRAD_BCE = ["tokens.trunk._bn0.weight", "tokens.trunk._blocks.2._bn2.weight", "freq_adapter.fft_scale"]


class GradientReversal(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha):
        ctx.alpha = alpha
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.alpha * grad, None


def fft_high_pass(x, r):
    spectrum = torch.fft.fftshift(torch.fft.fft2(x.to(torch.complex128)), dim=(-2, -1))
    c = x.shape[-1] // 2
    mask = torch.ones_like(spectrum.real)
    mask[..., c - r:c + r + 1, c - r:c + r + 1] = 0
    return torch.fft.ifft2(torch.fft.ifftshift(spectrum * mask, dim=(-2, -1))).real


def haar_details(x):
    a, b, c, d = x[..., 0::2, 0::2], x[..., 0::2, 1::2], x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    return torch.cat([(a + b - c - d) / 2, (a - b + c - d) / 2, (a - b - c + d) / 2], 1)


def boundary_cues(x):
    luma = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
    box = F.conv2d(luma, torch.full((1, 1, 3, 3), 1 / 9, dtype=x.dtype), padding=1)
    gx = torch.tensor([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=x.dtype).reshape(1, 1, 3, 3)
    g = F.conv2d(luma, torch.cat([gx, gx.transpose(2, 3)], 0), padding=1)
    return torch.cat([(luma - box).abs(), (g.pow(2).sum(1, keepdim=True) + 1e-6).sqrt()], 1)


def pooled_tokens(m):
    return F.adaptive_avg_pool2d(m, GRID).flatten(2).transpose(1, 2)


def state():
    s = {}
    forgelens.trunk_state(s)
    s["tokens.proj.0.weight"], s["tokens.proj.0.bias"] = param(D, 8, std=0.4), param(D, std=0.1)
    s["tokens.class_tokens"] = param(1, D)
    p = "freq_adapter."
    s[p + "fft_stem.weight"], s[p + "fft_stem.bias"] = param(STEM_C, 3, 3, 3), param(STEM_C, std=0.1)
    s[p + "fft_proj.weight"], s[p + "fft_proj.bias"] = param(D, STEM_C), param(D, std=0.1)
    s[p + "dwt_stem.weight"], s[p + "dwt_stem.bias"] = param(STEM_C, 9, 3, 3), param(STEM_C, std=0.1)
    s[p + "dwt_proj.weight"], s[p + "dwt_proj.bias"] = param(D, STEM_C), param(D, std=0.1)
    s[p + "fft_scale"], s[p + "dwt_scale"] = param(D, std=0.5), param(D, std=0.5)
    s["boundary.gate.weight"], s["boundary.gate.bias"] = param(1, 2, 1, 1, std=1.0), param(1, std=0.3)
    p = "encoder."
    s[p + "self_attn.in_proj_weight"], s[p + "self_attn.in_proj_bias"] = param(3 * D, D), param(3 * D, std=0.1)
    s[p + "self_attn.out_proj.weight"], s[p + "self_attn.out_proj.bias"] = param(D, D), param(D, std=0.1)
    s[p + "linear1.weight"], s[p + "linear1.bias"] = param(FF, D), param(FF, std=0.1)
    s[p + "linear2.weight"], s[p + "linear2.bias"] = param(D, FF, std=0.2), param(D, std=0.1)
    for norm in ("norm1", "norm2"):
        s[p + norm + ".weight"], s[p + norm + ".bias"] = 1 + param(D, std=0.2), param(D, std=0.1)
    s["arc_head.centres"] = param(2, D)
    s["identity.hidden.weight"], s["identity.hidden.bias"] = param(ID_HIDDEN, D, std=0.5), param(ID_HIDDEN, std=0.1)
    s["identity.out.weight"], s["identity.out.bias"] = param(SLOTS, ID_HIDDEN, std=0.5), param(SLOTS, std=0.1)
    return s


def forward(s, x):
    """Adapted tokens, boundary weights, features and the encoder layer (whose parameters hold the gradients)."""
    forgelens.LITE_LAYERS[:] = [2]
    m = forgelens.trunk_maps(s, x)[0]
    patches = F.linear(m.flatten(2).transpose(1, 2), s["tokens.proj.0.weight"], s["tokens.proj.0.bias"])
    p = "freq_adapter."
    hp = fft_high_pass(x, int(CUTOFF * x.shape[-1]))
    fft = F.linear(pooled_tokens(F.gelu(F.conv2d(hp, s[p + "fft_stem.weight"], s[p + "fft_stem.bias"], stride=2, padding=1))),
                   s[p + "fft_proj.weight"], s[p + "fft_proj.bias"])
    dwt = F.linear(pooled_tokens(F.gelu(F.conv2d(haar_details(x), s[p + "dwt_stem.weight"], s[p + "dwt_stem.bias"], padding=1))),
                   s[p + "dwt_proj.weight"], s[p + "dwt_proj.bias"])
    patches = patches + fft * s[p + "fft_scale"] + dwt * s[p + "dwt_scale"]
    cues = F.adaptive_avg_pool2d(boundary_cues(x), GRID)
    w = torch.sigmoid(F.conv2d(cues, s["boundary.gate.weight"], s["boundary.gate.bias"])).flatten(1)
    patches = patches * (1 + w.unsqueeze(-1))
    b = x.shape[0]
    adapted = torch.cat([s["tokens.class_tokens"].reshape(1, 1, D).expand(b, 1, D), patches], 1)
    layer = torch.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.1, activation="gelu", batch_first=True).double()
    layer.load_state_dict({k[len("encoder."):]: v.detach() for k, v in s.items() if k.startswith("encoder.")})
    layer.eval()
    h = layer(adapted)[:, 0]
    features = h / (h.pow(2).sum(-1, keepdim=True) + 1e-12).sqrt()
    return adapted, w, features, layer


def arc_logits(s, f, labels=None):
    c = s["arc_head.centres"]
    cos = f @ (c / (c.pow(2).sum(-1, keepdim=True) + 1e-12).sqrt()).T
    if labels is not None:
        sine = torch.clamp(1 - cos * cos, min=1e-6).sqrt()
        phi = cos * math.cos(MARGIN) - sine * math.sin(MARGIN)
        phi = torch.where(cos > math.cos(math.pi - MARGIN), phi, cos - math.sin(math.pi - MARGIN) * MARGIN)
        one_hot = F.one_hot(torch.tensor([int(l) for l in labels]), 2).to(cos.dtype)
        cos = one_hot * phi + (1 - one_hot) * cos
    return SCALE * (cos[:, 1:2] - cos[:, 0:1])


def identity_loss(s, f):
    rows = [i for i, v in enumerate(IDENTITIES) if v is not None]
    classes = []
    for i in rows:
        if IDENTITIES[i] % SLOTS not in classes:
            classes.append(IDENTITIES[i] % SLOTS)
    h = F.relu(F.linear(GradientReversal.apply(f, ALPHA), s["identity.hidden.weight"], s["identity.hidden.bias"]))
    logits = F.linear(h, s["identity.out.weight"], s["identity.out.bias"])[rows][:, classes]
    return F.cross_entropy(logits, torch.tensor([classes.index(IDENTITIES[i] % SLOTS) for i in rows]))


def grads(s, layer, keys):
    out = {}
    for k in keys:
        g = getattr(layer, k[len("encoder."):].split(".")[0]).weight.grad if k.startswith("encoder.") else s[k].grad
        out[k] = g.detach().clone()
    return out


def main():
    torch.manual_seed(21)
    s = state()
    x = (torch.rand(4, 3, 32, 32) * 2 - 1).float().double()
    for k in GRAD_IDENTITY + GRAD_BCE:
        if not k.startswith("encoder."):
            s[k].requires_grad_(True)
    adapted, w, features, layer = forward(s, x)
    logits, train_logits = arc_logits(s, features), arc_logits(s, features, LABELS)
    id_loss = identity_loss(s, features)
    id_loss.backward(retain_graph=True)
    g_id = grads(s, layer, GRAD_IDENTITY)
    # A second pass, so that the identity loss's gradients do not mix in.
    adapted, w, features, layer = forward(s, x)
    bce = F.binary_cross_entropy_with_logits(arc_logits(s, features, LABELS), torch.tensor(LABELS, dtype=x.dtype).reshape(4, 1))
    for k in GRAD_BCE:
        s[k].grad = None
    bce.backward()
    g_bce = grads(s, layer, GRAD_BCE)

    out = {k: v.detach() for k, v in s.items()}
    out.update({"input": x, "adapted": adapted.detach(), "boundary_weights": w.detach(), "features": features.detach(),
                "logits": logits.detach(), "train_logits": train_logits.detach(), "identity_loss": id_loss.detach().reshape(1),
                "bce_loss": bce.detach().reshape(1)})
    for k, v in g_id.items():
        out["grad_identity." + k] = v
    for k, v in g_bce.items():
        out["grad_bce." + k] = v
    write_safetensors(OUT, out, {"generator": "scripts/reference/make_clip_adapter_fixture.py", "torch": torch.__version__})
    print(f"wrote {os.path.relpath(OUT, ROOT)}: {len(out)} tensors, {os.path.getsize(OUT)} bytes; logits {logits.flatten().tolist()}, "
          f"train logits {train_logits.flatten().tolist()}, identity loss {id_loss.item():.6f}, bce {bce.item():.6f}")


if __name__ == "__main__":
    main()
