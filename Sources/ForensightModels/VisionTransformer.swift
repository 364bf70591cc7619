import ForensightTensor
import ForensightNN

/// Hyper-parameters of a Vision Transformer (Dosovitskiy et al., 2021, https://arxiv.org/abs/2010.11929).
public struct ViTConfig: Sendable, Equatable {
    public var imageSize = 224, patchSize = 16, width = 768, depth = 12, heads = 12, mlpRatio = 4
    public var classes = 1000
    public var layerNormEps: Float = 1e-6
    public var activation: Activation = .gelu

    public init(imageSize: Int = 224, patchSize: Int = 16, width: Int = 768, depth: Int = 12, heads: Int = 12,
                mlpRatio: Int = 4, classes: Int = 1000, layerNormEps: Float = 1e-6, activation: Activation = .gelu) {
        (self.imageSize, self.patchSize, self.width, self.depth, self.heads, self.mlpRatio, self.classes, self.layerNormEps, self.activation) =
            (imageSize, patchSize, width, depth, heads, mlpRatio, classes, layerNormEps, activation)
    }

    /// ViT-B/16 at 224 px (timm `vit_base_patch16_224`).
    public static let base16 = ViTConfig()
    /// Number of patch tokens plus the class token.
    public var tokens: Int { (imageSize / patchSize) * (imageSize / patchSize) + 1 }
}

/// Patch embedding: a stride-`patch` convolution, flattened to tokens (timm `patch_embed.proj`).
public final class PatchEmbed: Module {
    public let proj: Conv2d
    public convenience init(_ c: ViTConfig) { self.init(width: c.width, patchSize: c.patchSize) }
    /// A `patchSize`-pixel patch embedding to `width` channels; CLIP's has no bias.
    public init(width: Int, patchSize p: Int, bias: Bool = true) {
        proj = Conv2d(3, width, kernel: (p, p), stride: (p, p), bias: bias)
    }
    /// [B, 3, H, W] → [B, (H/p)(W/p), width].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = proj(x)
        return y.flattened(from: 2).transposed(1, 2)
    }
}

/// timm attention: fused `qkv` projection, heads split as [3, heads, dim], output `proj`.
public final class ViTAttention: Module {
    public let qkv: Linear, proj: Linear
    public let heads: Int
    public init(width: Int, heads: Int) { qkv = Linear(width, 3 * width); proj = Linear(width, width); self.heads = heads }

    public func callAsFunction(_ x: Tensor) -> Tensor { proj(Tensor.packedSelfAttention(qkv(x), heads: heads)) }
}

/// timm MLP block: fc1 → activation → fc2.
public final class ViTMLP: Module {
    public let fc1: Linear, fc2: Linear
    public let activation: Activation
    public init(width: Int, hidden: Int, activation: Activation) { fc1 = Linear(width, hidden); fc2 = Linear(hidden, width); self.activation = activation }
    public func callAsFunction(_ x: Tensor) -> Tensor { fc2(activation(fc1(x))) }
}

/// Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)).
public final class ViTBlock: Module {
    public let norm1: LayerNorm, attn: ViTAttention, norm2: LayerNorm, mlp: ViTMLP
    public convenience init(_ c: ViTConfig) {
        self.init(width: c.width, heads: c.heads, mlpWidth: c.width * c.mlpRatio, layerNormEps: c.layerNormEps, activation: c.activation)
    }
    /// A block of any width: timm's (ε 1e-6, GELU) and CLIP's (ε 1e-5, QuickGELU or GELU) differ only in these.
    public init(width: Int, heads: Int, mlpWidth: Int, layerNormEps: Float, activation: Activation) {
        norm1 = LayerNorm(width, eps: layerNormEps); attn = ViTAttention(width: width, heads: heads)
        norm2 = LayerNorm(width, eps: layerNormEps)
        mlp = ViTMLP(width: width, hidden: mlpWidth, activation: activation)
    }
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let h = x + attn(norm1(x))
        return h + mlp(norm2(h))
    }
}

/// Vision Transformer with timm `state_dict` keys (`patch_embed.proj`, `cls_token`, `pos_embed`, `blocks.N.…`, `norm`,
/// `head`).
public final class VisionTransformer: Module {
    public let config: ViTConfig
    public let patchEmbed: PatchEmbed
    public let clsToken: Tensor, posEmbed: Tensor
    public let blocks: [ViTBlock]
    public let norm: LayerNorm
    public let head: Linear

    public init(_ c: ViTConfig = .base16) {
        config = c
        patchEmbed = PatchEmbed(c)
        clsToken = Tensor.zeros([1, 1, c.width], requiresGrad: true)
        posEmbed = ParameterInit.normal([1, c.tokens, c.width], std: 0.02)
        blocks = (0..<c.depth).map { _ in ViTBlock(c) }
        norm = LayerNorm(c.width, eps: c.layerNormEps)
        head = Linear(c.width, c.classes)
    }

    /// Class-token features after the final norm: [B, 3, H, W] → [B, width].
    public func features(_ x: Tensor) -> Tensor {
        var h = embeddedTokens(x)
        for block in blocks { h = block(h) }
        return norm(h).slice(axis: 1, 0..<1).reshaped([x.shape[0], config.width])
    }

    /// Patch tokens with the class token in front and the position embedding added: [B, 3, H, W] → [B, tokens, width].
    public func embeddedTokens(_ x: Tensor) -> Tensor {
        let tokens = patchEmbed(x)
        return Tensor.concatenate([clsToken.expand(to: [x.shape[0], 1, config.width]), tokens], axis: 1) + posEmbed
    }

    /// Logits [B, classes].
    public func callAsFunction(_ x: Tensor) -> Tensor { head(features(x)) }
}
