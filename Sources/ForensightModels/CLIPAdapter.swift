import Foundation
import ForensightTensor
import ForensightNN

/// The parts of the CLIP adapter detector that an ablation can switch off, by their names on the command line and in
/// the model card (`norms`, `freq`, `boundary`, `identity`, `arcmargin`, `slerp`).
public struct CLIPAdapterParts: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Norm tuning: the backbone's normalisation affine parameters train (BatchNorm γ, β with frozen running
    /// statistics on EfficientNet-Lite; every LayerNorm's weight and bias on CLIP).
    public static let norms = CLIPAdapterParts(rawValue: 1 << 0)
    /// The Freq-Adapter (`FrequencyAdapter`).
    public static let freq = CLIPAdapterParts(rawValue: 1 << 1)
    /// Boundary Mining (`BoundaryMining`).
    public static let boundary = CLIPAdapterParts(rawValue: 1 << 2)
    /// Identity-invariant learning (`IdentityDiscriminator` behind gradient reversal).
    public static let identity = CLIPAdapterParts(rawValue: 1 << 3)
    /// The ArcMargin head (`ArcMarginHead`) instead of a plain linear head on the normalised feature.
    public static let arcMargin = CLIPAdapterParts(rawValue: 1 << 4)
    /// Slerp feature augmentation in training (`slerpAugmented`).
    public static let slerp = CLIPAdapterParts(rawValue: 1 << 5)

    /// Every part: the full detector.
    public static let all: CLIPAdapterParts = [.norms, .freq, .boundary, .identity, .arcMargin, .slerp]

    /// Each part with its name, in a fixed order.
    public static let named: [(String, CLIPAdapterParts)] = [
        ("norms", .norms), ("freq", .freq), ("boundary", .boundary), ("identity", .identity), ("arcmargin", .arcMargin), ("slerp", .slerp),
    ]

    /// The names of the parts in the set, in `named` order.
    public var names: [String] { Self.named.filter { contains($0.1) }.map(\.0) }

    /// The parts named in `names` ("all" for every part, "none" for none); nil names an unknown part.
    public init?(names: [String]) {
        var parts: CLIPAdapterParts = []
        for name in names.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) where !name.isEmpty {
            if name == "all" { parts.formUnion(.all); continue }
            if name == "none" { continue }
            guard let part = Self.named.first(where: { $0.0 == name })?.1 else { return nil }
            parts.insert(part)
        }
        self = parts
    }
}

/// Hyper-parameters of the CLIP adapter detector's trainable part (`CLIPAdapterNetwork`).
public struct CLIPAdapterConfig: Sendable, Equatable {
    /// Token width d.
    public var width: Int
    /// The transformer encoder layer over the tokens: heads, feed-forward width, dropout.
    public var heads: Int, feedForward: Int, dropout: Float
    /// Channels of the Freq-Adapter's stems, and its cutoff (half-side of the zeroed square / input side).
    public var adapterChannels: Int, frequencyCutoff: Float
    /// ArcMargin scale s and margin m (radians).
    public var arcScale: Float, arcMargin: Float
    /// Identity discriminator: hidden width, identity slots K, gradient-reversal α.
    public var identityHidden: Int, identitySlots: Int, reversal: Float
    /// The parts switched on.
    public var parts: CLIPAdapterParts

    /// Every field given (see `standard`).
    public init(width: Int, heads: Int, feedForward: Int, dropout: Float, adapterChannels: Int, frequencyCutoff: Float, arcScale: Float,
                arcMargin: Float, identityHidden: Int, identitySlots: Int, reversal: Float, parts: CLIPAdapterParts) {
        (self.width, self.heads, self.feedForward, self.dropout) = (width, heads, feedForward, dropout)
        (self.adapterChannels, self.frequencyCutoff, self.arcScale, self.arcMargin) = (adapterChannels, frequencyCutoff, arcScale, arcMargin)
        (self.identityHidden, self.identitySlots, self.reversal, self.parts) = (identityHidden, identitySlots, reversal, parts)
    }

    /// The zoo's: d = 128, one encoder layer of 8 heads with a 512-wide feed-forward block, dropout 0.1; 16-channel
    /// adapter stems with cutoff 1/8 (a 57 × 57 square of the 224-px spectrum zeroed); s = 16, m = 0.3; a 64-wide
    /// identity discriminator over 4096 slots, α = 1; every part on.
    public static let standard = CLIPAdapterConfig(width: 128, heads: 8, feedForward: 512, dropout: 0.1, adapterChannels: 16, frequencyCutoff: 0.125,
                                                   arcScale: 16, arcMargin: 0.3, identityHidden: 64, identitySlots: 4096, reversal: 1, parts: .all)

