#!/usr/bin/env python3
"""HDF5 fixtures for Forensight's own HDF5 reader and the MesoNet Keras importer, written with h5py (no TensorFlow).

Keras's `model.save_weights` layout is made by hand with h5py: the root (or `model_weights`) has an attribute
`layer_names`; each layer is a group with an attribute `weight_names` (`conv2d_1/kernel:0`, ...), each weight a
float32 dataset at that path inside the layer group; layers without weights have an empty `weight_names` (h5py stores
`[]` as an empty float64 array, as Keras 2 does). Kernels are Keras's: HWIO convolutions, (in, out) dense layers.

Writes
  Tests/ForensightCheckpointTests/Fixtures/hdf5/
    small_v0.h5          superblock 0 (h5py's default): nested groups, fixed and variable-length string attributes,
                         an empty attribute, float32 contiguous, float32 chunked (edge chunks, a multi-level B-tree),
                         float64, int16 big-endian, a scalar, a compact dataset
    small_latest.h5      libver="latest": superblock 3, version-2 object headers, link messages, a single-chunk dataset
    dense_links.h5       libver="latest" with a 12-member group (dense link storage: must be a clear error)
    gzip.h5              a gzip-compressed dataset (must be a clear error)
    small_expected.json  every numeric dataset above (shape, values) under its HDF5 path (small_latest.h5's under latest/)
  Tests/ForensightModelsTests/Fixtures/keras/
    meso4_256.h5                 Meso4 at 256 px, random weights, Keras 2.1.5 names (conv2d_1, ...), fixed-length
                                 names, layer_names in model order; dense_1's kernel chunked (7 x 5 chunks)
    mesoinception4_256.h5        MesoInception4 at 256 px, tf.keras names (conv2d, conv2d_1, ...), variable-length
                                 names, inside a `model_weights` group, layer_names NOT in creation order
    meso4_missing_dense.h5       Meso4 at 32 px without its second dense layer
    meso4_wrong_shape.h5         Meso4 at 32 px whose second convolution is 3x3 instead of 5x5
    mesonet_keras_reference.safetensors
        <model>.<key>            the state dict under Forensight's keys, converted here independently
        <model>.keras_logits     [2] the Keras model's pre-sigmoid output (P(real) after a sigmoid)
        <model>.features         [2, 16] the penultimate features (after LeakyReLU)
      for model in meso4, mesoinception4, computed by a PyTorch forward that follows Keras's semantics (channel-last
      flatten before the first dense layer), on the input x[n, c, h, w] = ((h*h*31 + w*17 + c*101 + n*7 + h*w*3) % 256) / 255.

    python3 scripts/reference/make_keras_mesonet_fixtures.py     (needs h5py, torch, numpy)
"""
import json
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _safetensors_io import write_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
HDF5_DIR = os.path.join(ROOT, "Tests", "ForensightCheckpointTests", "Fixtures", "hdf5")
KERAS_DIR = os.path.join(ROOT, "Tests", "ForensightModelsTests", "Fixtures", "keras")
RNG = np.random.default_rng(20)


def small_files():
    expected = {}
    with h5py.File(os.path.join(HDF5_DIR, "small_v0.h5"), "w") as f:
        f.attrs["names"] = np.array([b"alpha", b"be", b"gamma_long_name"])
        f.attrs["vlen"] = ["x", "yy", "zzz"]
        f.attrs["empty"] = []
        f.attrs["ratio"] = np.float64(0.25)
        g = f.create_group("outer/inner")
        a = RNG.standard_normal((3, 5)).astype(np.float32)
        g.create_dataset("contiguous", data=a)
        b = RNG.standard_normal((37, 23)).astype(np.float32)
        g.create_dataset("chunked", data=b, chunks=(4, 5))  # 10 x 5 chunks: a B-tree with more than one level
        c = RNG.standard_normal((2, 3, 4)).astype(np.float64)
        f.create_dataset("double", data=c)
        d = np.arange(-6, 6, dtype=">i2").reshape(3, 4)
        f.create_dataset("int16_be", data=d)
        f.create_dataset("scalar", data=np.float32(3.5))
        e = np.arange(6, dtype=np.float32)
        f.create_dataset("compact", data=e, dcpl=_compact())
        expected.update({"outer/inner/contiguous": a, "outer/inner/chunked": b, "double": c, "int16_be": d, "scalar": np.float32(3.5),
                         "compact": e})
    with h5py.File(os.path.join(HDF5_DIR, "small_latest.h5"), "w", libver="latest") as f:
        f.attrs["names"] = np.array([b"one", b"two"])
        a = RNG.standard_normal((4, 6)).astype(np.float32)
        f.create_dataset("grp/contiguous", data=a)
        b = RNG.standard_normal((5, 3)).astype(np.float32)
        f.create_dataset("grp/single_chunk", data=b, chunks=(5, 3))
        expected.update({"latest/grp/contiguous": a, "latest/grp/single_chunk": b})
    with h5py.File(os.path.join(HDF5_DIR, "dense_links.h5"), "w", libver="latest") as f:
        for i in range(12):
            f.create_dataset(f"member_{i}", data=np.zeros(2, np.float32))
    with h5py.File(os.path.join(HDF5_DIR, "gzip.h5"), "w") as f:
        f.create_dataset("packed", data=np.ones((8, 8), np.float32), compression="gzip")
    with open(os.path.join(HDF5_DIR, "small_expected.json"), "w") as out:
        json.dump({"generator": "scripts/reference/make_keras_mesonet_fixtures.py", "h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version,
                   "datasets": {k: {"shape": list(np.shape(v)), "values": [float(x) for x in np.ravel(v)]} for k, v in expected.items()}},
                  out, indent=1)


