import Foundation
import ForensightTensor
import ForensightNN

/// MesoNet (`Meso4`, `MesoInception4`) as an ONNX graph in evaluation mode, from its input [batch, 3, side, side] to
/// its logit [batch, 1]: Conv (explicit "same" pads), Relu, BatchNormalization (running statistics, ε 1e-3),
/// MaxPool, Concat, Flatten (channel-first, as our flatten), Gemm (transB), LeakyRelu 0.1; the dropouts are the
/// identity in evaluation and are left out.
public enum MesoNetONNX {
    /// The ONNX model bytes of `network`, with `metadata` (e.g. the model card) in its metadata_props.
    public static func export(_ network: any MesoNetwork, metadata: [String: String] = [:]) -> Data {
        var g = ONNXGraph()
        var h = "input"
        // Every MesoNet convolution has stride 1 and "same" padding, which then does not depend on the input's size.
        func conv(_ c: Conv2d, _ x: String, _ key: String) -> String {
            g.conv(c, x, key, height: network.inputSize, width: network.inputSize).output
        }
        func relu(_ x: String) -> String { g.node("Relu", [x]) }
        func bn(_ b: BatchNorm2d, _ x: String, _ key: String) -> String { g.batchNorm(b, x, key) }
        func pool(_ x: String, _ k: Int) -> String { g.node("MaxPool", [x], [("kernel_shape", .ints([k, k])), ("strides", .ints([k, k]))]) }
        func inception(_ block: MesoInceptionBlock, _ x: String, _ key: String) -> String {
            let b1 = relu(conv(block.branch1, x, key + ".branch1"))
            let b2 = relu(conv(block.branch2, relu(conv(block.branch2Reduce, x, key + ".branch2_reduce")), key + ".branch2"))
            let b3 = relu(conv(block.branch3, relu(conv(block.branch3Reduce, x, key + ".branch3_reduce")), key + ".branch3"))
            let b4 = relu(conv(block.branch4, relu(conv(block.branch4Reduce, x, key + ".branch4_reduce")), key + ".branch4"))
            return g.node("Concat", [b1, b2, b3, b4], [("axis", .int(1))])
        }
        let fc1: Linear, fc2: Linear
        if let m = network as? Meso4 {
            h = pool(bn(m.bn1, relu(conv(m.conv1, h, "conv1")), "bn1"), 2)
            h = pool(bn(m.bn2, relu(conv(m.conv2, h, "conv2")), "bn2"), 2)
            h = pool(bn(m.bn3, relu(conv(m.conv3, h, "conv3")), "bn3"), 2)
            h = pool(bn(m.bn4, relu(conv(m.conv4, h, "conv4")), "bn4"), 4)
            (fc1, fc2) = (m.fc1, m.fc2)
        } else if let m = network as? MesoInception4 {
            h = pool(bn(m.bn1, inception(m.block1, h, "block1"), "bn1"), 2)
            h = pool(bn(m.bn2, inception(m.block2, h, "block2"), "bn2"), 2)
            h = pool(bn(m.bn3, relu(conv(m.conv3, h, "conv3")), "bn3"), 2)
            h = pool(bn(m.bn4, relu(conv(m.conv4, h, "conv4")), "bn4"), 4)
            (fc1, fc2) = (m.fc1, m.fc2)
        } else {
            preconditionFailure("MesoNetONNX knows Meso4 and MesoInception4")
        }
        h = g.node("Flatten", [h], [("axis", .int(1))])
        h = g.node("LeakyRelu", [g.gemm(fc1, h, "fc1")], [("alpha", .float(Meso4.leakySlope))])
        _ = g.gemm(fc2, h, "fc2", output: "logits")
        let name = network is Meso4 ? "meso4" : "mesoinception4"
        return g.model(input: "input", inputShape: [3, network.inputSize, network.inputSize], output: "logits", outputWidth: 1,
                       graphName: name, metadata: metadata)
    }
}