    /// `clip-adapter-efficientnet-lite0`'s token layer: Lite0 block 10, the last of the 112-channel stage (14 × 14 at 224 px).
    public static let lite0Layer = 10
}

/// The CLIP adapter detector (the cross-domain design of issue 19): one frozen layer's tokens of a backbone
/// (`ForgeLensTokenSource` with one layer: `EfficientNetLiteTokens` or `CLIPTokens`), adapted and read through a
/// normalised-feature head:
///
///     [c; P] = tokens of the layer                 [B, 1 + g², d], class token first, P row-major on a g × g grid
///     P ← P + Freq-Adapter(x)                     (`freq`; zero-initialised scales: identity at init)
///     P ← P ⊙ (1 + w),  w = BoundaryMining(x)      (`boundary`; w ∈ (0, 1) per patch)
///     h = TransformerEncoderLayer([c; P])          one post-norm layer, GELU
///     f̂ = h₀ / ‖h₀‖                                the class token's output, L2-normalised: the feature
///     logit = s · (cos_fake − cos_real)            (`arcmargin`), or fc(f̂) (plain linear head)
///
/// In training, `identity` adds an identity discriminator on f̂ behind gradient reversal, `slerp` adds spherical
/// interpolations of same-label features to the head's loss, and `norms` lets the backbone's normalisation affine
/// parameters learn (the backbone then runs on the tape; without it the backbone runs untaped and frozen).
///
/// Keys: `tokens.*` (the source's), `freq_adapter.*`, `boundary.*`, `encoder.*` (PyTorch `nn.TransformerEncoderLayer`'s),
/// `fc.*` or `arc_head.centres`, `identity.*`; a part switched off has no keys.
public final class CLIPAdapterNetwork: Module {
    public let config: CLIPAdapterConfig
    public let tokens: any ForgeLensTokenSource
    public let freqAdapter: FrequencyAdapter?
    public let boundary: BoundaryMining?
    public let encoder: TransformerEncoderLayer
    public let fc: Linear?
    public let arcHead: ArcMarginHead?
    public let identity: IdentityDiscriminator?

    /// A fresh trainable part on `tokens` (one layer, width `config.width`).
    public init(tokens: any ForgeLensTokenSource, config: CLIPAdapterConfig = .standard) {
        precondition(tokens.layerCount == 1, "CLIP adapter: one token layer, not \(tokens.layerCount)")
        precondition(tokens.width == config.width, "CLIP adapter: tokens of width \(tokens.width) for a \(config.width)-wide head")
        precondition(config.width % config.heads == 0, "CLIP adapter: width \(config.width) does not split among \(config.heads) heads")
        self.config = config
        self.tokens = tokens
        let parts = config.parts
        freqAdapter = parts.contains(.freq) ? FrequencyAdapter(width: config.width, channels: config.adapterChannels, cutoff: config.frequencyCutoff) : nil
        boundary = parts.contains(.boundary) ? BoundaryMining() : nil
        encoder = TransformerEncoderLayer(dModel: config.width, heads: config.heads, feedForward: config.feedForward, dropout: config.dropout,
                                          activation: .gelu)
        fc = parts.contains(.arcMargin) ? nil : Linear(config.width, 1)
        arcHead = parts.contains(.arcMargin) ? ArcMarginHead(width: config.width, scale: config.arcScale, margin: config.arcMargin) : nil
        identity = parts.contains(.identity)
            ? IdentityDiscriminator(width: config.width, hidden: config.identityHidden, slots: config.identitySlots, reversal: config.reversal) : nil
    }

    /// The adapter on EfficientNet-Lite tokens of block `layer`.
    public convenience init(backbone: EfficientNetLiteConfig, layer: Int = CLIPAdapterConfig.lite0Layer, config: CLIPAdapterConfig = .standard) {
        self.init(tokens: EfficientNetLiteTokens(backbone, layers: [layer], width: config.width), config: config)
    }

    /// The adapter on a CLIP image encoder's tokens of block `layer`.
    public convenience init(clip: CLIPVisionEncoder, layer: Int, config: CLIPAdapterConfig = .standard) {
        self.init(tokens: CLIPTokens(encoder: clip, layers: [layer], width: config.width), config: config)
    }