def _compact():
    plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    plist.set_layout(h5py.h5d.COMPACT)
    return plist


# Keras models as lists of layers: (name, kind, weights), kind in conv/bn/dense/none; weights {short: HWIO/(in,out) array}.

def conv_weights(kh, kw, cin, cout):
    return {"kernel": (RNG.standard_normal((kh, kw, cin, cout)) * 1.5 / np.sqrt(kh * kw * cin)).astype(np.float32),
            "bias": (RNG.standard_normal(cout) * 0.2).astype(np.float32)}


def bn_weights(c):
    return {"gamma": (RNG.standard_normal(c) * 0.2 + 1).astype(np.float32), "beta": (RNG.standard_normal(c) * 0.2).astype(np.float32),
            "moving_mean": (RNG.standard_normal(c) * 0.3).astype(np.float32),
            "moving_variance": (RNG.random(c) * 1.5 + 0.3).astype(np.float32)}


def dense_weights(i, o):
    return {"kernel": (RNG.standard_normal((i, o)) * 2 / np.sqrt(i)).astype(np.float32), "bias": (RNG.standard_normal(o) * 0.2).astype(np.float32)}


def write_keras(path, layers, order, group=None, vlen=False, chunks=None):
    """Writes `layers` ({name: weights}) in Keras's save_weights layout, layer_names in `order`."""
    chunks = chunks or {}
    with h5py.File(path, "w") as f:
        root = f.create_group(group) if group else f
        names = [n.encode() for n in order]
        root.attrs["layer_names"] = [n.decode() for n in names] if vlen else np.array(names)
        root.attrs["backend"] = np.bytes_(b"tensorflow")
        root.attrs["keras_version"] = np.bytes_(b"2.1.5")
        for name in order:
            g = root.create_group(name)
            weights = layers[name]
            order_of = {"kernel": 0, "bias": 1, "gamma": 0, "beta": 1, "moving_mean": 2, "moving_variance": 3}
            wnames = [f"{name}/{k}:0" for k in sorted(weights, key=order_of.get)]
            g.attrs["weight_names"] = np.array([w.encode() for w in wnames]) if wnames else []
            for w in wnames:
                short = w.split("/")[-1].split(":")[0]
                g.create_dataset(w, data=weights[short], chunks=chunks.get(w))


def meso4_layers(side, first=1, conv2_kernel=5):
    n = lambda kind, i: f"{kind}_{i + first}"  # noqa: E731  Keras 2.1.5 numbers from 1
    L, order = {}, ["input_1"]
    L["input_1"] = {}
    spec = [(3, 3, 8, 2), (conv2_kernel, 8, 8, 2), (5, 8, 16, 2), (5, 16, 16, 4)]
    for i, (k, cin, cout, _) in enumerate(spec):
        L[n("conv2d", i)] = conv_weights(k, k, cin, cout)
        L[n("batch_normalization", i)] = bn_weights(cout)
        L[n("max_pooling2d", i)] = {}
        order += [n("conv2d", i), n("batch_normalization", i), n("max_pooling2d", i)]
    s = side // 32
    L.update({"flatten_1": {}, "dropout_1": {}, "dense_1": dense_weights(16 * s * s, 16), "leaky_re_lu_1": {}, "dropout_2": {},
              "dense_2": dense_weights(16, 1)})
    order += ["flatten_1", "dropout_1", "dense_1", "leaky_re_lu_1", "dropout_2", "dense_2"]
    return L, order


