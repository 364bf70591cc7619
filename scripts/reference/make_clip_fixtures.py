#!/usr/bin/env python3
"""Builds SMALL random CLIP image encoders with `transformers` and `open_clip_torch` and writes their checkpoints in
every format `forensight models import clip` reads, with inputs and reference outputs, into
Tests/ForensightModelsTests/Fixtures/clip/ (or --out DIR):

  hf_clip_model.safetensors      transformers CLIPModel (vision: hidden 32, 2 layers, 4 heads, intermediate 96,
                                 patch 8, image 32, quick_gelu; projection 24; a tiny text tower), save_pretrained
  hf_clip_model.config.json      its config.json (hidden_act, num_attention_heads are read from it on import)
  hf_vision_model.safetensors    transformers CLIPVisionModel (hidden 32, 2 layers, 2 heads, intermediate 128,
                                 patch 16, image 32, exact gelu; no projection)
  open_clip.bin                  open_clip CLIP state dict (vision width 32, 2 layers, head width 8 → 4 heads,
                                 patch 8, image 32, quick_gelu, embed 16), torch.save (zip)
  open_clip.safetensors          the same state dict as safetensors
  openai_torchscript.pt          the same model in float16, torch.jit.script + torch.jit.save (the layout of
                                 OpenAI's released ViT-*.pt archives)
  clip_reference.safetensors     F32: input [2,3,32,32]; <name>.features (class token after ln_post and the
                                 projection), <name>.layer0 (tokens after block 0, [2, tokens, width]) for name in
                                 hf_clip_model, hf_vision_model, open_clip, openai_torchscript

open_clip imports torchvision only for image transforms, which are not used here; where torchvision is not
installed (torch CPU builds from PyPI have no matching wheel) an inert stand-in module is registered first.

    /work/venv/bin/python scripts/reference/make_clip_fixtures.py

Deterministic: torch.manual_seed per model, one thread. Requires torch, numpy, transformers, open_clip_torch.
"""
import argparse
import json
import os
import sys
import types

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _safetensors_io import write_safetensors  # noqa: E402


