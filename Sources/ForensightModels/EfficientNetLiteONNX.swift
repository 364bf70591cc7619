import Foundation
import ForensightTensor
import ForensightNN

/// EfficientNet-Lite (Lite0, Lite2, with the detector's one-logit head) as an ONNX graph in evaluation mode, from the
/// normalised crop [batch, 3, side, side] to the logit [batch, 1].
///
/// Conv (TensorFlow "same" padding written out per layer, depthwise convolutions as `group` = channels),
/// BatchNormalization with the running statistics, ReLU6 as Relu then Min with 6 (opset 13's Clip takes its bounds
/// as inputs, Min needs only a float constant), Add for the skip connections, GlobalAveragePool, Flatten and Gemm.
/// Dropout is the identity in evaluation and is left out. With `flipAverage` (the card's `flip_average`), the graph
/// scores the crop and its mirror image in one batch (the mirror is a MatMul with the anti-diagonal matrix, exact in
/// float) and returns the mean of the two logits, as `detect` does.
public enum EfficientNetLiteONNX {
    /// The ONNX model bytes of `network` for `side` × `side` inputs, with `metadata` (e.g. the card) in its metadata_props.
    public static func export(_ network: EfficientNetLite, side: Int, flipAverage: Bool, metadata: [String: String] = [:]) -> Data {
        var g = ONNXGraph()
        var size = side
        let six = g.initializer("relu6.max", Tensor([6], shape: [1]))
        func conv(_ c: Conv2d, _ x: String, _ key: String) -> String {
            let (kh, kw) = (c.weight.shape[2], c.weight.shape[3])
            let p: Padding2D
            switch c.padding {
            case .explicit(let explicit): p = explicit
            case .same: p = .same(height: size, width: size, kernel: (kh, kw), stride: c.stride, dilation: c.dilation)
            }
            size = (size + p.top + p.bottom - c.dilation.0 * (kh - 1) - 1) / c.stride.0 + 1
            var inputs = [x, g.initializer(key + ".weight", c.weight)]
            if let b = c.bias { inputs.append(g.initializer(key + ".bias", b)) }
            return g.node("Conv", inputs, [("kernel_shape", .ints([kh, kw])), ("strides", .ints([c.stride.0, c.stride.1])),
                                           ("dilations", .ints([c.dilation.0, c.dilation.1])), ("group", .int(c.groups)),
                                           ("pads", .ints([p.top, p.left, p.bottom, p.right]))])
        }
        func bn(_ b: BatchNorm2d, _ x: String, _ key: String) -> String {
            g.node("BatchNormalization", [x, g.initializer(key + ".weight", b.weight), g.initializer(key + ".bias", b.bias),
                                          g.initializer(key + ".running_mean", b.runningMean), g.initializer(key + ".running_var", b.runningVar)],
                   [("epsilon", .float(b.eps))])
        }
        func relu6(_ x: String) -> String { g.node("Min", [g.node("Relu", [x]), six]) }

        var h = "input"
        if flipAverage {
            // [x; mirror(x)] along the batch: one pass of the network for both.
            var flip = [Float](repeating: 0, count: side * side)
            for i in 0..<side { flip[i * side + (side - 1 - i)] = 1 }
            let mirrored = g.node("MatMul", [h, g.initializer("mirror", Tensor(flip, shape: [side, side]))])
            h = g.node("Concat", [h, mirrored], [("axis", .int(0))])
        }
        h = relu6(bn(network.bn0, conv(network.convStem, h, "_conv_stem"), "_bn0"))
        for (i, block) in network.blocks.enumerated() {
            let key = "_blocks.\(i)"
            var x = h
            if let expand = block.expandConv, let bn0 = block.bn0 { x = relu6(bn(bn0, conv(expand, x, key + "._expand_conv"), key + "._bn0")) }
            x = relu6(bn(block.bn1, conv(block.depthwiseConv, x, key + "._depthwise_conv"), key + "._bn1"))
            x = bn(block.bn2, conv(block.projectConv, x, key + "._project_conv"), key + "._bn2")
            h = block.hasSkip ? g.node("Add", [x, h]) : x
        }
        h = relu6(bn(network.bn1, conv(network.convHead, h, "_conv_head"), "_bn1"))
        h = g.node("Flatten", [g.node("GlobalAveragePool", [h])], [("axis", .int(1))])
        var gemmInputs = [h, g.initializer("_fc.weight", network.fc.weight)]
        if let b = network.fc.bias { gemmInputs.append(g.initializer("_fc.bias", b)) }
        let width = network.fc.weight.shape[0]
        if flipAverage {
            let both = g.node("Gemm", gemmInputs, [("transB", .int(1))])
            let pairs = g.node("Reshape", [both, g.int64Initializer("pairs.shape", [2, -1, Int64(width)])])
            _ = g.node("ReduceMean", [pairs], [("axes", .ints([0])), ("keepdims", .int(0))], output: "logits")
        } else {
            _ = g.node("Gemm", gemmInputs, [("transB", .int(1))], output: "logits")
        }
        return g.model(input: "input", inputShape: [3, side, side], output: "logits", outputWidth: width,
                       graphName: "efficientnet-lite", metadata: metadata)
    }
}

/// The mouth-motion detector's MLP (`MouthMotionNet`) as an ONNX graph: window features [batch, F] → standardised
/// (Sub, Div by the stored mean and spread) → Gemm → Relu → Gemm → Relu → Gemm → logit [batch, 1]. Dropout is the
/// identity in evaluation and is left out. The features themselves (`MouthMotionFeatures`) are computed from the
/// FaceMesh tracks outside the graph.
public enum MouthMotionNetONNX {
    /// The ONNX model bytes of `network`, with `metadata` in its metadata_props.
    public static func export(_ network: MouthMotionNet, metadata: [String: String] = [:]) -> Data {
        var g = ONNXGraph()
        let f = network.inputFeatures
        let mean = g.initializer("feature_mean", network.featureMean.reshaped([1, f]))
        let std = g.initializer("feature_std", network.featureStd.reshaped([1, f]))
        func gemm(_ l: Linear, _ x: String, _ key: String, output: String? = nil) -> String {
            var inputs = [x, g.initializer(key + ".weight", l.weight)]
            if let b = l.bias { inputs.append(g.initializer(key + ".bias", b)) }
            return g.node("Gemm", inputs, [("transB", .int(1))], output: output)
        }
        var h = g.node("Div", [g.node("Sub", ["input", mean]), std])
        h = g.node("Relu", [gemm(network.fc1, h, "fc1")])
        h = g.node("Relu", [gemm(network.fc2, h, "fc2")])
        _ = gemm(network.fc3, h, "fc3", output: "logits")
        return g.model(input: "input", inputShape: [f], output: "logits", outputWidth: 1, graphName: "mouth-motion-mlp", metadata: metadata)
    }
}
