import ForensightTensor
import ForensightNN

/// Where ForgeLens reads its frozen tokens: one token sequence per selected backbone layer, each [B, 1 + Tₗ, d] with
/// a class token first, already at the head's width d. The backbone is frozen; only what the source adds to it (the
/// projections, a CNN's class tokens) trains. The two halves are apart (`frozenOutputs`, then
/// `layerTokens(frozen:)`), so the frozen half's outputs can be computed once and cached (`train --feature-cache`).
public protocol ForgeLensTokenSource: Module {
    /// Width d of the tokens.
    var width: Int { get }
    /// Number of token sequences (selected layers).
    var layerCount: Int { get }
    /// The frozen backbone's outputs at the selected layers, shallowest first, off the tape: [B, 3, S, S] → L tensors
    /// (a CNN's maps [B, Cₗ, H, W], a ViT's block outputs [B, 1 + T, width]).
    func frozenOutputs(_ x: Tensor) -> [Tensor]
    /// The tokens of each selected layer from the frozen outputs, on the tape: L × [B, 1 + Tₗ, d].
    func layerTokens(frozen: [Tensor]) -> [Tensor]
    /// The tokens of each selected layer, shallowest first: [B, 3, S, S] → L × [B, 1 + Tₗ, d]; by default
    /// `layerTokens(frozen: frozenOutputs(x))`.
    func layerTokens(_ x: Tensor) -> [Tensor]
    /// The frozen part (weights and statistics), whose state dict identifies cached outputs.
    var frozenModule: Module { get }
    /// Freezes the backbone (weights and statistics): ForgeLens never trains it.
    func freezeBackbone()
}

extension ForgeLensTokenSource {
    public func layerTokens(_ x: Tensor) -> [Tensor] { layerTokens(frozen: frozenOutputs(x)) }
}

/// Frozen EfficientNet-Lite tokens: each selected MBConv block's feature map [B, Cₗ, H, W] flattened to H·W tokens
/// (row-major), projected to d by a linear layer of its own (`proj.N`), with a learned class token of its own
/// (`class_tokens[N]`) prepended.
///
/// Keys: `trunk.*` (EfficientNet-Lite's `_conv_stem`, `_bn0`, `_blocks.N.…`), `proj.N.{weight,bias}`, `class_tokens`
/// [L, d].
public final class EfficientNetLiteTokens: Module, ForgeLensTokenSource {
    public let trunk: EfficientNetLiteTrunk
    public let proj: [Linear]
    public let classTokens: Tensor
    /// The selected block indices, ascending.
    public let layers: [Int]
    public let width: Int

    /// Tokens of blocks `layers` (ascending indices into `config`'s MBConv blocks) at width `width`.
    public init(_ config: EfficientNetLiteConfig, layers: [Int], width: Int) {
        precondition(!layers.isEmpty && layers == layers.sorted() && Set(layers).count == layers.count && layers[0] >= 0,
                     "ForgeLens layers \(layers): ascending, distinct block indices")
        let trunk = EfficientNetLiteTrunk(config, blockCount: layers.last! + 1)
        precondition(trunk.blocks.count == layers.last! + 1, "ForgeLens layers \(layers): the backbone has \(trunk.blocks.count) blocks")
        self.trunk = trunk
        proj = layers.map { Linear(trunk.blocks[$0].projectConv.weight.shape[0], width) }
        classTokens = ParameterInit.normal([layers.count, width], std: 0.02)
        (self.layers, self.width) = (layers, width)
    }

    public var layerCount: Int { layers.count }

    /// The selected blocks' maps [B, Cₗ, H, W], without the tape (the backbone is frozen).
    public func frozenOutputs(_ x: Tensor) -> [Tensor] { maps(x) }