def register_inert_torchvision():
    """open_clip's transform module imports torchvision names at import time; they are never called here."""
    try:
        import torchvision  # noqa: F401
        return
    except Exception:
        pass

    class _Inert(type):
        def __getattr__(cls, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return Placeholder

    class Placeholder(metaclass=_Inert):
        def __init__(self, *args, **kwargs):
            pass

    def module(name):
        m = types.ModuleType(name)

        def attribute(attr):
            if attr.startswith("__"):
                raise AttributeError(attr)
            return Placeholder
        m.__getattr__ = attribute
        m.__path__ = []
        sys.modules[name] = m
        if "." in name:
            parent, child = name.rsplit(".", 1)
            setattr(sys.modules[parent], child, m)

    for name in ["torchvision", "torchvision.transforms", "torchvision.transforms.functional",
                 "torchvision.ops", "torchvision.ops.misc"]:
        module(name)


def randomize(model, seed):
    """Random weights everywhere (LayerNorm affines too, so a wrong key would show), small enough to stay stable."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight") and p.dim() == 1 or "layer_norm" in name or "ln_" in name or "layrnorm" in name \
                    or "layernorm" in name:
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g) if name.endswith("weight") else
                        0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.15 * torch.randn(p.shape, generator=g))


def hf_models(out, refs, x):
    from transformers import CLIPConfig, CLIPModel, CLIPVisionConfig, CLIPVisionModel, CLIPTextConfig
    torch.manual_seed(1)
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                              patch_size=8, image_size=32, hidden_act="quick_gelu", projection_dim=24)
    text = CLIPTextConfig(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                          num_attention_heads=2, max_position_embeddings=8, projection_dim=24)
    config = CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=24)
    model = CLIPModel(config).eval()
    randomize(model, 11)
    tmp = os.path.join(out, "_hf_clip_model")
    model.save_pretrained(tmp, safe_serialization=True)
    os.replace(os.path.join(tmp, "model.safetensors"), os.path.join(out, "hf_clip_model.safetensors"))
    os.replace(os.path.join(tmp, "config.json"), os.path.join(out, "hf_clip_model.config.json"))
    for f in os.listdir(tmp):
        os.remove(os.path.join(tmp, f))
    os.rmdir(tmp)
    with torch.no_grad():
        o = model.vision_model(pixel_values=x, output_hidden_states=True)
        feats = model.visual_projection(o.pooler_output)
        # hidden_states[0] is the embeddings after pre_layrnorm; [i + 1] is the output of layer i.
        refs.update({"hf_clip_model.features": feats,
                     "hf_clip_model.layer0": o.hidden_states[1]})

    torch.manual_seed(2)
    vconfig = CLIPVisionConfig(hidden_size=32, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                               patch_size=16, image_size=32, hidden_act="gelu")
    vmodel = CLIPVisionModel(vconfig).eval()
    randomize(vmodel, 12)
    tmp = os.path.join(out, "_hf_vision_model")
    vmodel.save_pretrained(tmp, safe_serialization=True)
    os.replace(os.path.join(tmp, "model.safetensors"), os.path.join(out, "hf_vision_model.safetensors"))
    for f in os.listdir(tmp):
        os.remove(os.path.join(tmp, f))
    os.rmdir(tmp)
    with torch.no_grad():
        o = vmodel(pixel_values=x, output_hidden_states=True)
        refs.update({"hf_vision_model.features": o.pooler_output,
                     "hf_vision_model.layer0": o.hidden_states[1]})


def open_clip_outputs(model, x):
    """Projected class-token features and block 0's tokens as [B, tokens, width]."""
    captured = {}
    block = model.visual.transformer.resblocks[0]
    handle = block.register_forward_hook(lambda m, i, o: captured.__setitem__("layer0", o))
    with torch.no_grad():
        feats = model.encode_image(x)
    handle.remove()
    layer0 = captured["layer0"]
    if not getattr(model.visual.transformer, "batch_first", True):
        layer0 = layer0.permute(1, 0, 2)
    return feats, layer0


def open_clip_models(out, refs, x):
    register_inert_torchvision()
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg
    torch.manual_seed(3)
    model = CLIP(embed_dim=16, quick_gelu=True,
                 vision_cfg=CLIPVisionCfg(layers=2, width=32, head_width=8, patch_size=8, image_size=32),
                 text_cfg=CLIPTextCfg(context_length=8, vocab_size=40, width=16, heads=2, layers=1)).eval()
    randomize(model, 13)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save(state, os.path.join(out, "open_clip.bin"))
    write_safetensors(os.path.join(out, "open_clip.safetensors"), state)
    feats, layer0 = open_clip_outputs(model, x)
    refs.update({"open_clip.features": feats, "open_clip.layer0": layer0})

    # OpenAI's archives hold float16 weights; the reference runs the float16 weights widened to float32.
    model.half()
    scripted = torch.jit.script(model)
    torch.jit.save(scripted, os.path.join(out, "openai_torchscript.pt"))
    model.float()
    feats, layer0 = open_clip_outputs(model, x)
    refs.update({"openai_torchscript.features": feats,
                 "openai_torchscript.layer0": layer0})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser.add_argument("--out", default=os.path.join(root, "Tests", "ForensightModelsTests", "Fixtures", "clip"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    refs = {"input": x}
    hf_models(args.out, refs, x)
    open_clip_models(args.out, refs, x)
    write_safetensors(os.path.join(args.out, "clip_reference.safetensors"), refs)
    sizes = {f: os.path.getsize(os.path.join(args.out, f)) for f in sorted(os.listdir(args.out))}
    print(json.dumps(sizes, indent=1), "total", sum(sizes.values()))


if __name__ == "__main__":
    main()
