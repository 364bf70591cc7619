import ForensightTensor
import ForensightNN

/// Hyper-parameters of ForgeLens's trainable part (`ForgeLensNetwork`), whatever backbone gives its tokens.
public struct ForgeLensConfig: Sendable, Equatable {
    /// Width d of the tokens, the guidance module and FAFormer.
    public var width: Int
    /// Bottleneck width of the weight-shared guidance module.
    public var guidanceWidth: Int
    /// FAFormer's transformer encoder layers and their attention heads.
    public var layers: Int, heads: Int
    /// FAFormer's feed-forward width.
    public var feedForward: Int
    /// Dropout inside FAFormer and before the last linear layer.
    public var dropout: Float

    /// Every field given (see `standard`).
    public init(width: Int, guidanceWidth: Int, layers: Int, heads: Int, feedForward: Int, dropout: Float) {
        (self.width, self.guidanceWidth, self.layers, self.heads) = (width, guidanceWidth, layers, heads)
        (self.feedForward, self.dropout) = (feedForward, dropout)
    }

    /// The zoo's: d = 128, a 64-wide guidance bottleneck, two FAFormer layers of 8 heads (16 channels each), a
    /// 512-wide feed-forward block, dropout 0.1.
    public static let standard = ForgeLensConfig(width: 128, guidanceWidth: 64, layers: 2, heads: 8, feedForward: 512, dropout: 0.1)

    /// `forgelens-efficientnet-lite0`'s selected Lite0 blocks: 7, 10 and 14, the last of the 80-, 112- (both 14 × 14
    /// at 224 px) and 192-channel (7 × 7) stages.
    public static let lite0Layers = [7, 10, 14]
}

/// ForgeLens (Chen, Zhang & Niu, "ForgeLens: Data-Efficient Forgery Focus for Generalizable Forgery Image Detection",
/// ICCV 2025) on the frozen tokens of a backbone (`ForgeLensTokenSource`: EfficientNet-Lite feature maps, or a CLIP
/// ViT's blocks):
///
///     Xₗ = tokens of layer l                                 [B, 1 + Tₗ, d], class token first
///     Gₗ = WSGM(Xₗ) + eₗ                                     one guidance module for all layers; eₗ a learned layer embedding
///     Z  = FAFormer([f; G₁; …; G_L])                         f a learned focus token; 2 post-norm encoder layers
///     logit = fc(dropout([Z₀, mean of Z's patch tokens]))   the class tokens Gₗ,₀ are left out of the mean
///
/// The paper places its guidance module inside the frozen ViT's blocks and lets FAFormer read their class tokens;
/// here the module guides each selected layer's output tokens and FAFormer attends over all of them, so the backbone
/// runs untaped and the same design serves a CNN.
///
/// Keys: `tokens.*` (the source's), `guidance.*`, `layer_embedding` [L, d], `focus_token` [d], `faformer.N.*`
/// (PyTorch `nn.TransformerEncoderLayer`'s: `self_attn.in_proj_weight`, …, `linear1`, `linear2`, `norm1`, `norm2`),
/// `fc` (2d → 1).
public final class ForgeLensNetwork: Module {
    public let config: ForgeLensConfig
    public let tokens: any ForgeLensTokenSource
    public let guidance: WeightSharedGuidance
    public let layerEmbedding: Tensor
    public let focusToken: Tensor
    public let faformer: [TransformerEncoderLayer]
    public let dropout: Dropout
    public let fc: Linear

    /// A fresh trainable part on `tokens` (whose width must be `config.width`).
    public init(tokens: any ForgeLensTokenSource, config: ForgeLensConfig = .standard) {
        precondition(tokens.width == config.width, "ForgeLens: tokens of width \(tokens.width) for a \(config.width)-wide head")
        precondition(config.width % config.heads == 0, "ForgeLens: width \(config.width) does not split among \(config.heads) heads")
        self.config = config
        self.tokens = tokens
        guidance = WeightSharedGuidance(width: config.width, hidden: config.guidanceWidth)
        layerEmbedding = ParameterInit.normal([tokens.layerCount, config.width], std: 0.02)
        focusToken = ParameterInit.normal([config.width], std: 0.02)
        faformer = (0..<config.layers).map { _ in
            TransformerEncoderLayer(dModel: config.width, heads: config.heads, feedForward: config.feedForward, dropout: config.dropout,
                                    activation: .gelu)
        }
        dropout = Dropout(config.dropout)
        fc = Linear(2 * config.width, 1)
    }

