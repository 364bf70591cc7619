"""Minimal float32 safetensors writer/reader shared by the reference-fixture scripts.

Format: u64 little-endian header length, a JSON header
{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}} (offsets relative to the
end of the header; header padded with spaces to a multiple of 8 bytes, as the reference
implementation does), then the raw little-endian data. Tensors are laid out in sorted-name order,
so the same tensors always produce byte-identical files. No dependency on the `safetensors` package.
"""
import json
import os
import struct

import numpy as np


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: array-like} as F32. Accepts torch tensors (detached, moved to CPU) or numpy arrays."""
    arrays = {}
    for name, t in tensors.items():
        if hasattr(t, "detach"):
            t = t.detach().cpu().contiguous().numpy()
        a = np.array(t, dtype=np.float32, order="C")  # (np.ascontiguousarray would turn 0-d into 1-d)
        arrays[name] = a
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    names = sorted(arrays)
    for name in names:
        n = arrays[name].nbytes
        header[name] = {"dtype": "F32", "shape": list(arrays[name].shape), "data_offsets": [offset, offset + n]}
        offset += n
    blob = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    blob += b" " * ((8 - (8 + len(blob)) % 8) % 8)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for name in names:
            f.write(arrays[name].astype("<f4", copy=False).tobytes())
    os.replace(tmp, path)


def read_safetensors(path):
    """Reads an F32 safetensors file written above (or by anyone else) into {name: np.ndarray}."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", (name, e["dtype"])
        b, end = e["data_offsets"]
        a = np.frombuffer(data[b:end], dtype="<f4").reshape(e["shape"])
        out[name] = a.copy()
    return out
