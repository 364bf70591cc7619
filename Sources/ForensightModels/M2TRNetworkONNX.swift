import Foundation
import ForensightTensor
import ForensightNN

/// M2TR (`M2TRNetwork`) as an ONNX graph in evaluation mode (opset 13), from the normalised crop [batch, 3, S, S] to
/// the logit [batch, 1]:
/// - the EfficientNet-Lite trunk and the 1 × 1 projection as in `EfficientNetLiteONNX`;
/// - each multi-scale patch-attention layer: the q, k, v convolution, per head a channel Slice cut into r × r patches
///   (Reshape, Transpose, Reshape), softmax(q kᵀ / √(c·r²)) v with MatMul and Softmax, the patches put back, the heads
///   concatenated, then Conv, BatchNormalization, LeakyRelu 0.2 and the residual Add;
/// - the frequency filter Re(IDFT₂(DFT₂(x) ⊙ (a + ib))), which for a fixed map size is a linear map of each channel:
///   it is written as one MatMul with a [C, H·W, H·W] matrix per graph, whose columns are the filter (our FFT) applied
///   to the unit maps, so no DFT operator (opset 17) is needed;
/// - the cross-modality fusion as PyTorch's `nn.MultiheadAttention` spelled out (MatMul and Add for the in and out
///   projections, heads by Reshape and Transpose), added to the RGB map;
/// - mean pooling (ReduceMean), then the head's Gemm. With `flipAverage`, the crop and its mirror image go through in one
///   batch and the graph returns the mean of the two logits, as `detect` does.
public enum M2TRNetworkONNX {
    /// The ONNX model bytes of `network`, with `metadata` (e.g. the card) in its metadata_props.
    public static func export(_ network: M2TRNetwork, flipAverage: Bool, metadata: [String: String] = [:]) -> Data {
        var g = ONNXGraph()
        let side = network.config.inputSize
        let input = flipAverage ? g.withMirror("input", side: side, key: "mirror") : "input"
        var size = side
        let trunk = network.trunk
        let (map, _) = EfficientNetLiteONNX.trunk(convStem: trunk.convStem, bn0: trunk.bn0, blocks: trunk.blocks, input: input,
                                                  size: &size, prefix: "trunk.", graph: &g)
        let f = g.conv(network.proj, map, "proj", height: size, width: size).output
        var s = f
        for (i, layer) in network.transformer.enumerated() { s = multiScale(layer, s, key: "transformer.\(i)", side: size, graph: &g) }
        let q = frequency(network.filter, f, side: size, graph: &g)
        let fused = g.node("Add", [s, fusion(network.fusion.attention, s, q, side: size, graph: &g)])
        let pooled = g.node("ReduceMean", [fused], [("axes", .ints([2, 3])), ("keepdims", .int(0))])
        if flipAverage {
            _ = g.meanOfHalves(g.gemm(network.fc, pooled, "fc"), width: 1, key: "pairs.shape", output: "logits")
        } else {
            _ = g.gemm(network.fc, pooled, "fc", output: "logits")
        }
        return g.model(input: "input", inputShape: [3, side, side], output: "logits", outputWidth: 1, graphName: "m2tr", metadata: metadata)
    }

    /// A Reshape of `x` to `shape` (0 keeps that dimension of `x`: the batch).
    static func reshape(_ x: String, _ shape: [Int], graph g: inout ONNXGraph) -> String {
        g.node("Reshape", [x, g.int64Initializer(g.name("shape"), shape.map(Int64.init))])
    }

    /// Channels `range` of `x` [batch, C, H, W].
    static func channels(_ x: String, _ range: Range<Int>, graph g: inout ONNXGraph) -> String {
        g.node("Slice", [x, g.int64Initializer(g.name("start"), [Int64(range.lowerBound)]),
                         g.int64Initializer(g.name("end"), [Int64(range.upperBound)]), g.int64Initializer(g.name("axis"), [1])])
    }

