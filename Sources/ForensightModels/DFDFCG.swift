import Foundation
import ForensightTensor
import ForensightNN

/// Hyper-parameters of DFD-FCG's trainable part (`DFDFCGNetwork`), whatever backbone gives its tokens.
public struct DFDFCGConfig: Sendable, Equatable {
    /// Width d of the tokens, queries and temporal features.
    public var width: Int
    /// Learnable queries per layer (one per facial component: 4).
    public var queries: Int
    /// Attention heads of the query decoders and of the temporal attention.
    public var decoderHeads: Int, temporalHeads: Int
    /// The query decoders' feed-forward width.
    public var feedForward: Int
    /// Frames T per clip (the longest clip the time embedding covers).
    public var frames: Int
    /// Kernel of the temporal convolution (padding kernel / 2).
    public var temporalKernel: Int
    /// Dropout inside the query decoders.
    public var dropout: Float
    /// InfoNCE temperature τ of the facial-component guidance.
    public var temperature: Float
    /// Weight of the guidance term in the training loss (the detector scales its own term by it); 0 = off.
    public var guidanceWeight: Float
    /// Which heads the clip logit averages (ablations switch some off; at least one stays on).
    public var spatialHead: Bool, temporalHead: Bool, spatioTemporalHead: Bool

    /// Every field given (see `standard`).
    public init(width: Int, queries: Int = 4, decoderHeads: Int = 4, temporalHeads: Int = 4, feedForward: Int, frames: Int,
                temporalKernel: Int = 5, dropout: Float = 0.1, temperature: Float = 0.07, guidanceWeight: Float = 0.15,
                spatialHead: Bool = true, temporalHead: Bool = true, spatioTemporalHead: Bool = true) {
        (self.width, self.queries, self.decoderHeads, self.temporalHeads) = (width, queries, decoderHeads, temporalHeads)
        (self.feedForward, self.frames, self.temporalKernel, self.dropout) = (feedForward, frames, temporalKernel, dropout)
        (self.temperature, self.guidanceWeight) = (temperature, guidanceWeight)
        (self.spatialHead, self.temporalHead, self.spatioTemporalHead) = (spatialHead, temporalHead, spatioTemporalHead)
    }

    /// The zoo's: d = 128, 4 queries per layer, 4-head decoders and temporal attention, a 512-wide feed-forward block,
    /// clips of 10 frames, kernel 5, dropout 0.1, τ = 0.07, guidance weight 0.15, all three heads.
    public static let standard = DFDFCGConfig(width: 128, feedForward: 512, frames: 10)

    /// `dfd-fcg-efficientnet-lite0`'s selected Lite0 blocks (ForgeLens's): 7, 10 and 14.
    public static let lite0Layers = [7, 10, 14]
}

/// What one forward pass of `DFDFCGNetwork` gives for B clips of T frames.
public struct DFDFCGOutputs {
    /// The decoded queries of each layer: L × [B·T, 4, d].
    public var queries: [Tensor]
    /// The temporal module's output [B, T, d].
    public var temporalFeatures: Tensor
    /// The three heads' logits, each [B, 1].
    public var spatial: Tensor, temporal: Tensor, spatioTemporal: Tensor
    /// The clip logit [B, 1]: the mean of the enabled heads' logits.
    public var logits: Tensor
    /// The facial-component guidance loss (unweighted), when region masks were given.
    public var guidance: Tensor?
}

/// DFD-FCG (Han et al., "Towards More General Video-based Deepfake Detection through Facial Component Guided
/// Adaptation for Foundation Model", CVPR 2025) on the frozen tokens of a backbone (`ForgeLensTokenSource`:
/// EfficientNet-Lite feature maps or a CLIP ViT's blocks), for clips of T frames of one face:
///
///     Xₗ  = tokens of layer l, per frame                       [B·T, 1 + Pₗ, d], class token first
///     Qₗ  = QueryDecoderₗ(Xₗ)                                   4 queries cross-attending to Xₗ   [B·T, 4, d]
///     Q̄   = meanₗ Qₗ                                            [B·T, 4, d]
///     s   = meanₜ flatten(Q̄)                                   spatial feature   [B, 4d]
///     z   = Temporal(meanᵢ Q̄ᵢ as [B, T, d])                    attention over T, then a kernel-5 convolution
///     τ   = meanₜ z                                            temporal feature  [B, d]
///     logit = mean(fc_s(s), fc_t(τ), fc_st([s, τ]))            spatial, temporal, spatio-temporal heads
///
/// (fc_s of the clip-averaged spatial feature equals the mean over T of the per-frame spatial logits.) In training
/// the guidance term (`facialComponentInfoNCE`, averaged over layers) aligns query i of every layer with facial
/// component i (`FacialComponent`). The paper's decoders read the keys of a frozen CLIP ViT's attention layers; here
/// they read each selected layer's output tokens, so the same network runs on a CNN.
///
/// Keys: `tokens.*` (the source's), `decoders.N.*` (`QueryDecoder`), `temporal.*` (`TemporalModule`),
/// `spatial_head` (4d → 1), `temporal_head` (d → 1), `spatio_temporal_head` (5d → 1).
public final class DFDFCGNetwork: Module {
    public let config: DFDFCGConfig
    public let tokens: any ForgeLensTokenSource
    public let decoders: [QueryDecoder]
    public let temporal: TemporalModule
    public let spatialHead: Linear, temporalHead: Linear, spatioTemporalHead: Linear

