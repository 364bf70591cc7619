import ForensightTensor
import ForensightNN

/// A ViT compiled for inference: a snapshot of a `VisionTransformer`'s or a `CLIPVisionEncoder`'s weights with every
/// linear layer (the patch embedding included) packed once (`PackedLinear`), the MLP activation (GELU or QuickGELU)
/// fused into the first MLP layer and both residual adds fused into the layers that precede them. It computes what
/// the module computes (to float rounding) and does not follow later changes to the module's weights:
/// `matches(_:)` tells whether it still holds them.
public final class VisionTransformerInference: @unchecked Sendable {
    struct Block {
        let norm1: (Tensor?, Tensor?), qkv: PackedLinear, proj: PackedLinear
        let norm2: (Tensor?, Tensor?), fc1: PackedLinear, fc2: PackedLinear
    }

    public let config: ViTConfig
    let patch: PackedLinear
    let clsToken: Tensor, posEmbed: Tensor
    /// CLIP's `ln_pre` on the embedded tokens (nil for timm's ViT).
    let preNorm: (Tensor?, Tensor?)?
    let blocks: [Block]
    let norm: (Tensor?, Tensor?)
    /// The classifier (timm) or the projection (CLIP); nil for a CLIP encoder without one.
    let head: PackedLinear?
    let activation: PointwiseKernel?
    let snapshot: ModuleSnapshot

    /// Compiles `model`'s current weights.
    public convenience init(_ model: VisionTransformer) {
        self.init(model, config: model.config, patch: model.patchEmbed.proj, clsToken: model.clsToken, posEmbed: model.posEmbed,
                  preNorm: nil, blocks: model.blocks, norm: model.norm, head: model.head)
    }

    /// Compiles a CLIP image encoder's current weights: `callAsFunction` is then its `features` (the projected class
    /// token), `features` the class token after `ln_post`.
    public convenience init(_ model: CLIPVisionEncoder) {
        self.init(model, config: model.config.vit, patch: model.patchEmbed.proj, clsToken: model.classEmbedding,
                  posEmbed: model.positionalEmbedding, preNorm: model.lnPre, blocks: model.blocks, norm: model.lnPost, head: model.proj)
    }

    private init(_ model: Module, config: ViTConfig, patch conv: Conv2d, clsToken: Tensor, posEmbed: Tensor, preNorm: LayerNorm?,
                 blocks: [ViTBlock], norm: LayerNorm, head: Linear?) {
        precondition(config.activation.kernel != nil || config.activation == .identity,
                     "VisionTransformerInference: no fused kernel for \(config.activation)")
        func copy(_ t: Tensor) -> Tensor { Tensor(t.scalars, shape: t.shape) }
        func affine(_ ln: LayerNorm) -> (Tensor?, Tensor?) { (ln.weight.map(copy), ln.bias.map(copy)) }
        func packed(_ l: Linear) -> PackedLinear { PackedLinear(weight: l.weight, bias: l.bias) }
        self.config = config
        patch = PackedLinear(weight: conv.weight.reshaped([conv.weight.shape[0], conv.weight.count / conv.weight.shape[0]]),
                             bias: conv.bias)
        (self.clsToken, self.posEmbed) = (copy(clsToken), copy(posEmbed))
        self.preNorm = preNorm.map(affine)
        self.blocks = blocks.map { b in
            Block(norm1: affine(b.norm1), qkv: packed(b.attn.qkv), proj: packed(b.attn.proj),
                  norm2: affine(b.norm2), fc1: packed(b.mlp.fc1), fc2: packed(b.mlp.fc2))
        }
        self.norm = affine(norm)
        self.head = head.map(packed)
        activation = config.activation.kernel
        snapshot = ModuleSnapshot(model)
    }

    /// Whether `model`'s weights are still the ones this was built from.
    public func matches(_ model: Module) -> Bool { snapshot.matches(model) }

