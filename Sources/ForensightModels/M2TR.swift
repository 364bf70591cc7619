import ForensightTensor
import ForensightNN

/// Hyper-parameters of `M2TRNetwork`.
public struct M2TRConfig: Sendable, Equatable {
    /// The EfficientNet-Lite whose first `backboneBlocks` blocks are the backbone.
    public var backbone: EfficientNetLiteConfig
    /// MBConv blocks kept (11 for Lite0: through the 112-channel stage, stride 16, a 14 × 14 map at 224 px).
    public var backboneBlocks: Int
    /// Width d of the transformer maps (the backbone's channels are projected to it by a 1 × 1 convolution).
    public var width: Int
    /// Patch side of each multi-scale attention head (each divides the map side).
    public var patchSizes: [Int]
    /// Multi-scale transformer layers.
    public var layers: Int
    /// Heads of the cross-modality fusion attention.
    public var fusionHeads: Int
    /// The input side the frequency filter is sized for (its map is inputSize / backbone stride).
    public var inputSize: Int
    /// Dropout before the last linear layer.
    public var dropout: Float

    /// Every field given (see `lite0` for the zoo's values; tests use a tiny trunk).
    public init(backbone: EfficientNetLiteConfig, backboneBlocks: Int, width: Int, patchSizes: [Int], layers: Int, fusionHeads: Int,
                inputSize: Int, dropout: Float) {
        (self.backbone, self.backboneBlocks, self.width, self.patchSizes) = (backbone, backboneBlocks, width, patchSizes)
        (self.layers, self.fusionHeads, self.inputSize, self.dropout) = (layers, fusionHeads, inputSize, dropout)
    }

    /// `m2tr-efficientnet-lite0`: Lite0 through block 10 (112 channels, 14 × 14 at 224 px), d = 96, patch sizes 1, 2
    /// and 7 (the divisors of 14 below 14; 32 channels each), two transformer layers, four fusion heads.
    public static let lite0 = M2TRConfig(backbone: .lite0, backboneBlocks: 11, width: 96, patchSizes: [1, 2, 7], layers: 2,
                                         fusionHeads: 4, inputSize: 224, dropout: 0.2)
}

/// M2TR (Wang et al., "M2TR: Multi-modal Multi-scale Transformers for Deepfake Detection", ICMR 2022) on an
/// EfficientNet-Lite backbone:
///
///     f = proj(trunk(x))                      1 × 1 convolution to d channels      [N, d, m, m]
///     s = MT_L(…MT_1(f))                      multi-scale patch transformer (`MultiScalePatchAttention`)
///     q = FF(f)                               frequency filter (`FrequencyFilter`)
///     g = s + attention(s, q, q)              cross-modality fusion (`CrossModalityFusion`)
///     logit = fc(dropout(mean_{h,w} g))
///
/// The paper's segmentation decoder (it needs forgery masks) is left out; its classification head is kept.
/// Keys: `trunk.*` (EfficientNet-Lite's own `_conv_stem`, `_blocks.N.…`), `proj`, `transformer.N.*`, `filter`,
/// `fusion.attention.*`, `fc`.
public final class M2TRNetwork: Module {
    public let config: M2TRConfig
    public let trunk: EfficientNetLiteTrunk
    public let proj: Conv2d
    public let transformer: [MultiScalePatchAttention]
    public let filter: FrequencyFilter
    public let fusion: CrossModalityFusion
    public let dropout: Dropout
    public let fc: Linear

    /// A fresh network (backbone, transformer and head from `ParameterInit`; the filter starts as the identity).
    public init(_ config: M2TRConfig = .lite0) {
        self.config = config
        trunk = EfficientNetLiteTrunk(config.backbone, blockCount: config.backboneBlocks)
        precondition(config.inputSize % trunk.stride == 0, "input \(config.inputSize) is not a multiple of the backbone stride \(trunk.stride)")
        let side = config.inputSize / trunk.stride
        precondition(config.patchSizes.allSatisfy { side % $0 == 0 }, "patch sizes \(config.patchSizes) do not divide the \(side)-px map")
        proj = Conv2d(trunk.outputChannels, config.width, kernel: 1)
        transformer = (0..<config.layers).map { _ in MultiScalePatchAttention(width: config.width, patchSizes: config.patchSizes) }
        filter = FrequencyFilter(channels: config.width, height: side, width: side)
        fusion = CrossModalityFusion(width: config.width, heads: config.fusionHeads)
        dropout = Dropout(config.dropout)
        fc = Linear(config.width, 1)
    }

    /// Side of the transformer maps.
    public var mapSide: Int { config.inputSize / trunk.stride }

    /// The three maps of one forward pass, [N, d, m, m] each: the multi-scale transformer's output `rgb`, the
    /// frequency branch's `frequency`, and their fusion `fused`.
    public func maps(_ x: Tensor) -> (rgb: Tensor, frequency: Tensor, fused: Tensor) {
        precondition(x.rank == 4 && x.shape[2] == config.inputSize && x.shape[3] == config.inputSize,
                     "m2tr input \(x.shape): [N, 3, \(config.inputSize), \(config.inputSize)]")
        return maps(trunkOutput: trunk(x))
    }

    /// The three maps from the trunk's output map [N, C, m, m] (the rest of `maps(_:)`).
    public func maps(trunkOutput: Tensor) -> (rgb: Tensor, frequency: Tensor, fused: Tensor) {
        let f = proj(trunkOutput)
        var s = f
        for layer in transformer { s = layer(s) }
        let q = filter(f)
        return (s, q, fusion(s, q))
    }

    /// Pooled fused features (penultimate features): [N, d].
    public func features(_ x: Tensor) -> Tensor { Self.pooled(maps(x).fused) }

    /// One logit per image: [N, 1].
    public func callAsFunction(_ x: Tensor) -> Tensor { fc(dropout(features(x))) }

    /// One logit per image from the trunk's output map (as `callAsFunction` after the trunk): [N, 1].
    public func logits(trunkOutput: Tensor) -> Tensor { fc(dropout(Self.pooled(maps(trunkOutput: trunkOutput).fused))) }

    /// The logits [N, 1] and the branch-consistency term of the same forward pass (`branchConsistency`).
    public func logitsAndConsistency(_ x: Tensor) -> (logits: Tensor, consistency: Tensor) {
        let m = maps(x)
        return (fc(dropout(Self.pooled(m.fused))), Self.branchConsistency(rgb: Self.pooled(m.rgb), frequency: Self.pooled(m.frequency)))
    }

    /// Global average pooling: [N, d, h, w] → [N, d].
    static func pooled(_ map: Tensor) -> Tensor { map.mean(axes: [2, 3]) }

    /// The consistency term between the two modalities: the mean over the batch of ‖u − v‖² / 2 for the pooled RGB and
    /// frequency features, each scaled to unit length (that is, 1 − their cosine similarity), so the two branches are
    /// asked to describe the same face the same way, whatever their scales.
    public static func branchConsistency(rgb: Tensor, frequency: Tensor) -> Tensor {
        func unit(_ v: Tensor) -> Tensor { v / (v.squared().sum(axes: [1], keepDims: true) + 1e-12).sqrt() }
        return (unit(rgb) - unit(frequency)).squared().sum(axes: [1]).mean() * 0.5
    }
}

extension M2TRNetwork {
    /// The first `blocks` backbone blocks and the stem keep their weights and statistics (see `EfficientNetLiteTrunk`).
    public func freezeStem(blocks: Int) { trunk.freezeStem(blocks: blocks) }

    /// Dropout layers, for reseeding at the start of an epoch.
    public var dropouts: [Dropout] { [dropout] }
}