    /// The selected blocks' maps [B, Cₗ, H, W], without the tape (the backbone is frozen).
    public func maps(_ x: Tensor) -> [Tensor] {
        withoutGrad {
            var h = trunk.convStem.withBatchNorm(trunk.bn0, activation: .relu6, x)
            var out: [Tensor] = []
            for (i, block) in trunk.blocks.enumerated() {
                h = block(h)
                if layers.contains(i) { out.append(h) }
            }
            return out
        }
    }

    /// Each map flattened to tokens, projected, behind its class token.
    public func layerTokens(frozen maps: [Tensor]) -> [Tensor] {
        zip(maps, proj).enumerated().map { i, pair in
            let (map, linear) = pair
            let (b, c, hw) = (map.shape[0], map.shape[1], map.shape[2] * map.shape[3])
            let patches = linear(map.reshaped([b, c, hw]).permuted([0, 2, 1]))
            let cls = classTokens.slice(axis: 0, i..<(i + 1)).reshaped([1, 1, width]).expand(to: [b, 1, width])
            return Tensor.concatenate([cls, patches], axis: 1)
        }
    }

    public var frozenModule: Module { trunk }

    public func freezeBackbone() { trunk.freezeStem(blocks: trunk.blocks.count) }
}

/// Frozen CLIP ViT tokens: the outputs of the selected transformer blocks [B, 1 + g², width] (CLIP's class token
/// first, before `ln_post`), projected to d by one shared linear layer (`proj`).
///
/// Keys: `encoder.*` (`CLIPVisionEncoder`'s), `proj.{weight,bias}`.
public final class CLIPTokens: Module, ForgeLensTokenSource {
    public let encoder: CLIPVisionEncoder
    public let proj: Linear
    /// The selected block indices, ascending.
    public let layers: [Int]
    public let width: Int

    /// Tokens of blocks `layers` of `encoder` at width `width`.
    public init(encoder: CLIPVisionEncoder, layers: [Int], width: Int) {
        precondition(!layers.isEmpty && layers == layers.sorted() && Set(layers).count == layers.count
                     && layers.allSatisfy { (0..<encoder.blocks.count).contains($0) },
                     "ForgeLens layers \(layers): ascending, distinct blocks of a \(encoder.blocks.count)-block encoder")
        self.encoder = encoder
        proj = Linear(encoder.config.width, width)
        (self.layers, self.width) = (layers, width)
    }

    public var layerCount: Int { layers.count }

    /// The selected blocks' outputs [B, 1 + g², width], without the tape.
    public func frozenOutputs(_ x: Tensor) -> [Tensor] {
        let blocks = withoutGrad { encoder.intermediates(x, layers: Set(layers)) }
        return layers.map { blocks[$0]! }
    }

    /// Each block's output through the shared projection.
    public func layerTokens(frozen outputs: [Tensor]) -> [Tensor] { outputs.map { proj($0) } }

    public var frozenModule: Module { encoder }

    public func freezeBackbone() {
        encoder.eval()
        for (_, p) in encoder.namedParameters() { p.requiresGrad = false }
    }
}

/// ForgeLens's weight-shared guidance module (WSGM): one residual bottleneck MLP with LayerNorm,
/// g(t) = t + up(GELU(down(LN(t)))), whose single set of weights guides every selected layer's tokens toward what
/// tells forgeries apart. `up` starts at zero, so a fresh module passes the tokens through.
///
/// Keys: `norm`, `down` (d → hidden), `up` (hidden → d).
public final class WeightSharedGuidance: Module {
    public let norm: LayerNorm
    public let down: Linear, up: Linear

    /// A module on `width`-wide tokens with a `hidden`-wide bottleneck.
    public init(width: Int, hidden: Int) {
        norm = LayerNorm(width)
        down = Linear(width, hidden)
        up = Linear(hidden, width)
        for t in [up.weight, up.bias!] { for i in 0..<t.count { t.data[i] = 0 } }
    }

    /// `tokens`: [B, T, d] → [B, T, d].
    public func callAsFunction(_ tokens: Tensor) -> Tensor { tokens + up(down(norm(tokens)).gelu()) }
}
