#!/usr/bin/env python3
"""Runs an ONNX model in ONNX Runtime on the tensors of a safetensors file (the check of `forensight export --onnx`).

    python3 scripts/reference/run_onnx.py MODEL.onnx INPUT.safetensors OUTPUT.safetensors

The model is checked with onnx.checker first; every graph input is fed the tensor of the same name in INPUT; every
graph output is written to OUTPUT under its name, with the model's metadata_props as the file's metadata.
Exit 3 when onnx or onnxruntime is not installed (the Swift test skips then), 1 on any other failure.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _safetensors_io import read_safetensors, write_safetensors  # noqa: E402

try:
    import numpy as np
    import onnx
    import onnxruntime as ort
except ImportError as error:
    print(f"run_onnx.py: {error}", file=sys.stderr)
    sys.exit(3)


def main():
    model_path, input_path, output_path = sys.argv[1:4]
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    inputs = read_safetensors(input_path)
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    feed = {i.name: np.asarray(inputs[i.name], dtype=np.float32) for i in session.get_inputs()}
    outputs = session.run(None, feed)
    metadata = {p.key: p.value for p in model.metadata_props}
    metadata["onnxruntime"] = ort.__version__
    write_safetensors(output_path, {o.name: v for o, v in zip(session.get_outputs(), outputs)}, metadata)


if __name__ == "__main__":
    main()