def keras_conv(x, w, dilation=1):
    k = torch.from_numpy(w["kernel"]).permute(3, 2, 0, 1)
    return F.conv2d(x, k, torch.from_numpy(w["bias"]), padding=dilation * (k.shape[-1] - 1) // 2, dilation=dilation)


def keras_bn(x, w):
    return F.batch_norm(x, torch.from_numpy(w["moving_mean"]), torch.from_numpy(w["moving_variance"]),
                        torch.from_numpy(w["gamma"]), torch.from_numpy(w["beta"]), False, 0.0, 1e-3)


def keras_head(x, L, d1, d2):
    flat = x.permute(0, 2, 3, 1).flatten(1)  # Keras flattens channel-last
    h = F.leaky_relu(flat @ torch.from_numpy(L[d1]["kernel"]) + torch.from_numpy(L[d1]["bias"]), 0.1)
    return h, (h @ torch.from_numpy(L[d2]["kernel"]) + torch.from_numpy(L[d2]["bias"])).flatten()


def meso4_forward(L, x):
    for i, pool in enumerate([2, 2, 2, 4]):
        x = F.max_pool2d(keras_bn(F.relu(keras_conv(x, L[f"conv2d_{i + 1}"])), L[f"batch_normalization_{i + 1}"]), pool)
    return keras_head(x, L, "dense_1", "dense_2")


def inception_layers(side):
    """tf.keras names: the first layer of a kind is unnumbered, then _1, _2, ... in creation order."""
    L, created = {}, []
    count = {"conv2d": 0, "batch_normalization": 0}

    def new(kind, weights):
        name = kind if count[kind] == 0 else f"{kind}_{count[kind]}"
        count[kind] += 1
        L[name] = weights
        created.append(name)
        return name

    blocks = []
    for cin, (a, b, c, d) in [(3, (1, 4, 4, 2)), (11, (2, 4, 4, 2))]:
        convs = [new("conv2d", conv_weights(1, 1, cin, a)),
                 new("conv2d", conv_weights(1, 1, cin, b)), new("conv2d", conv_weights(3, 3, b, b)),
                 new("conv2d", conv_weights(1, 1, cin, c)), new("conv2d", conv_weights(3, 3, c, c)),
                 new("conv2d", conv_weights(1, 1, cin, d)), new("conv2d", conv_weights(3, 3, d, d))]
        blocks.append((convs, new("batch_normalization", bn_weights(a + b + c + d))))
    tail = [(new("conv2d", conv_weights(5, 5, 12, 16)), new("batch_normalization", bn_weights(16))),
            (new("conv2d", conv_weights(5, 5, 16, 16)), new("batch_normalization", bn_weights(16)))]
    s = side // 32
    L["dense"], L["dense_1"] = dense_weights(16 * s * s, 16), dense_weights(16, 1)
    # A topological order unlike the creation order: each block's 1x1 reductions first, then the rest.
    order = ["input_1"]
    for convs, bn in blocks:
        order += [convs[1], convs[3], convs[5], convs[0], convs[2], convs[4], convs[6], f"concatenate_{len(order)}", bn, f"max_pooling2d_{len(order)}"]
    for conv, bn in tail:
        order += [conv, bn, f"max_pooling2d_{len(order)}"]
    order += ["flatten", "dropout", "dense", "leaky_re_lu", "dropout_1", "dense_1"]
    for name in order:
        L.setdefault(name, {})
    return L, order, blocks, tail


def inception_forward(L, x, blocks, tail):
    for convs, bn in blocks:
        c = [L[n] for n in convs]
        y = torch.cat([F.relu(keras_conv(x, c[0])),
                       F.relu(keras_conv(F.relu(keras_conv(x, c[1])), c[2])),
                       F.relu(keras_conv(F.relu(keras_conv(x, c[3])), c[4], dilation=2)),
                       F.relu(keras_conv(F.relu(keras_conv(x, c[5])), c[6], dilation=3))], dim=1)
        x = F.max_pool2d(keras_bn(y, L[bn]), 2)
    for (conv, bn), pool in zip(tail, [2, 4]):
        x = F.max_pool2d(keras_bn(F.relu(keras_conv(x, L[conv])), L[bn]), pool)
    return keras_head(x, L, "dense", "dense_1")


def torch_state(L, convs, norms, denses, conv_keys):
    """Forensight's keys, converted independently of the Swift importer (the last layer's sign flipped: P(real) in Keras)."""
    out = {}
    for name, key in zip(convs, conv_keys):
        out[f"{key}.weight"] = L[name]["kernel"].transpose(3, 2, 0, 1)
        out[f"{key}.bias"] = L[name]["bias"]
    for i, name in enumerate(norms):
        for k, ours in [("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"), ("moving_variance", "running_var")]:
            out[f"bn{i + 1}.{ours}"] = L[name][k]
    k1 = L[denses[0]]["kernel"]
    s = int(round((k1.shape[0] // 16) ** 0.5))
    out["fc1.weight"] = k1.reshape(s, s, 16, 16).transpose(3, 2, 0, 1).reshape(16, -1)  # (h, w, c, out) -> (out, c, h, w)
    out["fc1.bias"] = L[denses[0]]["bias"]
    out["fc2.weight"] = -L[denses[1]]["kernel"].T
    out["fc2.bias"] = -L[denses[1]]["bias"]
    return out


def keras_files():
    os.makedirs(KERAS_DIR, exist_ok=True)
    h = np.arange(256).reshape(1, 1, 256, 1)
    w = np.arange(256).reshape(1, 1, 1, 256)
    c = np.arange(3).reshape(1, 3, 1, 1)
    n = np.arange(2).reshape(2, 1, 1, 1)
    x = torch.from_numpy(((h * h * 31 + w * 17 + c * 101 + n * 7 + h * w * 3) % 256).astype(np.float32) / np.float32(255))
    reference = {}

    L, order = meso4_layers(256)
    write_keras(os.path.join(KERAS_DIR, "meso4_256.h5"), L, order, chunks={"dense_1/kernel:0": (150, 7)})
    with torch.no_grad():
        feats, logits = meso4_forward(L, x)
    state = torch_state(L, [f"conv2d_{i}" for i in range(1, 5)], [f"batch_normalization_{i}" for i in range(1, 5)], ["dense_1", "dense_2"],
                        ["conv1", "conv2", "conv3", "conv4"])
    reference.update({f"meso4.{k}": v for k, v in state.items()})
    reference.update({"meso4.keras_logits": logits, "meso4.features": feats})

    L, order, blocks, tail = inception_layers(256)
    write_keras(os.path.join(KERAS_DIR, "mesoinception4_256.h5"), L, order, group="model_weights", vlen=True)
    with torch.no_grad():
        feats, logits = inception_forward(L, x, blocks, tail)
    keys = [f"block{b}.{k}" for b in (1, 2) for k in ["branch1", "branch2_reduce", "branch2", "branch3_reduce", "branch3", "branch4_reduce", "branch4"]]
    state = torch_state(L, blocks[0][0] + blocks[1][0] + [t[0] for t in tail], [blocks[0][1], blocks[1][1]] + [t[1] for t in tail],
                        ["dense", "dense_1"], keys + ["conv3", "conv4"])
    reference.update({f"mesoinception4.{k}": v for k, v in state.items()})
    reference.update({"mesoinception4.keras_logits": logits, "mesoinception4.features": feats})
    write_safetensors(os.path.join(KERAS_DIR, "mesonet_keras_reference.safetensors"), reference,
                      {"generator": "scripts/reference/make_keras_mesonet_fixtures.py", "torch": torch.__version__, "h5py": h5py.__version__})
    print("keras logits", reference["meso4.keras_logits"].tolist(), reference["mesoinception4.keras_logits"].tolist())

    L, order = meso4_layers(32)
    del L["dense_2"]
    write_keras(os.path.join(KERAS_DIR, "meso4_missing_dense.h5"), L, [o for o in order if o != "dense_2"])
    L, order = meso4_layers(32, conv2_kernel=3)
    write_keras(os.path.join(KERAS_DIR, "meso4_wrong_shape.h5"), L, order)


if __name__ == "__main__":
    torch.set_num_threads(1)
    os.makedirs(HDF5_DIR, exist_ok=True)
    small_files()
    keras_files()
    for d in (HDF5_DIR, KERAS_DIR):
        for name in sorted(os.listdir(d)):
            print(os.path.relpath(os.path.join(d, name), ROOT), os.path.getsize(os.path.join(d, name)))