    /// The layer's tokens [B, 1 + g², d]. With norm tuning and the tape on, the backbone runs taped (its frozen
    /// weights and statistics as constants, its normalisation affine parameters learning); otherwise untaped.
    public func sourceTokens(_ x: Tensor) -> Tensor {
        guard config.parts.contains(.norms), GradMode.isEnabled else { return tokens.layerTokens(x)[0] }
        if let lite = tokens as? EfficientNetLiteTokens {
            let trunk = lite.trunk
            var h = trunk.convStem.withBatchNorm(trunk.bn0, activation: .relu6, x)
            for block in trunk.blocks.prefix(lite.layers[0] + 1) { h = block(h) }
            let (b, c, hw) = (h.shape[0], h.shape[1], h.shape[2] * h.shape[3])
            let patches = lite.proj[0](h.reshaped([b, c, hw]).permuted([0, 2, 1]))
            let cls = lite.classTokens.reshaped([1, 1, config.width]).expand(to: [b, 1, config.width])
            return Tensor.concatenate([cls, patches], axis: 1)
        }
        if let clip = tokens as? CLIPTokens {
            var h = clip.encoder.embeddedTokens(x)
            for block in clip.encoder.blocks.prefix(clip.layers[0] + 1) { h = block(h) }
            return clip.proj(h)
        }
        return tokens.layerTokens(x)[0]
    }

    /// The tokens after the Freq-Adapter and Boundary Mining [B, 1 + g², d], and the boundary weights [B, g²] (nil
    /// without Boundary Mining).
    public func adaptedTokens(_ x: Tensor) -> (tokens: Tensor, boundaryWeights: Tensor?) {
        let t = sourceTokens(x)
        let count = t.shape[1] - 1
        let grid = Int(Double(count).squareRoot().rounded())
        precondition(grid * grid == count, "CLIP adapter: \(count) patch tokens are not a square grid")
        var patches = t.slice(axis: 1, 1..<(1 + count))
        if let freqAdapter { patches = freqAdapter(x, patches: patches, grid: grid) }
        var weights: Tensor?
        if let boundary { (patches, weights) = boundary(x, patches: patches, grid: grid) }
        return (Tensor.concatenate([t.slice(axis: 1, 0..<1), patches], axis: 1), weights)
    }

    /// The L2-normalised class-token feature f̂: [B, 3, S, S] → [B, d].
    public func features(_ x: Tensor) -> Tensor {
        let h = encoder(adaptedTokens(x).tokens)
        return l2Normalized(h.slice(axis: 1, 0..<1).reshaped([h.shape[0], config.width]))
    }

    /// The head on features [B, d] → logits [B, 1]; with `labels` (training) the ArcMargin head adds its margin.
    public func logits(features: Tensor, labels: [Float]? = nil) -> Tensor {
        if let arcHead { return arcHead(features, labels: labels) }
        return fc!(features)
    }

    /// One logit per image at inference: [B, 1].
    public func callAsFunction(_ x: Tensor) -> Tensor { logits(features: features(x)) }

    /// Freezes the backbone, then (with `norms`) lets its normalisation affine parameters learn again: BatchNorm γ
    /// and β with the running statistics frozen (the trunk stays in evaluation mode), or CLIP's LayerNorm weights
    /// and biases.
    public func freezeBackbone() {
        tokens.freezeBackbone()
        guard config.parts.contains(.norms) else { return }
        for p in normParameters { p.requiresGrad = true }
    }

    /// The normalisation affine parameters of the backbone's layers that the tokens pass through, whether or not
    /// they train: the trunk's BatchNorms, or CLIP's `ln_pre` and the LayerNorms of blocks 0…layer (not `ln_post`).
    public var normParameters: [Tensor] {
        let used: [Module]
        if let lite = tokens as? EfficientNetLiteTokens {
            used = [lite.trunk]
        } else if let clip = tokens as? CLIPTokens {
            used = [clip.encoder.lnPre] + clip.encoder.blocks.prefix(clip.layers[0] + 1).map { $0 as Module }
        } else { return [] }
        return used.flatMap(\.namedModules).flatMap { _, m -> [Tensor] in
            if let bn = m as? BatchNorm2d { return [bn.weight, bn.bias] }
            if let ln = m as? LayerNorm { return [ln.weight, ln.bias].compactMap { $0 } }
            return []
        }
    }

    /// Dropout layers (the encoder's), for reseeding at the start of an epoch.
    public var dropouts: [Dropout] { [encoder.dropout, encoder.dropout1, encoder.dropout2] }
}
