import ForensightTensor
import ForensightNN

/// CLIP's image encoder in Forensight's layout: the timm-style blocks of `VisionTransformer` (fused `qkv`, `norm1`,
/// `norm2`, `mlp.fc1/fc2`) with CLIP's own ends.
///
/// Keys: `patch_embed.proj.weight` (no bias), `class_embedding` [width], `positional_embedding` [tokens, width],
/// `ln_pre`, `blocks.N.…`, `ln_post`, `proj.weight` [outputDim, width] (absent without a projection).
/// `CLIPCheckpoint` converts Hugging Face, open_clip and OpenAI checkpoints to these keys.
public final class CLIPVisionEncoder: Module {
    public let config: CLIPVisionConfig
    public let patchEmbed: PatchEmbed
    public let classEmbedding: Tensor, positionalEmbedding: Tensor
    public let lnPre: LayerNorm
    public let blocks: [ViTBlock]
    public let lnPost: LayerNorm
    /// The projection to the joint embedding (a bias-free linear layer), nil for an encoder without one.
    public let proj: Linear?

    /// A randomly initialised encoder (load weights with `CLIPCheckpoint` or `loadStateDict`).
    public init(_ c: CLIPVisionConfig) {
        precondition(c.imageSize % c.patchSize == 0 && c.width % c.heads == 0, "CLIPVisionEncoder: inconsistent \(c)")
        config = c
        patchEmbed = PatchEmbed(width: c.width, patchSize: c.patchSize, bias: false)
        let scale = 1 / Float(c.width).squareRoot()
        classEmbedding = ParameterInit.normal([c.width], std: scale)
        positionalEmbedding = ParameterInit.normal([c.tokens, c.width], std: scale)
        lnPre = LayerNorm(c.width, eps: c.layerNormEps)
        blocks = (0..<c.layers).map { _ in
            ViTBlock(width: c.width, heads: c.heads, mlpWidth: c.mlpWidth, layerNormEps: c.layerNormEps, activation: c.activation)
        }
        lnPost = LayerNorm(c.width, eps: c.layerNormEps)
        proj = c.outputDim.map { Linear(c.width, $0, bias: false) }
    }

    /// The tokens the first block reads: class embedding in front of the patch embeddings, positional embedding
    /// added, then `ln_pre`: [B, 3, H, W] → [B, tokens, width].
    public func embeddedTokens(_ x: Tensor) -> Tensor {
        let (b, w) = (x.shape[0], config.width)
        let patches = patchEmbed(x)
        precondition(patches.shape[1] + 1 == config.tokens, "CLIPVisionEncoder: input \(x.shape) for \(config.imageSize)-pixel images")
        let cls = classEmbedding.reshaped([1, 1, w]).expand(to: [b, 1, w])
        let tokens = Tensor.concatenate([cls, patches], axis: 1) + positionalEmbedding.reshaped([1, config.tokens, w])
        return lnPre(tokens)
    }

    /// The class token after `ln_post` and the projection (CLIP's image embedding, not normalised):
    /// [B, 3, H, W] → [B, featureWidth].
    public func features(_ x: Tensor) -> Tensor {
        var h = embeddedTokens(x)
        for block in blocks { h = block(h) }
        return pooled(h)
    }

    /// `ln_post` and the projection applied to the class token of the last block's tokens [B, tokens, width].
    public func pooled(_ tokens: Tensor) -> Tensor {
        let cls = lnPost(tokens.slice(axis: 1, 0..<1).reshaped([tokens.shape[0], config.width]))
        return proj.map { $0(cls) } ?? cls
    }

    /// The image embedding, as `features`.
    public func callAsFunction(_ x: Tensor) -> Tensor { features(x) }
}
