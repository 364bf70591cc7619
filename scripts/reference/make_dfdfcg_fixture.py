#!/usr/bin/env python3
"""Reference outputs of DFD-FCG (ForensightModels `DFDFCGNetwork`) from an independent PyTorch model.

Written here from the DFD-FCG paper (Han et al., CVPR 2025) as Forensight builds it on frozen backbone tokens, with
nn.MultiheadAttention, nn.Conv1d, nn.LayerNorm and torch ops, independently of the Swift code. On the tiny
EfficientNet-Lite trunk of the ForgeLens fixture (blocks 0: 16 x 16 and 2: 8 x 8 on 32 x 32 inputs; each map
flattened row-major to tokens, projected 8 -> 16, a learned class token prepended), with d = 16, 4 queries per
layer, 4-head decoders and temporal attention, feed-forward 32, T = 3, kernel 5, tau = 0.07, exact GELU, LayerNorm
eps 1e-5, evaluation mode, on B = 2 clips (6 frames, clip-major):

  query decoder l:  q = queries (expanded per frame); h = norm1(q + mha(q, X_l, X_l)); Q_l = norm2(h + linear2(gelu(linear1(h))))
  pooled          = mean over layers of Q_l                      [6, 4, 16]
  spatial feature = mean over T of pooled flattened              [2, 64]
  temporal        : x = mean over queries of pooled as [2, 3, 16]; e = x + time_embedding[:3];
                    h = norm1(e + mha(e, e, e)); z = norm2(h + gelu(conv1d(h over time, padding 2)))
  temporal feature = mean over T of z                            [2, 16]
  logits: spatial_head(s), temporal_head(t), spatio_temporal_head(cat(s, t)), clip logit = their mean
  guidance: per layer, regions r = (masks @ patch tokens) / mask counts; q^, r^ = x / sqrt(|x|^2 + 1e-12);
            cross-entropy of q^_i . r^_j / tau over j with target i; mean over layers.

The region masks are random (each of the 4 regions non-empty) and stored as `masks.N` [6, 4, P].

Writes Tests/ForensightModelsTests/Fixtures/dfdfcg_reference.safetensors (F32): the network's tensors under the Swift
keys (tokens.trunk.*, tokens.proj.N.*, tokens.class_tokens, decoders.N.{queries, cross_attn.*, linear1, linear2,
norm1, norm2}.*, temporal.{time_embedding, attn.*, norm1, conv, norm2}.*, spatial_head, temporal_head,
spatio_temporal_head) and `input`, `masks.N`, `queries.N`, `temporal_features`, `spatial`, `temporal`,
`spatio_temporal`, `logits`, `guidance`.

    /work/venv/bin/python scripts/reference/make_dfdfcg_fixture.py

Deterministic (torch.manual_seed(23), float64 compute on float32-rounded weights); needs torch.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _safetensors_io import write_safetensors  # noqa: E402
from make_forgelens_fixture import LITE_LAYERS, trunk_maps, trunk_state  # noqa: E402  (the tiny trunk, blocks 0 and 2)
from make_m2tr_fixture import BLOCKS, param  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests/ForensightModelsTests/Fixtures/dfdfcg_reference.safetensors")
D, Q, HEADS, FF, T, B, KERNEL, TAU = 16, 4, 4, 32, 3, 2, 5, 0.07


def mha_state(s, p):
    s[p + "in_proj_weight"], s[p + "in_proj_bias"] = param(3 * D, D), param(3 * D, std=0.1)
    s[p + "out_proj.weight"], s[p + "out_proj.bias"] = param(D, D), param(D, std=0.1)


def norm_state(s, p):
    s[p + "weight"], s[p + "bias"] = 1 + param(D, std=0.2), param(D, std=0.1)


def mha(s, p):
    m = torch.nn.MultiheadAttention(D, HEADS, batch_first=True).double().eval()
    m.load_state_dict({k[len(p):]: v for k, v in s.items() if k.startswith(p)})
    return m


def layer_norm(s, p):
    n = torch.nn.LayerNorm(D).double()
    n.load_state_dict({"weight": s[p + "weight"], "bias": s[p + "bias"]})
    return n


def state():
    s = {}
    trunk_state(s)
    for n, layer in enumerate(LITE_LAYERS):
        s[f"tokens.proj.{n}.weight"], s[f"tokens.proj.{n}.bias"] = param(D, BLOCKS[layer][4], std=0.4), param(D, std=0.1)
    s["tokens.class_tokens"] = param(len(LITE_LAYERS), D)
    for n in range(len(LITE_LAYERS)):
        p = f"decoders.{n}."
        s[p + "queries"] = param(Q, D, std=0.5)
        mha_state(s, p + "cross_attn.")
        s[p + "linear1.weight"], s[p + "linear1.bias"] = param(FF, D), param(FF, std=0.1)
        s[p + "linear2.weight"], s[p + "linear2.bias"] = param(D, FF, std=0.2), param(D, std=0.1)
        norm_state(s, p + "norm1.")
        norm_state(s, p + "norm2.")
    s["temporal.time_embedding"] = param(T, D, std=0.2)
    mha_state(s, "temporal.attn.")
    norm_state(s, "temporal.norm1.")
    s["temporal.conv.weight"], s["temporal.conv.bias"] = param(D, D, KERNEL, std=0.1), param(D, std=0.1)
    norm_state(s, "temporal.norm2.")
    s["spatial_head.weight"], s["spatial_head.bias"] = param(1, Q * D, std=0.3), param(1, std=0.1)
    s["temporal_head.weight"], s["temporal_head.bias"] = param(1, D, std=0.4), param(1, std=0.1)
    s["spatio_temporal_head.weight"], s["spatio_temporal_head.bias"] = param(1, (Q + 1) * D, std=0.3), param(1, std=0.1)
    return s


def decoder(s, n, x):
    p = f"decoders.{n}."
    q = s[p + "queries"].unsqueeze(0).expand(x.shape[0], Q, D)
    attended, _ = mha(s, p + "cross_attn.")(q, x, x, need_weights=False)
    h = layer_norm(s, p + "norm1.")(q + attended)
    ff = F.linear(F.gelu(F.linear(h, s[p + "linear1.weight"], s[p + "linear1.bias"])), s[p + "linear2.weight"], s[p + "linear2.bias"])
    return layer_norm(s, p + "norm2.")(h + ff)


def temporal(s, x):
    e = x + s["temporal.time_embedding"][:x.shape[1]].unsqueeze(0)
    attended, _ = mha(s, "temporal.attn.")(e, e, e, need_weights=False)
    h = layer_norm(s, "temporal.norm1.")(e + attended)
    conv = torch.nn.Conv1d(D, D, KERNEL, padding=KERNEL // 2).double()
    conv.load_state_dict({"weight": s["temporal.conv.weight"], "bias": s["temporal.conv.bias"]})
    c = conv(h.transpose(1, 2)).transpose(1, 2)
    return layer_norm(s, "temporal.norm2.")(h + F.gelu(c))


def info_nce(queries, tokens, masks):
    regions = masks @ tokens[:, 1:] / masks.sum(2, keepdim=True).clamp(min=1)
    qn = queries / torch.sqrt((queries ** 2).sum(-1, keepdim=True) + 1e-12)
    rn = regions / torch.sqrt((regions ** 2).sum(-1, keepdim=True) + 1e-12)
    logits = qn @ rn.transpose(1, 2) / TAU
    return F.cross_entropy(logits.reshape(-1, Q), torch.arange(Q).repeat(queries.shape[0]))


def random_masks(n, p):
    masks = (torch.rand(n, Q, p) < 0.3).double()
    masks[:, :, 0] = 0
    for i in range(Q):
        masks[:, i, 1 + i] = 1  # every region non-empty
    return masks


def main():
    torch.manual_seed(23)
    s = state()
    x = (torch.rand(B * T, 3, 32, 32) * 2 - 1).float().double()
    with torch.no_grad():
        tokens = []
        for n, m in enumerate(trunk_maps(s, x)):
            patches = F.linear(m.flatten(2).transpose(1, 2), s[f"tokens.proj.{n}.weight"], s[f"tokens.proj.{n}.bias"])
            tokens.append(torch.cat([s["tokens.class_tokens"][n].reshape(1, 1, D).expand(B * T, 1, D), patches], 1))
        queries = [decoder(s, n, t) for n, t in enumerate(tokens)]
        pooled = torch.stack(queries).mean(0)
        spatial_feature = pooled.reshape(B, T, Q * D).mean(1)
        z = temporal(s, pooled.mean(1).reshape(B, T, D))
        temporal_feature = z.mean(1)
        spatial = F.linear(spatial_feature, s["spatial_head.weight"], s["spatial_head.bias"])
        temporal_logit = F.linear(temporal_feature, s["temporal_head.weight"], s["temporal_head.bias"])
        joint = F.linear(torch.cat([spatial_feature, temporal_feature], 1), s["spatio_temporal_head.weight"],
                         s["spatio_temporal_head.bias"])
        logits = (spatial + temporal_logit + joint) / 3
        masks = [random_masks(B * T, t.shape[1] - 1) for t in tokens]
        guidance = sum(info_nce(q, t, m) for q, t, m in zip(queries, tokens, masks)) / len(queries)

    out = dict(s)
    out.update({"input": x, "temporal_features": z, "spatial": spatial, "temporal": temporal_logit,
                "spatio_temporal": joint, "logits": logits, "guidance": guidance.reshape(1)})
    for n, (q, m) in enumerate(zip(queries, masks)):
        out[f"queries.{n}"], out[f"masks.{n}"] = q, m
    write_safetensors(OUT, out, {"generator": "scripts/reference/make_dfdfcg_fixture.py", "torch": torch.__version__})
    print(f"wrote {os.path.relpath(OUT, ROOT)}: {len(out)} tensors, {os.path.getsize(OUT)} bytes, "
          f"logits {logits.flatten().tolist()}, guidance {guidance.item()}")


if __name__ == "__main__":
    main()
