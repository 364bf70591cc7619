import ForensightTensor
import ForensightNN

/// EfficientNet-Lite compiled for inference: a snapshot of an `EfficientNetLite`'s evaluation-mode weights with every
/// BatchNorm folded into its convolution, every weight packed once, and the activations kept in the channel-blocked
/// layout (`ChannelBlocked`) from the stem to the head.
///
/// It computes what the module computes in evaluation mode (to float rounding), 1.5–2× faster on CPU. It does not
/// train and does not follow later changes to the module's weights: `matches(_:)` tells whether it still holds the
/// module's current weights, so a caller that trains can rebuild it when needed.
public final class EfficientNetLiteInference: @unchecked Sendable {
    struct Block {
        let expand: BlockedPointwiseConvolution?
        let depthwise: BlockedDepthwiseConvolution
        let project: BlockedPointwiseConvolution
        let skip: Bool
    }

    let stem: BlockedDirectConvolution
    let blocks: [Block]
    /// The head convolution; nil for a compiled trunk (`init(trunk:)`).
    let head: BlockedPointwiseConvolution?
    /// The classifier, packed like the convolutions: no OpenBLAS call in the forward pass, so OpenBLAS's worker
    /// threads, which spin for a while after each call, never compete with ours for the cores. Nil for a trunk.
    let fc: PackedLinear?
    /// The module's state when this was built, to tell whether it has changed since.
    let snapshot: ModuleSnapshot

    /// Compiles `model`'s current weights, folding each BatchNorm's running statistics.
    public convenience init(_ model: EfficientNetLite) {
        self.init(stem: (model.convStem, model.bn0), blocks: model.blocks, head: (model.convHead, model.bn1), fc: model.fc, of: model)
    }

    /// Compiles the stem and blocks of `trunk` (M2TR's backbone): only `trunkMap` runs on it.
    public convenience init(trunk: EfficientNetLiteTrunk) {
        self.init(stem: (trunk.convStem, trunk.bn0), blocks: trunk.blocks, head: nil, fc: nil, of: trunk)
    }

    init(stem: (Conv2d, BatchNorm2d), blocks modelBlocks: [MBConvBlock], head: (Conv2d, BatchNorm2d)?, fc: Linear?, of module: Module) {
        let relu6 = (low: Float(0), high: Float(6)), linear = (low: -Float.infinity, high: Float.infinity)
        func folded(_ conv: Conv2d, _ bn: BatchNorm2d, _ clamp: (low: Float, high: Float)) -> BlockedEpilogue {
            var (scale, shift) = bn.runningAffine
            if let bias = conv.bias { for i in 0..<shift.count { shift[i] += bias.data[i] * scale[i] } }
            return BlockedEpilogue(scale: scale, shift: shift, low: clamp.low, high: clamp.high)
        }
        self.stem = BlockedDirectConvolution(weight: stem.0.weight, stride: stem.0.stride.0, epilogue: folded(stem.0, stem.1, relu6))
        blocks = modelBlocks.map { b in
            Block(expand: b.expandConv.map { conv in
                      BlockedPointwiseConvolution(weight: conv.weight, epilogue: folded(conv, b.bn0!, relu6)) },
                  depthwise: BlockedDepthwiseConvolution(weight: b.depthwiseConv.weight, stride: b.depthwiseConv.stride.0,
                                                         epilogue: folded(b.depthwiseConv, b.bn1, relu6)),
                  project: BlockedPointwiseConvolution(weight: b.projectConv.weight, epilogue: folded(b.projectConv, b.bn2, linear)),
                  skip: b.hasSkip)
        }
        self.head = head.map { BlockedPointwiseConvolution(weight: $0.0.weight, epilogue: folded($0.0, $0.1, relu6)) }
        self.fc = fc.map { PackedLinear(weight: $0.weight, bias: $0.bias) }
        snapshot = ModuleSnapshot(module)
    }

    /// Whether `model` (the network or trunk this was built from) still has the same weights and statistics.
    public func matches(_ model: Module) -> Bool { snapshot.matches(model) }

    /// The head's activations in the blocked layout: [B, 3, H, W] → 1280 channels at H/32 × W/32.
    public func blockedFeatureMap(_ x: Tensor) -> ChannelBlocked {
        guard let head else { preconditionFailure("EfficientNetLiteInference: a compiled trunk has no head (use trunkMap)") }
        return head(blockedTrunkMap(x))
    }

    /// The last block's output [B, C, H/s, W/s] (unblocked), as `EfficientNetLiteTrunk` computes it in evaluation.
    public func trunkMap(_ x: Tensor) -> Tensor { imageByImage(x, stage: blockedTrunkMap) { $0.unblocked() } }

    /// The stem and blocks in the blocked layout.
    func blockedTrunkMap(_ x: Tensor) -> ChannelBlocked {
        precondition(x.rank == 4 && x.shape[1] == 3, "EfficientNetLiteInference: input \(x.shape) is not [B, 3, H, W]")
        var h = stem(x, padding: same(x.shape[2], x.shape[3], stem.kernel, stem.stride))
        for block in blocks {
            let input = h
            if let expand = block.expand { h = expand(h) }
            h = block.depthwise(h, padding: same(h.height, h.width, block.depthwise.kernel, block.depthwise.stride))
            h = block.project(h, residual: block.skip ? input : nil)
        }
        return h
    }

    /// Feature map before pooling (for heatmaps): [B, 1280, H/32, W/32], as `EfficientNetLite.featureMap`.
    public func featureMap(_ x: Tensor) -> Tensor { imageByImage(x) { $0.unblocked() } }

    /// Pooled features [B, 1280], as `EfficientNetLite.features`.
    public func features(_ x: Tensor) -> Tensor { imageByImage(x) { $0.globalAveragePool() } }

    /// `finish(stage(x))` (the stage `blockedFeatureMap` unless given), image by image when the batch allows: with one
    /// thread, or with at least two images per thread (spread over the threads, each running the whole network with single-threaded kernels, so
    /// no meeting at the end of every layer). One image's activations (a few MB at most) stay in cache where the
    /// whole batch's would not. Smaller batches on several threads split every layer over the threads instead.
    func imageByImage(_ x: Tensor, stage: ((Tensor) -> ChannelBlocked)? = nil, _ finish: @escaping (ChannelBlocked) -> Tensor) -> Tensor {
        let run = stage ?? blockedFeatureMap
        let n = x.shape[0], threads = ComputeThreads.available
        guard n > 1, threads == 1 || n >= 2 * threads else { return finish(run(x)) }
        var results = [Tensor?](repeating: nil, count: n)
        results.withUnsafeMutableBufferPointer { slots in
            let slots = slots
            parallelItems(n) { i in slots[i] = finish(run(x.slice(axis: 0, i..<(i + 1)))) }
        }
        return Tensor.concatenate(results.map { $0! }, axis: 0)
    }

    /// Logits [B, classes], as the module in evaluation mode.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard let fc else { preconditionFailure("EfficientNetLiteInference: a compiled trunk has no classifier (use trunkMap)") }
        return withoutGrad { fc(features(x)) }
    }

    private func same(_ height: Int, _ width: Int, _ kernel: Int, _ stride: Int) -> Padding2D {
        .same(height: height, width: width, kernel: (kernel, kernel), stride: (stride, stride))
    }
}