    /// The class token after the final LayerNorm (`ln_post` for CLIP): [B, 3, H, W] → [B, width], as
    /// `VisionTransformer.features`.
    public func features(_ x: Tensor) -> Tensor {
        withoutGrad {
            var h = tokens(x)
            for i in blocks.indices { h = block(i, h) }
            let cls = h.slice(axis: 1, 0..<1).reshaped([x.shape[0], config.width])
            return Tensor.layerNorm(cls, weight: norm.0, bias: norm.1, eps: config.layerNormEps)
        }
    }

    /// The timm ViT's logits [B, classes], or a CLIP encoder's image embedding [B, outputDim], as the module.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        withoutGrad { head.map { $0(features(x)) } ?? features(x) }
    }

    /// The outputs of the blocks in `layers` [B, tokens, width], as the module's `Backbone.intermediates`.
    public func intermediates(_ x: Tensor, layers: Set<Int>) -> [Int: Tensor] {
        precondition(layers.allSatisfy { blocks.indices.contains($0) }, "layers are numbered 0..<\(blocks.count)")
        guard let deepest = layers.max() else { return [:] }
        return withoutGrad {
            var out: [Int: Tensor] = [:]
            var h = tokens(x)
            for i in 0...deepest {
                h = block(i, h)
                if layers.contains(i) { out[i] = h }
            }
            return out
        }
    }

    /// Block `i` on tokens [B, tokens, width].
    func block(_ i: Int, _ h: Tensor) -> Tensor {
        let (block, eps) = (blocks[i], config.layerNormEps)
        let qkv = block.qkv(Tensor.layerNorm(h, weight: block.norm1.0, bias: block.norm1.1, eps: eps))
        let attended = block.proj(Tensor.packedSelfAttention(qkv, heads: config.heads), residual: h)
        let hidden = block.fc1(Tensor.layerNorm(attended, weight: block.norm2.0, bias: block.norm2.1, eps: eps), activation: activation)
        return block.fc2(hidden, residual: attended)
    }

    /// Patch embeddings with the class token in front and the position embedding added (then CLIP's `ln_pre`):
    /// [B, tokens, width].
    func tokens(_ x: Tensor) -> Tensor {
        let (b, c, h, w, p, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], config.patchSize, config.width)
        precondition(x.rank == 4 && c * p * p == patch.inputFeatures && h % p == 0 && w % p == 0 && (h / p) * (w / p) + 1 == config.tokens,
                     "VisionTransformerInference: input \(x.shape) for \(config.imageSize)-pixel images in \(p)-pixel patches")
        let (gh, gw) = (h / p, w / p), count = gh * gw
        // Each patch as one row (channel, row, column), the order of the convolution's flattened weights.
        let patches = Tensor(uninitializedShape: [b * count, c * p * p])
        parallelItems(b * count) { row in
            let (image, index) = (row / count, row % count), (py, px) = (index / gw, index % gw)
            let dst = patches.data + row * c * p * p
            for ch in 0..<c {
                for i in 0..<p {
                    dst.advanced(by: (ch * p + i) * p).update(from: x.data + ((image * c + ch) * h + py * p + i) * w + px * p, count: p)
                }
            }
        }
        let embedded = patch(patches)
        let out = Tensor(uninitializedShape: [b, count + 1, width])
        let pos = posEmbed.data
        for image in 0..<b {
            let base = out.data + image * (count + 1) * width
            for j in 0..<width { base[j] = clsToken.data[j] + pos[j] }
            for t in 0..<count {
                let (from, to) = (embedded.data + (image * count + t) * width, base + (t + 1) * width)
                for j in 0..<width { to[j] = from[j] + pos[(t + 1) * width + j] }
            }
        }
        withExtendedLifetime((x, patches, embedded)) {}
        return preNorm.map { Tensor.layerNorm(out, weight: $0.0, bias: $0.1, eps: config.layerNormEps) } ?? out
    }
}