    /// One `MultiScalePatchAttention` layer on `x` [batch, d, m, m].
    static func multiScale(_ layer: MultiScalePatchAttention, _ x: String, key: String, side m: Int, graph g: inout ONNXGraph) -> String {
        let d = layer.output.weight.shape[0], c = d / layer.patchSizes.count
        let qkv = g.conv(layer.qkv, x, key + ".qkv", height: m, width: m).output
        var heads: [String] = []
        for (i, r) in layer.patchSizes.enumerated() {
            let (tokens, width) = ((m / r) * (m / r), c * r * r)
            func patches(_ part: Int) -> String {
                let slice = channels(qkv, (part * d + i * c)..<(part * d + (i + 1) * c), graph: &g)
                let split = g.node("Transpose", [reshape(slice, [0, c, m / r, r, m / r, r], graph: &g)], [("perm", .ints([0, 2, 4, 1, 3, 5]))])
                return reshape(split, [0, tokens, width], graph: &g)
            }
            let (q, k, v) = (patches(0), patches(1), patches(2))
            let scale = g.initializer(g.name("\(key).scale"), Tensor([1 / Float(width).squareRoot()], shape: [1]))
            let scores = g.node("Mul", [g.node("MatMul", [q, g.node("Transpose", [k], [("perm", .ints([0, 2, 1]))])]), scale])
            let attended = g.node("MatMul", [g.node("Softmax", [scores], [("axis", .int(-1))]), v])
            let back = g.node("Transpose", [reshape(attended, [0, m / r, m / r, c, r, r], graph: &g)], [("perm", .ints([0, 3, 1, 4, 2, 5]))])
            heads.append(reshape(back, [0, c, m, m], graph: &g))
        }
        let joined = g.node("Concat", heads, [("axis", .int(1))])
        let out = g.batchNorm(layer.norm, g.conv(layer.output, joined, key + ".output", height: m, width: m).output, key + ".norm")
        return g.node("Add", [x, g.node("LeakyRelu", [out], [("alpha", .float(0.2))])])
    }

    /// The frequency filter on `x` [batch, C, m, m] as one batched MatMul (see the type's documentation).
    static func frequency(_ filter: FrequencyFilter, _ x: String, side m: Int, graph g: inout ONNXGraph) -> String {
        let channels = filter.weightReal.shape[0], plane = m * m
        // The filter applied to the unit maps: unit k in every channel at once, row k of the batch.
        let units = Tensor.zeros([plane, channels, m, m])
        for k in 0..<plane { for ch in 0..<channels { units.data[(k * channels + ch) * plane + k] = 1 } }
        let columns = withoutGrad { filter(units) }
        // matrix[ch][k][j] = (filter of unit k)[ch][j], so a row vector x times matrix[ch] is the filtered channel.
        let matrix = Tensor.zeros([channels, plane, plane])
        for k in 0..<plane { for ch in 0..<channels { for j in 0..<plane {
            matrix.data[(ch * plane + k) * plane + j] = columns.data[(k * channels + ch) * plane + j]
        } } }
        let rows = reshape(x, [0, channels, 1, plane], graph: &g)
        let filtered = g.node("MatMul", [rows, g.initializer("filter.matrix", matrix)])
        return reshape(filtered, [0, channels, m, m], graph: &g)
    }

    /// `attention(tokens(rgb), tokens(frequency), tokens(frequency))` mapped back to [batch, d, m, m].
    static func fusion(_ attention: MultiHeadAttention, _ rgb: String, _ frequency: String, side m: Int, graph g: inout ONNXGraph) -> String {
        let e = attention.inProjWeight.shape[1], h = attention.heads, tokens = m * m
        func sequence(_ map: String) -> String {
            g.node("Transpose", [reshape(map, [0, e, tokens], graph: &g)], [("perm", .ints([0, 2, 1]))])
        }
        let (query, kv) = (sequence(rgb), sequence(frequency))
        let weights = attention.inProjWeight.split([e, e, e], axis: 0), biases = attention.inProjBias?.split([e, e, e], axis: 0)
        func project(_ x: String, _ part: Int, _ name: String) -> String {
            var y = g.node("MatMul", [x, g.initializer("fusion.attention.\(name).weight_t", weights[part].transposed())])
            if let biases { y = g.node("Add", [y, g.initializer("fusion.attention.\(name).bias", biases[part])]) }
            return g.node("Transpose", [reshape(y, [0, tokens, h, e / h], graph: &g)], [("perm", .ints([0, 2, 1, 3]))])
        }
        let (q, k, v) = (project(query, 0, "q"), project(kv, 1, "k"), project(kv, 2, "v"))
        let scale = g.initializer("fusion.attention.scale", Tensor([1 / Float(e / h).squareRoot()], shape: [1]))
        let scores = g.node("Mul", [g.node("MatMul", [q, g.node("Transpose", [k], [("perm", .ints([0, 1, 3, 2]))])]), scale])
        let attended = g.node("MatMul", [g.node("Softmax", [scores], [("axis", .int(-1))]), v])
        let merged = reshape(g.node("Transpose", [attended], [("perm", .ints([0, 2, 1, 3]))]), [0, tokens, e], graph: &g)
        var out = g.node("MatMul", [merged, g.initializer("fusion.attention.out_proj.weight_t", attention.outProj.weight.transposed())])
        if let b = attention.outProj.bias { out = g.node("Add", [out, g.initializer("fusion.attention.out_proj.bias", b)]) }
        return reshape(g.node("Transpose", [out], [("perm", .ints([0, 2, 1]))]), [0, e, m, m], graph: &g)
    }
}
