#!/usr/bin/env python3
"""Reference outputs of ForgeLens (ForensightModels `ForgeLensNetwork`) from an independent PyTorch model.

Written here from the ForgeLens paper (Chen, Zhang & Niu, ICCV 2025) as Forensight builds it on frozen backbone
tokens, with torch.nn.functional layers, nn.TransformerEncoderLayer and transformers' CLIPVisionModel, independently
of the Swift code. Two networks with the same head sizes (d = 16, guidance bottleneck 8, two FAFormer layers of 8
heads, feed-forward 32, exact GELU, LayerNorm eps 1e-5, evaluation mode):

  lite: the tiny EfficientNet-Lite trunk of the M2TR fixture (stem 8 stride 2; MBConv e1 k3 s1 8->8; MBConvs e2 k5,
        the first stride 2, 8->8; TensorFlow SAME padding; BatchNorm eps 1e-3; ReLU6) on a [2, 3, 32, 32] input;
        blocks 0 (16 x 16) and 2 (8 x 8) selected; each map flattened row-major to H*W tokens, its own linear
        projection 8 -> 16, its own learned class token prepended;
  clip: the hf_vision_model of Fixtures/clip (transformers CLIPVisionModel, hidden 32, 2 layers, 2 heads, patch 16,
        image 32, exact gelu) on its own [2, 3, 32, 32] input; hidden_states[1] and [2] (blocks 0 and 1, before
        post_layernorm) selected; one shared linear projection 32 -> 16.

Then for both: WSGM g(t) = t + up(gelu(down(layer_norm(t)))) on each layer's tokens, a learned layer embedding added
per layer, a learned focus token prepended to the concatenation of all layers' tokens, two post-norm
nn.TransformerEncoderLayer(batch_first), and logit = fc([out[:, 0], mean of the patch tokens' outputs (each layer's
class token left out)]).

Writes Tests/ForensightModelsTests/Fixtures/forgelens_reference.safetensors (F32): the lite network's tensors under
the Swift keys (tokens.trunk._conv_stem.weight, ..., tokens.proj.N.*, tokens.class_tokens, guidance.{norm,down,up}.*,
layer_embedding, focus_token, faformer.N.{self_attn.*, linear1, linear2, norm1, norm2}.*, fc.*); the clip network's
trainable tensors under "clip." + the same keys (tokens.proj.* instead of the trunk and class tokens); and
`input`, `tokens.N`, `guided.N`, `encoded`, `features`, `logits`, `clip.input`, `clip.tokens.N`, `clip.features`,
`clip.logits`.

    /work/venv/bin/python scripts/reference/make_forgelens_fixture.py

Deterministic (torch.manual_seed(19), float64 compute on float32-rounded weights); needs torch and transformers.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _safetensors_io import read_safetensors, write_safetensors  # noqa: E402
from make_m2tr_fixture import BLOCKS, STEM, bn, bn_state, param, same_conv  # noqa: E402  (the tiny trunk)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests/ForensightModelsTests/Fixtures/forgelens_reference.safetensors")
CLIP = os.path.join(ROOT, "Tests/ForensightModelsTests/Fixtures/clip/hf_vision_model.safetensors")
D, GUIDE, HEADS, FF, LAYERS = 16, 8, 8, 32, 2
LITE_LAYERS, CLIP_LAYERS = [0, 2], [0, 1]


def trunk_state(s):
    s["tokens.trunk._conv_stem.weight"] = param(STEM, 3, 3, 3)
    bn_state(s, "tokens.trunk._bn0", STEM)
    for i, (e, k, st, ci, co) in enumerate(BLOCKS):
        p, hidden = f"tokens.trunk._blocks.{i}.", ci * e
        if e != 1:
            s[p + "_expand_conv.weight"] = param(hidden, ci, 1, 1)
            bn_state(s, p + "_bn0", hidden)
        s[p + "_depthwise_conv.weight"] = param(hidden, 1, k, k)
        bn_state(s, p + "_bn1", hidden)
        s[p + "_project_conv.weight"] = param(co, hidden, 1, 1)
        bn_state(s, p + "_bn2", co)


def trunk_maps(s, x):
    """The outputs of the selected blocks."""
    h = F.relu6(bn(s, "tokens.trunk._bn0", same_conv(x, s["tokens.trunk._conv_stem.weight"], 2), 1e-3))
    out = []
    for i, (e, k, st, ci, co) in enumerate(BLOCKS):
        p, inp = f"tokens.trunk._blocks.{i}.", h
        if e != 1:
            h = F.relu6(bn(s, p + "_bn0", same_conv(h, s[p + "_expand_conv.weight"], 1), 1e-3))
        h = F.relu6(bn(s, p + "_bn1", same_conv(h, s[p + "_depthwise_conv.weight"], st, groups=h.shape[1]), 1e-3))
        h = bn(s, p + "_bn2", same_conv(h, s[p + "_project_conv.weight"], 1), 1e-3)
        if st == 1 and ci == co:
            h = h + inp
        if i in LITE_LAYERS:
            out.append(h)
    return out


def head_state(s, prefix, layers):
    s[prefix + "guidance.norm.weight"], s[prefix + "guidance.norm.bias"] = 1 + param(D, std=0.2), param(D, std=0.1)
    s[prefix + "guidance.down.weight"], s[prefix + "guidance.down.bias"] = param(GUIDE, D), param(GUIDE, std=0.1)
    s[prefix + "guidance.up.weight"], s[prefix + "guidance.up.bias"] = param(D, GUIDE), param(D, std=0.1)
    s[prefix + "layer_embedding"], s[prefix + "focus_token"] = param(layers, D), param(D)
    for n in range(LAYERS):
        p = f"{prefix}faformer.{n}."
        s[p + "self_attn.in_proj_weight"], s[p + "self_attn.in_proj_bias"] = param(3 * D, D), param(3 * D, std=0.1)
        s[p + "self_attn.out_proj.weight"], s[p + "self_attn.out_proj.bias"] = param(D, D), param(D, std=0.1)
        s[p + "linear1.weight"], s[p + "linear1.bias"] = param(FF, D), param(FF, std=0.1)
        s[p + "linear2.weight"], s[p + "linear2.bias"] = param(D, FF, std=0.2), param(D, std=0.1)
        for norm in ("norm1", "norm2"):
            s[p + norm + ".weight"], s[p + norm + ".bias"] = 1 + param(D, std=0.2), param(D, std=0.1)
    s[prefix + "fc.weight"], s[prefix + "fc.bias"] = param(1, 2 * D, std=0.4), param(1, std=0.1)


def wsgm(s, prefix, t):
    h = F.layer_norm(t, (D,), s[prefix + "guidance.norm.weight"], s[prefix + "guidance.norm.bias"], 1e-5)
    h = F.gelu(F.linear(h, s[prefix + "guidance.down.weight"], s[prefix + "guidance.down.bias"]))
    return t + F.linear(h, s[prefix + "guidance.up.weight"], s[prefix + "guidance.up.bias"])


def head(s, prefix, layer_tokens):
    """Guidance, layer embeddings, focus token, FAFormer, features and logits."""
    guided = [wsgm(s, prefix, t) for t in layer_tokens]
    b = guided[0].shape[0]
    seq = [s[prefix + "focus_token"].reshape(1, 1, D).expand(b, 1, D)]
    seq += [g + s[prefix + "layer_embedding"][l].reshape(1, 1, D) for l, g in enumerate(guided)]
    h = torch.cat(seq, 1)
    for n in range(LAYERS):
        layer = torch.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.1, activation="gelu", batch_first=True).double()
        p = f"{prefix}faformer.{n}."
        layer.load_state_dict({k[len(p):]: v for k, v in s.items() if k.startswith(p)})
        layer.eval()
        with torch.no_grad():
            h = layer(h)
    patches, start = [], 1
    for g in guided:
        patches.append(h[:, start + 1:start + g.shape[1]])
        start += g.shape[1]
    features = torch.cat([h[:, 0], torch.cat(patches, 1).mean(1)], 1)
    return guided, h, features, F.linear(features, s[prefix + "fc.weight"], s[prefix + "fc.bias"])


def clip_tokens(s, x):
    from transformers import CLIPVisionConfig, CLIPVisionModel
    config = CLIPVisionConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                              patch_size=16, image_size=32, hidden_act="gelu")
    model = CLIPVisionModel(config).double().eval()
    weights = {k: torch.from_numpy(v).double() for k, v in read_safetensors(CLIP).items()}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    assert not unexpected and all("position_ids" in k for k in missing), (missing, unexpected)
    with torch.no_grad():
        hidden = model(pixel_values=x, output_hidden_states=True).hidden_states
    return [F.linear(hidden[l + 1], s["clip.tokens.proj.weight"], s["clip.tokens.proj.bias"]) for l in CLIP_LAYERS]


def main():
    torch.manual_seed(19)
    s = {}
    trunk_state(s)
    for n, layer in enumerate(LITE_LAYERS):
        s[f"tokens.proj.{n}.weight"], s[f"tokens.proj.{n}.bias"] = param(D, BLOCKS[layer][4], std=0.4), param(D, std=0.1)
    s["tokens.class_tokens"] = param(len(LITE_LAYERS), D)
    head_state(s, "", len(LITE_LAYERS))
    s["clip.tokens.proj.weight"], s["clip.tokens.proj.bias"] = param(D, 32, std=0.3), param(D, std=0.1)
    head_state(s, "clip.", len(CLIP_LAYERS))

    x = (torch.rand(2, 3, 32, 32) * 2 - 1).float().double()
    tokens = []
    for n, m in enumerate(trunk_maps(s, x)):
        patches = F.linear(m.flatten(2).transpose(1, 2), s[f"tokens.proj.{n}.weight"], s[f"tokens.proj.{n}.bias"])
        tokens.append(torch.cat([s["tokens.class_tokens"][n].reshape(1, 1, D).expand(2, 1, D), patches], 1))
    guided, encoded, features, logits = head(s, "", tokens)

    clip_x = (torch.rand(2, 3, 32, 32) * 2 - 1).float().double()
    ctokens = clip_tokens(s, clip_x)
    _, _, cfeatures, clogits = head(s, "clip.", ctokens)

    out = dict(s)
    out.update({"input": x, "encoded": encoded, "features": features, "logits": logits,
                "clip.input": clip_x, "clip.features": cfeatures, "clip.logits": clogits})
    for n, (t, g) in enumerate(zip(tokens, guided)):
        out[f"tokens.{n}"], out[f"guided.{n}"] = t, g
    for n, t in enumerate(ctokens):
        out[f"clip.tokens.{n}"] = t
    write_safetensors(OUT, out, {"generator": "scripts/reference/make_forgelens_fixture.py", "torch": torch.__version__})
    print(f"wrote {os.path.relpath(OUT, ROOT)}: {len(out)} tensors, logits {logits.flatten().tolist()}, "
          f"clip logits {clogits.flatten().tolist()}")


if __name__ == "__main__":
    main()