    /// A fresh trainable part on `tokens` (whose width must be `config.width`).
    public init(tokens: any ForgeLensTokenSource, config: DFDFCGConfig = .standard) {
        precondition(tokens.width == config.width, "DFD-FCG: tokens of width \(tokens.width) for a \(config.width)-wide head")
        precondition(config.queries == FacialComponent.allCases.count, "DFD-FCG: one query per facial component (4)")
        precondition(config.spatialHead || config.temporalHead || config.spatioTemporalHead, "DFD-FCG: at least one head")
        self.config = config
        self.tokens = tokens
        decoders = (0..<tokens.layerCount).map { _ in
            QueryDecoder(count: config.queries, width: config.width, heads: config.decoderHeads, feedForward: config.feedForward,
                         dropout: config.dropout)
        }
        temporal = TemporalModule(width: config.width, heads: config.temporalHeads, maxFrames: config.frames, kernel: config.temporalKernel)
        spatialHead = Linear(config.queries * config.width, 1)
        temporalHead = Linear(config.width, 1)
        spatioTemporalHead = Linear((config.queries + 1) * config.width, 1)
    }

    /// DFD-FCG on EfficientNet-Lite tokens (`EfficientNetLiteTokens`) of blocks `layers`.
    public convenience init(backbone: EfficientNetLiteConfig, layers: [Int] = DFDFCGConfig.lite0Layers, config: DFDFCGConfig = .standard) {
        self.init(tokens: EfficientNetLiteTokens(backbone, layers: layers, width: config.width), config: config)
    }

    /// DFD-FCG on a CLIP image encoder's tokens (`CLIPTokens`) of blocks `layers`.
    public convenience init(clip: CLIPVisionEncoder, layers: [Int], config: DFDFCGConfig = .standard) {
        self.init(tokens: CLIPTokens(encoder: clip, layers: layers, width: config.width), config: config)
    }

    /// Everything from the tokens of B·T frames (clip-major: clip 0's T frames first), with the guidance loss when
    /// `masks` (L × [B·T, 4, Pₗ], `regionMasks`) are given.
    public func outputs(tokens layerTokens: [Tensor], frames t: Int, masks: [Tensor]? = nil) -> DFDFCGOutputs {
        let n = layerTokens[0].shape[0], (q, d) = (config.queries, config.width)
        precondition(t >= 1 && n % t == 0, "DFD-FCG: \(n) frames are not clips of \(t)")
        let b = n / t
        let queries = zip(decoders, layerTokens).map { decoder, x in decoder(x) }
        var sum = queries[0]
        for other in queries.dropFirst() { sum = sum + other }
        let pooled = sum * (1 / Float(queries.count))                                   // [N, 4, d]
        let spatialFeature = pooled.reshaped([b, t, q * d]).mean(axes: [1])             // [B, 4d]
        let z = temporal(pooled.mean(axes: [1]).reshaped([b, t, d]))                     // [B, T, d]
        let temporalFeature = z.mean(axes: [1])                                          // [B, d]
        let spatial = spatialHead(spatialFeature), temporalLogit = temporalHead(temporalFeature)
        let joint = spatioTemporalHead(Tensor.concatenate([spatialFeature, temporalFeature], axis: 1))
        let enabled = [(config.spatialHead, spatial), (config.temporalHead, temporalLogit), (config.spatioTemporalHead, joint)]
            .filter { $0.0 }.map { $0.1 }
        var logits = enabled[0]
        for other in enabled.dropFirst() { logits = logits + other }
        var guidance: Tensor? = nil
        if let masks {
            precondition(masks.count == queries.count, "DFD-FCG: masks for \(masks.count) layers, \(queries.count) decoded")
            var total = facialComponentInfoNCE(queries: queries[0], tokens: layerTokens[0], masks: masks[0], temperature: config.temperature)
            for l in 1..<queries.count {
                total = total + facialComponentInfoNCE(queries: queries[l], tokens: layerTokens[l], masks: masks[l], temperature: config.temperature)
            }
            guidance = total * (1 / Float(queries.count))
        }
        return DFDFCGOutputs(queries: queries, temporalFeatures: z, spatial: spatial, temporal: temporalLogit, spatioTemporal: joint,
                             logits: logits * (1 / Float(enabled.count)), guidance: guidance)
    }

