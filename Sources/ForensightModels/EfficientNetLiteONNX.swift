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
        // [x; mirror(x)] along the batch: one pass of the network for both.
        let input = flipAverage ? g.withMirror("input", side: side, key: "mirror") : "input"
        let features = features(network, input: input, side: side, prefix: "", graph: &g)
        let width = network.fc.weight.shape[0]
        if flipAverage {
            _ = g.meanOfHalves(g.gemm(network.fc, features, "_fc"), width: width, key: "pairs.shape", output: "logits")
        } else {
            _ = g.gemm(network.fc, features, "_fc", output: "logits")
        }
        return g.model(input: "input", inputShape: [3, side, side], output: "logits", outputWidth: width,
                       graphName: "efficientnet-lite", metadata: metadata)
    }

    /// Adds `network`'s stem, MBConv blocks, head convolution and global pooling on `input` [batch, 3, side, side] to
    /// `graph`, its weights named `prefix` + the state-dict key; returns the pooled features [batch, head channels].
    public static func features(_ network: EfficientNetLite, input: String, side: Int, prefix: String, graph g: inout ONNXGraph) -> String {
        var size = side
        let (h, six) = trunk(convStem: network.convStem, bn0: network.bn0, blocks: network.blocks, input: input, size: &size, prefix: prefix, graph: &g)
        let head = g.conv(network.convHead, h, prefix + "_conv_head", height: size, width: size).output
        let activated = g.node("Min", [g.node("Relu", [g.batchNorm(network.bn1, head, prefix + "_bn1")]), six])
        return g.node("Flatten", [g.node("GlobalAveragePool", [activated])], [("axis", .int(1))])
    }

    /// Adds the stem and `blocks` (EfficientNet-Lite's, or the first of them as in `EfficientNetLiteTrunk`) on `input`,
    /// whose side is `size` (updated to the output's); returns the output map and the name of the ReLU6 bound constant.
    public static func trunk(convStem: Conv2d, bn0: BatchNorm2d, blocks: [MBConvBlock], input: String, size: inout Int, prefix: String,
                             graph g: inout ONNXGraph) -> (output: String, six: String) {
        let six = g.initializer(prefix + "relu6.max", Tensor([6], shape: [1]))
        func conv(_ c: Conv2d, _ x: String, _ key: String) -> String {
            let (out, h, _) = g.conv(c, x, prefix + key, height: size, width: size)
            size = h
            return out
        }
        func bn(_ b: BatchNorm2d, _ x: String, _ key: String) -> String { g.batchNorm(b, x, prefix + key) }
        func relu6(_ x: String) -> String { g.node("Min", [g.node("Relu", [x]), six]) }

        var h = relu6(bn(bn0, conv(convStem, input, "_conv_stem"), "_bn0"))
        for (i, block) in blocks.enumerated() {
            let key = "_blocks.\(i)"
            var x = h
            if let expand = block.expandConv, let bn0 = block.bn0 { x = relu6(bn(bn0, conv(expand, x, key + "._expand_conv"), key + "._bn0")) }
            x = relu6(bn(block.bn1, conv(block.depthwiseConv, x, key + "._depthwise_conv"), key + "._bn1"))
            x = bn(block.bn2, conv(block.projectConv, x, key + "._project_conv"), key + "._bn2")
            h = block.hasSkip ? g.node("Add", [x, h]) : x
        }
        return (h, six)
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
        var h = g.node("Div", [g.node("Sub", ["input", mean]), std])
        h = g.node("Relu", [g.gemm(network.fc1, h, "fc1")])
        h = g.node("Relu", [g.gemm(network.fc2, h, "fc2")])
        _ = g.gemm(network.fc3, h, "fc3", output: "logits")
        return g.model(input: "input", inputShape: [f], output: "logits", outputWidth: 1, graphName: "mouth-motion-mlp", metadata: metadata)
    }
}
