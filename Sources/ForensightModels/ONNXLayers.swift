import Foundation
import ForensightTensor
import ForensightNN

/// The layers the exporters share, each one ONNX node from our module's weights (named `key.weight`, `key.bias`, …
/// as in the module's state dict, so a graph's initializers read like the safetensors file).
extension ONNXGraph {
    /// A `Conv` node of `c` on `x`, whose input is `height` × `width` (TensorFlow "same" padding is written out for
    /// that size); returns the output and its size.
    public mutating func conv(_ c: Conv2d, _ x: String, _ key: String, height: Int, width: Int) -> (output: String, height: Int, width: Int) {
        let (kh, kw) = (c.weight.shape[2], c.weight.shape[3])
        let p: Padding2D
        switch c.padding {
        case .explicit(let explicit): p = explicit
        case .same: p = .same(height: height, width: width, kernel: (kh, kw), stride: c.stride, dilation: c.dilation)
        }
        var inputs = [x, initializer(key + ".weight", c.weight)]
        if let b = c.bias { inputs.append(initializer(key + ".bias", b)) }
        let out = node("Conv", inputs, [("kernel_shape", .ints([kh, kw])), ("strides", .ints([c.stride.0, c.stride.1])),
                                        ("dilations", .ints([c.dilation.0, c.dilation.1])), ("group", .int(c.groups)),
                                        ("pads", .ints([p.top, p.left, p.bottom, p.right]))])
        let oh = (height + p.top + p.bottom - c.dilation.0 * (kh - 1) - 1) / c.stride.0 + 1
        let ow = (width + p.left + p.right - c.dilation.1 * (kw - 1) - 1) / c.stride.1 + 1
        return (out, oh, ow)
    }

    /// A `BatchNormalization` node of `b` (evaluation: the running statistics) on `x`.
    public mutating func batchNorm(_ b: BatchNorm2d, _ x: String, _ key: String) -> String {
        node("BatchNormalization", [x, initializer(key + ".weight", b.weight), initializer(key + ".bias", b.bias),
                                    initializer(key + ".running_mean", b.runningMean), initializer(key + ".running_var", b.runningVar)],
             [("epsilon", .float(b.eps))])
    }

    /// A `Gemm` node of `l` (y = x Wᵀ + b) on `x` [batch, in].
    public mutating func gemm(_ l: Linear, _ x: String, _ key: String, output: String? = nil) -> String {
        var inputs = [x, initializer(key + ".weight", l.weight)]
        if let b = l.bias { inputs.append(initializer(key + ".bias", b)) }
        return node("Gemm", inputs, [("transB", .int(1))], output: output)
    }

    /// `x` [batch, C, H, W] and its mirror image (a MatMul with the anti-diagonal `side` × `side` matrix, exact in
    /// float), concatenated along the batch: [2·batch, C, H, W].
    public mutating func withMirror(_ x: String, side: Int, key: String) -> String {
        var flip = [Float](repeating: 0, count: side * side)
        for i in 0..<side { flip[i * side + (side - 1 - i)] = 1 }
        let mirrored = node("MatMul", [x, initializer(key, Tensor(flip, shape: [side, side]))])
        return node("Concat", [x, mirrored], [("axis", .int(0))])
    }

    /// The mean of the two halves of `x` [2·batch, width] along the batch (the inverse of `withMirror`'s doubling).
    public mutating func meanOfHalves(_ x: String, width: Int, key: String, output: String? = nil) -> String {
        let pairs = node("Reshape", [x, int64Initializer(key, [2, -1, Int64(width)])])
        return node("ReduceMean", [pairs], [("axes", .ints([0])), ("keepdims", .int(0))], output: output)
    }

    /// Bilinear resizing of `x` [batch, C, H, W] by `scale` on both spatial axes, with half-pixel centres (PyTorch's
    /// `align_corners=False`, our `upsampleBilinear`).
    public mutating func resizeBilinear(_ x: String, scale: Float, key: String) -> String {
        node("Resize", [x, "", initializer(key, Tensor([1, 1, scale, scale], shape: [4]))],
             [("mode", .string("linear")), ("coordinate_transformation_mode", .string("half_pixel"))])
    }
}
