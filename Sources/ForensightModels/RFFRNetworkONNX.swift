import Foundation
import ForensightTensor
import ForensightNN

/// The RFFR classifier (`RFFRNetwork`, its frozen block inpainter included) as one ONNX graph in evaluation mode, with
/// two inputs, both the same face crop:
/// - `crop` [batch, 3, S, S], normalised as the card says (the crop branch's input);
/// - `working` [batch, 3, W, W], the crop at the inpainter's working size W, pixels in −1…1.
///
/// Inside the graph, as `RFFRNetwork.input` and `BlockInpainter.restore` compute it: the K masked copies of `working`
/// (hidden pixels zeroed, the mask as a fourth channel; the masks of the fixed partition are constants) run through
/// the inpainter as one batch of K·batch rows (Conv, Relu, Resize with half-pixel bilinear doubling, Add for the
/// skips); each pixel of the restoration x̂ is taken from the pass that hid it (Reshape to [K, batch, 3, W, W],
/// Mul by the masks, ReduceSum over K); the cue 4 · (x̂ − x) is resized to S (bilinear, half-pixel) and goes
/// through the residual branch (Conv, BatchNormalization, Relu, GlobalAveragePool), the crop through
/// EfficientNet-Lite (`EfficientNetLiteONNX.features`); the two pooled features are concatenated into the head (Gemm).
/// With `flipAverage`, both inputs are doubled with their mirror images and the two logits averaged, as `detect` does.
public enum RFFRNetworkONNX {
    /// The ONNX model bytes of `network` for S = `side`, with `metadata` (e.g. the card) in its metadata_props.
    public static func export(_ network: RFFRNetwork, side: Int, flipAverage: Bool, metadata: [String: String] = [:]) -> Data {
        var g = ONNXGraph()
        let w = network.inpainter.config.workingSize
        let crop = flipAverage ? g.withMirror("crop", side: side, key: "crop.mirror") : "crop"
        let working = flipAverage ? g.withMirror("working", side: w, key: "working.mirror") : "working"
        let cue = residual(network.inpainter, working: working, graph: &g)
        let resized = side == w ? cue : g.resizeBilinear(cue, scale: Float(side) / Float(w), key: "residual.scales")
        var h = resized, size = side
        for (i, (conv, norm)) in zip(network.residual.convs, network.residual.norms).enumerated() {
            let c = g.conv(conv, h, "residual.convs.\(i)", height: size, width: size)
            size = c.height
            h = g.node("Relu", [g.batchNorm(norm, c.output, "residual.norms.\(i)")])
        }
        let cueFeatures = g.node("Flatten", [g.node("GlobalAveragePool", [h])], [("axis", .int(1))])
        let cropFeatures = EfficientNetLiteONNX.features(network.crop, input: crop, side: side, prefix: "crop.", graph: &g)
        let fused = g.node("Concat", [cropFeatures, cueFeatures], [("axis", .int(1))])
        if flipAverage {
            _ = g.meanOfHalves(g.gemm(network.head, fused, "head"), width: 1, key: "pairs.shape", output: "logits")
        } else {
            _ = g.gemm(network.head, fused, "head", output: "logits")
        }
        return g.model(inputs: [("crop", [3, side, side]), ("working", [3, w, w])], output: "logits", outputWidth: 1,
                       graphName: "rffr-efficientnet-lite0", metadata: metadata)
    }

    /// The amplified residual 4 · (x̂ − x) of `working` [batch, 3, W, W], x̂ the inpainter's restoration.
    static func residual(_ inpainter: BlockInpainter, working: String, graph g: inout ONNXGraph) -> String {
        let w = inpainter.config.workingSize, masks = inpainter.masks, k = masks.count
        // [batch, 1, W, W]: the batch size from the input's shape, then the mask plane broadcast to it.
        let batch = g.node("Slice", [g.node("Shape", [working]), g.int64Initializer("inpainter.batch.start", [0]),
                                     g.int64Initializer("inpainter.batch.end", [1])])
        let planeShape = g.node("Concat", [batch, g.int64Initializer("inpainter.plane", [1, Int64(w), Int64(w)])], [("axis", .int(0))])
        var passes: [String] = []
        for (j, mask) in masks.enumerated() {
            let hidden = g.initializer("inpainter.mask.\(j)", Tensor(mask, shape: [1, 1, w, w]))
            let kept = g.initializer("inpainter.keep.\(j)", Tensor(mask.map { 1 - $0 }, shape: [1, 1, w, w]))
            let image = g.node("Mul", [working, kept])
            passes.append(g.node("Concat", [image, g.node("Expand", [hidden, planeShape])], [("axis", .int(1))]))
        }
        // Row j · batch + i is pass j of image i, as in `BlockInpainter.restore`.
        var h = g.node("Concat", passes, [("axis", .int(0))])
        var size = w
        var skips: [(name: String, size: Int)] = []
        for (i, conv) in inpainter.encoder.enumerated() {
            let c = g.conv(conv, h, "inpainter.encoder.\(i)", height: size, width: size)
            (h, size) = (g.node("Relu", [c.output]), c.height)
            skips.append((h, size))
        }
        h = g.node("Relu", [g.conv(inpainter.bottleneck, h, "inpainter.bottleneck", height: size, width: size).output])
        for (i, conv) in inpainter.decoder.enumerated() {
            let skip = skips[2 - i]
            let up = g.resizeBilinear(h, scale: Float(skip.size) / Float(size), key: "inpainter.decoder.\(i).scales")
            let c = g.conv(conv, up, "inpainter.decoder.\(i)", height: skip.size, width: skip.size)
            (h, size) = (g.node("Add", [g.node("Relu", [c.output]), skip.name]), skip.size)
        }
        let restoredPasses = g.conv(inpainter.output, h, "inpainter.output", height: size, width: size).output
        let stacked = g.node("Reshape", [restoredPasses, g.int64Initializer("inpainter.passes.shape", [Int64(k), -1, 3, Int64(w), Int64(w)])])
        let allMasks = g.initializer("inpainter.masks", Tensor(masks.flatMap { $0 }, shape: [k, 1, 1, w, w]))
        let restored = g.node("ReduceSum", [g.node("Mul", [stacked, allMasks]), g.int64Initializer("inpainter.passes.axis", [0])],
                              [("keepdims", .int(0))])
        let gain = g.initializer("residual.gain", Tensor([BlockInpainter.residualGain], shape: [1]))
        return g.node("Mul", [g.node("Sub", [restored, working]), gain])
    }
}