    /// Everything for B clips of `frames` frames given as images [B·T, 3, S, S] (clip-major).
    public func outputs(_ x: Tensor, frames: Int, masks: [Tensor]? = nil) -> DFDFCGOutputs {
        outputs(tokens: layerTokensSharingRepeats(x), frames: frames, masks: masks)
    }

    /// `tokens.layerTokens(x)`, with each run of identical consecutive images of `x` [N, 3, S, S] run through the
    /// backbone once and its tokens repeated: a photo is a clip of T copies of itself, so it costs one frame instead
    /// of T. The values are the same as without sharing (a frozen backbone in evaluation mode sees each image alone),
    /// and so are the gradients into the projections.
    public func layerTokensSharingRepeats(_ x: Tensor) -> [Tensor] {
        let runs = Self.identicalRuns(x)
        guard runs.count < x.shape[0] else { return tokens.layerTokens(x) }
        let firsts = Tensor.concatenate(runs.map { x.slice(axis: 0, $0.start..<($0.start + 1)) }, axis: 0)
        return tokens.layerTokens(firsts).map { tok in
            let (s, d) = (tok.shape[1], tok.shape[2])
            let parts = runs.indices.map { u in
                runs[u].count == 1 ? tok.slice(axis: 0, u..<(u + 1)) : tok.slice(axis: 0, u..<(u + 1)).expand(to: [runs[u].count, s, d])
            }
            return parts.count == 1 ? parts[0] : Tensor.concatenate(parts, axis: 0)
        }
    }

    /// The runs of bit-identical consecutive images along the first axis of `x`: (first index, length), in order.
    public static func identicalRuns(_ x: Tensor) -> [(start: Int, count: Int)] {
        let n = x.shape.first ?? 0
        guard n > 0 else { return [] }
        let size = x.count / n
        var runs: [(start: Int, count: Int)] = [(0, 1)]
        for i in 1..<max(n, 1) {
            if memcmp(x.data + (i - 1) * size, x.data + i * size, size * MemoryLayout<Float>.size) == 0 {
                runs[runs.count - 1].count += 1
            } else {
                runs.append((i, 1))
            }
        }
        return runs
    }

    /// One logit per clip: [B·T, 3, S, S] → [B, 1].
    public func callAsFunction(_ x: Tensor, frames: Int) -> Tensor { outputs(x, frames: frames).logits }

    /// One logit per still image, scored as a clip of T = `config.frames` copies of it (how photos train): the frozen
    /// tokens are computed once and repeated. [N, 3, S, S] → [N, 1].
    public func stillLogits(_ x: Tensor) -> Tensor {
        let t = config.frames
        let repeated = tokens.layerTokens(x).map { tok in
            let (n, s, d) = (tok.shape[0], tok.shape[1], tok.shape[2])
            return tok.reshaped([n, 1, s, d]).expand(to: [n, t, s, d]).reshaped([n * t, s, d])
        }
        return outputs(tokens: repeated, frames: t).logits
    }

    /// Guidance masks for frames whose five landmarks (normalised to the crop, 0…1) are `points`, on each layer's
    /// square token grid of `patchCounts[l]` cells: L × [N, 4, Pₗ] (`FacialRegions`).
    public static func regionMasks(points: [[(x: Float, y: Float)]], patchCounts: [Int]) -> [Tensor] {
        patchCounts.map { p in
            let side = Int(Double(p).squareRoot().rounded())
            precondition(side * side == p, "DFD-FCG regions need a square token grid, got \(p) tokens")
            return Tensor(points.flatMap { FacialRegions.masks(points: $0, grid: side, side) }, shape: [points.count, 4, p])
        }
    }

    /// Freezes the backbone (DFD-FCG trains only what follows it).
    public func freezeBackbone() { tokens.freezeBackbone() }

    /// Dropout layers (the query decoders'), for reseeding at the start of an epoch.
    public var dropouts: [Dropout] { decoders.flatMap(\.dropouts) }
}
