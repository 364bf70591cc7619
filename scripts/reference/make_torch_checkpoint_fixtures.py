#!/usr/bin/env python3
"""Generates the small PyTorch checkpoints that TorchCheckpointTests reads.

Writes, into Tests/ForensightCheckpointTests/Fixtures/ (or --out):
  state_zip.pt            torch.save default (zip format, pickle protocol 2)
  state_zip_p4.pt         zip format, pickle protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL, ...)
  state_legacy.pt         _use_new_zipfile_serialization=False (legacy: pickles + raw storages)
  state_legacy_p5.pt      legacy format, pickle protocol 5
  state_zip64.pt          state_zip.pt re-packed with ZIP64 records and extra fields
  wrapped_zip.pt          {"epoch", "state_dict": <nn.Module state dict>, "optimizer": {...}}
  module_legacy.pt        an nn.Module state dict (OrderedDict with _metadata), legacy format
  unsupported_uint16.pt   a uint16 tensor (_rebuild_tensor_v3 + UntypedStorage): must be rejected
  unsupported_int16_legacy.pt  an int16 tensor (ShortStorage), legacy: must be rejected
  expected.json           file -> set; set -> tensor name -> dtype, shape, sum, abs_sum,
                          values (all, as float32, when <= 256 elements, else the first 8);
                          zip_data_ranges: byte ranges of the ZIP entries the reader uses

The "state" dict covers float32, float16 (incl. subnormal and max), bfloat16, float64,
int64 scalar, int32, uint8, int8, bool, an nn.Parameter, a transposed (non-contiguous)
tensor, views with storage offsets sharing one storage, an empty tensor, a nested
OrderedDict (flattened to dotted names) and non-tensor values (skipped by the reader).

With --describe FILE..., prints the same summary for arbitrary checkpoints instead
(used to cross-check real checkpoints such as facenet-pytorch's pnet.pt).

Requires torch (CPU build is enough). Deterministic: re-running gives identical
tensors; zip files also embed a random serialization id, which tests do not read.
"""
import argparse
import collections
import json
import os
import struct
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "..", "Tests", "ForensightCheckpointTests", "Fixtures")
DTYPE_NAMES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.int8: "I8", torch.bool: "BOOL",
}


def make_state():
    g = torch.Generator().manual_seed(1234)
    sd = collections.OrderedDict()
    sd["conv.weight"] = torch.randn(4, 3, 3, 3, generator=g)
    sd["conv.bias"] = torch.randn(4, generator=g)
    sd["half.weight"] = torch.randn(3, 5, generator=g).half()
    sd["half.specials"] = torch.tensor([0.0, -0.0, 2.0 ** -24, 65504.0, -2.0, 1.0 / 3.0], dtype=torch.float16)
    sd["bf16.weight"] = torch.randn(2, 6, generator=g).bfloat16()
    sd["fc.weight_t"] = torch.randn(5, 3, generator=g).t()  # shape (3, 5), stride (1, 3)
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    sd["shared.base"] = base
    sd["shared.row"] = base[2]  # storage offset 12
    sd["shared.col"] = base[:, 1]  # offset 1, stride 6
    sd["shared.block"] = base[1:3, 2:5]  # offset 8, strides (6, 1)
    sd["bn.num_batches_tracked"] = torch.tensor(123, dtype=torch.int64)
    sd["f64"] = torch.randn(3, generator=g, dtype=torch.float64)
    sd["i32"] = torch.tensor([-5, 0, 7, 2 ** 24], dtype=torch.int32)
    sd["u8"] = torch.tensor([0, 1, 255], dtype=torch.uint8)
    sd["i8"] = torch.tensor([-128, -1, 127], dtype=torch.int8)
    sd["mask"] = torch.tensor([True, False, True])
    sd["param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
    sd["empty"] = torch.zeros(0, 3)
    sd["nested"] = collections.OrderedDict(
        inner=collections.OrderedDict(w=torch.randn(2, 3, generator=g)), b=torch.ones(1))
    sd["epoch_int"] = 7
    sd["note"] = "hello"
    return sd


def make_module_state():
    torch.manual_seed(7)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.PReLU(4), torch.nn.Flatten(), torch.nn.Linear(4, 2))
    with torch.no_grad():  # make running stats non-trivial
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
        model[1].num_batches_tracked.fill_(42)
    return model.state_dict()


def summarize(obj, prefix=""):
    """Flattens a state dict the way the Swift reader does: tensors by dotted name."""
    out = {}
    for key, value in obj.items():
        name = prefix + str(key)
        if isinstance(value, torch.Tensor):
            flat = value.detach().to(torch.float32).contiguous().flatten()
            entry = {
                "dtype": DTYPE_NAMES[value.dtype], "shape": list(value.shape),
                "sum": float(flat.double().sum()), "abs_sum": float(flat.double().abs().sum()),
                "first": flat[:8].tolist(),
            }
            if flat.numel() <= 256:
                entry["values"] = flat.tolist()
            out[name] = entry
        elif isinstance(value, dict):
            out.update(summarize(value, name + "."))
    return out


def unwrap(obj):
    for _ in range(4):
        inner = next((obj[k] for k in ("state_dict", "model_state_dict", "model")
                      if isinstance(obj.get(k), dict)), None)
        if inner is None:
            break
        obj = inner
    return obj