    /// ForgeLens on EfficientNet-Lite tokens (`EfficientNetLiteTokens`) of blocks `layers`.
    public convenience init(backbone: EfficientNetLiteConfig, layers: [Int] = ForgeLensConfig.lite0Layers, config: ForgeLensConfig = .standard) {
        self.init(tokens: EfficientNetLiteTokens(backbone, layers: layers, width: config.width), config: config)
    }

    /// ForgeLens on a CLIP image encoder's tokens (`CLIPTokens`) of blocks `layers`.
    public convenience init(clip: CLIPVisionEncoder, layers: [Int], config: ForgeLensConfig = .standard) {
        self.init(tokens: CLIPTokens(encoder: clip, layers: layers, width: config.width), config: config)
    }

    /// The frozen backbone's outputs at the selected layers, off the tape (`ForgeLensTokenSource.frozenOutputs`):
    /// what `head(_:)` reads, and what `train --feature-cache` stores.
    public func backbone(_ x: Tensor) -> [Tensor] { tokens.frozenOutputs(x) }

    /// The guided tokens of each layer, before the layer embedding: L × [B, 1 + Tₗ, d].
    public func guidedTokens(_ x: Tensor) -> [Tensor] { guidedTokens(frozen: backbone(x)) }

    /// The guided tokens from the backbone's outputs.
    public func guidedTokens(frozen: [Tensor]) -> [Tensor] { tokens.layerTokens(frozen: frozen).map { guidance($0) } }

    /// FAFormer's output [B, 1 + Σₗ(1 + Tₗ), d] (the focus token first, then each layer's tokens) and the token counts Tₗ.
    public func encoded(_ x: Tensor) -> (tokens: Tensor, patchCounts: [Int]) { encoded(frozen: backbone(x)) }

    /// FAFormer's output from the backbone's outputs.
    public func encoded(frozen: [Tensor]) -> (tokens: Tensor, patchCounts: [Int]) {
        let guided = guidedTokens(frozen: frozen)
        let (b, d) = (guided[0].shape[0], config.width)
        var sequence = [focusToken.reshaped([1, 1, d]).expand(to: [b, 1, d])]
        for (l, g) in guided.enumerated() {
            sequence.append(g + layerEmbedding.slice(axis: 0, l..<(l + 1)).reshaped([1, 1, d]))
        }
        var h = Tensor.concatenate(sequence, axis: 1)
        for layer in faformer { h = layer(h) }
        return (h, guided.map { $0.shape[1] - 1 })
    }

    /// The focus token's output concatenated with the mean of the patch tokens' outputs: [B, 2d].
    public func features(_ x: Tensor) -> Tensor { features(frozen: backbone(x)) }

    /// The features from the backbone's outputs.
    public func features(frozen: [Tensor]) -> Tensor {
        let (h, counts) = encoded(frozen: frozen)
        var start = 1, patches: [Tensor] = []
        for count in counts {
            patches.append(h.slice(axis: 1, (start + 1)..<(start + 1 + count)))
            start += 1 + count
        }
        let focus = h.slice(axis: 1, 0..<1).reshaped([h.shape[0], config.width])
        return Tensor.concatenate([focus, Tensor.concatenate(patches, axis: 1).mean(axes: [1])], axis: 1)
    }

    /// One logit per image from the backbone's outputs (everything that trains): [N, 1].
    public func head(_ frozen: [Tensor]) -> Tensor { fc(dropout(features(frozen: frozen))) }

    /// One logit per image: `head(backbone(x))`, [N, 1].
    public func callAsFunction(_ x: Tensor) -> Tensor { head(backbone(x)) }

    /// Freezes the backbone (ForgeLens trains only what follows it).
    public func freezeBackbone() { tokens.freezeBackbone() }

    /// Dropout layers (FAFormer's and the head's), for reseeding at the start of an epoch.
    public var dropouts: [Dropout] { faformer.flatMap { [$0.dropout, $0.dropout1, $0.dropout2] } + [dropout] }
}
