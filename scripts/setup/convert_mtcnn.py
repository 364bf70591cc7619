#!/usr/bin/env python3
"""Convert the MTCNN face-detector weights (P-Net, R-Net, O-Net) of the PyPI wheel
`facenet-pytorch==2.6.0` (MIT, Copyright (c) 2019 Timothy Esler) to .safetensors.

    pip download --no-deps -d DIR facenet-pytorch==2.6.0
    python3 convert_mtcnn.py --src DIR --out-dir models_cache
        -> models_cache/mtcnn_pnet.safetensors, mtcnn_rnet.safetensors, mtcnn_onet.safetensors

--src may be a folder holding the downloaded .whl, the .whl itself, or a folder where the
wheel was unpacked / pip-installed / partly extracted (anything under which
facenet_pytorch/data/{pnet,rnet,onet}.pt or just data/*.pt can be found). Files read from
the wheel, or beside its *.dist-info, are checked against the wheel's RECORD sha256.
--nets picks a subset (default: all three).

No torch needed: the .pt files are PyTorch legacy (pre-1.6) state dicts, read by
torch_legacy.py (beside this file). Output: every tensor under its PyTorch state-dict name
(conv1.weight, prelu1.weight, dense4.bias, ...), in state-dict order, as contiguous F32.
Several kernels are stored as transposed (Fortran-order) views in the .pt; they are written
in the logical row-major layout, exactly what `torch.load(...)[name].contiguous()` gives.
Architectures and conventions: docs/notes/mtcnn.md.
"""
import argparse
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_legacy import (ConvertError, find_wheel, load_member,  # noqa: E402
                          read_legacy_checkpoint, read_wheel_members, state_dict_tensors,
                          write_safetensors)

DIST = "facenet_pytorch"
SOURCE = "facenet-pytorch==2.6.0"
NETS = ("pnet", "rnet", "onet")


def _conv(name, cout, cin, k):
    return [(name + ".weight", (cout, cin, k, k)), (name + ".bias", (cout,))]


def _dense(name, cout, cin):
    return [(name + ".weight", (cout, cin)), (name + ".bias", (cout,))]


def _prelu(name, c):
    return [(name + ".weight", (c,))]


# The state dicts exactly as facenet_pytorch.models.mtcnn.{PNet,RNet,ONet}.state_dict() has
# them: name -> shape, in order.
EXPECTED = {
    "pnet": (_conv("conv1", 10, 3, 3) + _prelu("prelu1", 10)
             + _conv("conv2", 16, 10, 3) + _prelu("prelu2", 16)
             + _conv("conv3", 32, 16, 3) + _prelu("prelu3", 32)
             + _conv("conv4_1", 2, 32, 1) + _conv("conv4_2", 4, 32, 1)),
    "rnet": (_conv("conv1", 28, 3, 3) + _prelu("prelu1", 28)
             + _conv("conv2", 48, 28, 3) + _prelu("prelu2", 48)
             + _conv("conv3", 64, 48, 2) + _prelu("prelu3", 64)
             + _dense("dense4", 128, 576) + _prelu("prelu4", 128)
             + _dense("dense5_1", 2, 128) + _dense("dense5_2", 4, 128)),
    "onet": (_conv("conv1", 32, 3, 3) + _prelu("prelu1", 32)
             + _conv("conv2", 64, 32, 3) + _prelu("prelu2", 64)
             + _conv("conv3", 64, 64, 3) + _prelu("prelu3", 64)
             + _conv("conv4", 128, 64, 2) + _prelu("prelu4", 128)
             + _dense("dense5", 256, 1152) + _prelu("prelu5", 256)
             + _dense("dense6_1", 2, 256) + _dense("dense6_2", 4, 256)
             + _dense("dense6_3", 10, 256)),
}


def member(net):
    return f"{DIST}/data/{net}.pt"


def load_net_bytes(src, nets):
    """{net: (bytes, description)}; a wheel is opened once for all nets."""
    whl = src if (os.path.isfile(src) and src.endswith(".whl")) else \
        (find_wheel(src, DIST) if os.path.isdir(src) else None)
    if whl:
        got = read_wheel_members(whl, [member(n) for n in nets])
        return {n: (got[member(n)], f"{whl}!{member(n)}") for n in nets}
    return {n: load_member(src, DIST, member(n)) for n in nets}


def check_state(net, state):
    want = EXPECTED[net]
    got = [(k, t.size) for k, t in state.items()]
    if got != want:
        missing = [k for k, _ in want if k not in state]
        extra = [k for k in state if k not in dict(want)]
        shapes = [f"{k} {state[k].size} != {s}" for k, s in want
                  if k in state and state[k].size != s]
        detail = "; ".join(x for x in (
            f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else "",
            f"shapes {shapes}" if shapes else "") if x) or "different order"
        raise ConvertError(f"{net}.pt does not hold the expected MTCNN {net} state dict: {detail}")
    for k, t in state.items():
        if t.dtype != "F32":
            raise ConvertError(f"{net}.pt: {k} has dtype {t.dtype}, expected F32")


def convert(src, out_dir, nets=NETS):
    done = []
    for net, (data, source) in load_net_bytes(src, nets).items():
        state = read_legacy_checkpoint(data)
        check_state(net, state)
        tensors = state_dict_tensors(state)
        out = os.path.join(out_dir, f"mtcnn_{net}.safetensors")
        write_safetensors(out, tensors, {
            "format": "pt",
            "source": f"{SOURCE} ({member(net)})",
            "license": "MIT",
        })
        done.append((out, len(tensors), source))
    return done


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", required=True,
                    help="folder with the downloaded wheel, the .whl, or an unpacked/extracted tree")
    ap.add_argument("--out-dir", required=True, help="folder for mtcnn_{pnet,rnet,onet}.safetensors")
    ap.add_argument("--nets", nargs="+", choices=NETS, default=list(NETS),
                    help="which networks to convert (default: all)")
    args = ap.parse_args(argv)
    try:
        done = convert(args.src, args.out_dir, args.nets)
    except ConvertError as e:
        print(f"convert_mtcnn: error: {e}", file=sys.stderr)
        return 1
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as e:
        print(f"convert_mtcnn: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    for out, n, source in done:
        print(f"wrote {out}: {n} tensors from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