def repack_zip64(src, dst):
    """Rewrites a stored ZIP with ZIP64 extra fields and ZIP64 end records everywhere."""
    with zipfile.ZipFile(src) as zin:
        infos = [(info, zin.read(info.filename)) for info in zin.infolist()]
    full = 0xFFFFFFFF
    with open(dst, "wb") as f:
        central = []
        for info, data in infos:
            name = info.filename.encode()
            offset = f.tell()
            extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
            f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, info.CRC, full, full,
                                len(name), len(extra)))
            f.write(name + extra + data)
            cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
            central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, info.CRC,
                                       full, full, len(name), len(cextra), 0, 0, 0, 0, full) + name + cextra)
        cd_offset = f.tell()
        for record in central:
            f.write(record)
        cd_size = f.tell() - cd_offset
        eocd64 = f.tell()
        f.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(central), len(central),
                            cd_size, cd_offset))
        f.write(struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1))
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, full, full, 0))


def write_json(expected, path):
    """Compact but diff-friendly: one tensor per line."""
    lines = ["{", ' "files": ' + json.dumps(expected["files"], sort_keys=True) + ",",
             ' "must_fail": ' + json.dumps(expected["must_fail"], sort_keys=True) + ",",
             ' "zip_data_ranges": ' + json.dumps(expected["zip_data_ranges"], sort_keys=True) + ",", ' "sets": {']
    for i, (group, tensors) in enumerate(sorted(expected["sets"].items())):
        lines.append(f"  {json.dumps(group)}: {{")
        items = sorted(tensors.items())
        for j, (name, entry) in enumerate(items):
            entry = {k: v for k, v in entry.items() if not (k == "first" and "values" in entry)}
            comma = "," if j + 1 < len(items) else ""
            lines.append(f"   {json.dumps(name)}: {json.dumps(entry, sort_keys=True)}{comma}")
        lines.append("  }" + ("," if i + 1 < len(expected["sets"]) else ""))
    lines += [" }", "}"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    json.load(open(path))  # sanity


def used_entry_ranges(path):
    """[start, end) of the data of data.pkl, byteorder and data/* entries."""
    ranges = []
    with zipfile.ZipFile(path) as archive, open(path, "rb") as f:
        for info in archive.infolist():
            if not (info.filename.endswith(("/data.pkl", "/byteorder")) or "/data/" in info.filename):
                continue
            f.seek(info.header_offset + 26)
            name_length, extra_length = struct.unpack("<HH", f.read(4))
            start = info.header_offset + 30 + name_length + extra_length
            ranges.append([start, start + info.compress_size])
    return sorted(ranges)


def load(path):
    return torch.load(path, map_location="cpu", weights_only=False)


def generate(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    state, module_state = make_state(), make_module_state()
    p = lambda name: os.path.join(out_dir, name)
    torch.save(state, p("state_zip.pt"))
    torch.save(state, p("state_zip_p4.pt"), pickle_protocol=4)
    torch.save(state, p("state_legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save(state, p("state_legacy_p5.pt"), _use_new_zipfile_serialization=False, pickle_protocol=5)
    repack_zip64(p("state_zip.pt"), p("state_zip64.pt"))
    torch.save({"epoch": 3, "state_dict": module_state, "optimizer": {"lr": 0.1, "state": {0: torch.ones(2)}}},
               p("wrapped_zip.pt"))
    torch.save(module_state, p("module_legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save({"a": torch.zeros(3, dtype=torch.uint16)}, p("unsupported_uint16.pt"))
    torch.save({"a": torch.tensor([1, -2], dtype=torch.int16)}, p("unsupported_int16_legacy.pt"),
               _use_new_zipfile_serialization=False)

    # Files holding the same tensors share one summary ("set"); torch.load must agree for all of them.
    groups = {"state": ["state_zip.pt", "state_zip_p4.pt", "state_legacy.pt", "state_legacy_p5.pt", "state_zip64.pt"],
              "module": ["wrapped_zip.pt", "module_legacy.pt"]}
    expected = {"files": {}, "sets": {},
                "must_fail": {"unsupported_uint16.pt": "uint16", "unsupported_int16_legacy.pt": "ShortStorage"}}
    for group, names in groups.items():
        for name in names:
            summary = summarize(unwrap(load(p(name))))  # also validates the ZIP64 repack through torch.load
            assert expected["sets"].setdefault(group, summary) == summary, name
            expected["files"][name] = group
            assert os.path.getsize(p(name)) < 20_000, name
    # Byte ranges of the entries the reader uses, so tests can flip bytes the CRC-32 guards.
    expected["zip_data_ranges"] = {name: used_entry_ranges(p(name))
                                   for name in ["state_zip.pt", "state_zip64.pt", "wrapped_zip.pt"]}
    write_json(expected, p("expected.json"))
    for name in sorted(os.listdir(out_dir)):
        print(f"{os.path.getsize(p(name)):7d}  {name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=DEFAULT_OUT, help="fixture directory")
    parser.add_argument("--describe", nargs="+", metavar="FILE", help="print a JSON summary of checkpoints instead")
    args = parser.parse_args()
    if args.describe:
        print(json.dumps({path: summarize(unwrap(load(path))) for path in args.describe}, sort_keys=True))
    else:
        generate(os.path.abspath(args.out))


if __name__ == "__main__":
    main()
