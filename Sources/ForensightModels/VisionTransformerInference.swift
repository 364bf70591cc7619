import ForensightTensor
import ForensightNN

/// A ViT compiled for inference: a snapshot of a `VisionTransformer`'s weights with every linear layer (the patch
/// embedding included) packed once (`PackedLinear`), GELU fused into the first MLP layer and both residual adds fused
/// into the layers that precede them. It computes what the module computes (to float rounding) and does not follow
/// later changes to the module's weights: `matches(_:)` tells whether it still holds them.
public final class VisionTransformerInference: @unchecked Sendable {
    struct Block {
        let norm1: (Tensor?, Tensor?), qkv: PackedLinear, proj: PackedLinear
        let norm2: (Tensor?, Tensor?), fc1: PackedLinear, fc2: PackedLinear
    }

    public let config: ViTConfig
    let patch: PackedLinear
    let clsToken: Tensor, posEmbed: Tensor
    let blocks: [Block]
    let norm: (Tensor?, Tensor?)
    let head: PackedLinear
    let activation: PointwiseKernel?
    let snapshot: ModuleSnapshot

    /// Compiles `model`'s current weights.
    public init(_ model: VisionTransformer) {
        precondition(model.config.activation.kernel != nil || model.config.activation == .identity,
                     "VisionTransformerInference: no fused kernel for \(model.config.activation)")
        func copy(_ t: Tensor) -> Tensor { Tensor(t.scalars, shape: t.shape) }
        func affine(_ ln: LayerNorm) -> (Tensor?, Tensor?) { (ln.weight.map(copy), ln.bias.map(copy)) }
        func packed(_ l: Linear) -> PackedLinear { PackedLinear(weight: l.weight, bias: l.bias) }
        config = model.config
        let conv = model.patchEmbed.proj
        patch = PackedLinear(weight: conv.weight.reshaped([conv.weight.shape[0], conv.weight.count / conv.weight.shape[0]]),
                             bias: conv.bias)
        (clsToken, posEmbed) = (copy(model.clsToken), copy(model.posEmbed))
        blocks = model.blocks.map { b in
            Block(norm1: affine(b.norm1), qkv: packed(b.attn.qkv), proj: packed(b.attn.proj),
                  norm2: affine(b.norm2), fc1: packed(b.mlp.fc1), fc2: packed(b.mlp.fc2))
        }
        norm = affine(model.norm)
        head = packed(model.head)
        activation = model.config.activation.kernel
        snapshot = ModuleSnapshot(model)
    }

    /// Whether `model`'s weights are still the ones this was built from.
    public func matches(_ model: VisionTransformer) -> Bool { snapshot.matches(model) }

    /// The class token after the final LayerNorm: [B, 3, H, W] → [B, width], as `VisionTransformer.features`.
    public func features(_ x: Tensor) -> Tensor {
        withoutGrad {
            let (b, width, eps) = (x.shape[0], config.width, config.layerNormEps)
            var h = tokens(x)
            for block in blocks {
                let qkv = block.qkv(Tensor.layerNorm(h, weight: block.norm1.0, bias: block.norm1.1, eps: eps))
                h = block.proj(Tensor.packedSelfAttention(qkv, heads: config.heads), residual: h)
                let hidden = block.fc1(Tensor.layerNorm(h, weight: block.norm2.0, bias: block.norm2.1, eps: eps), activation: activation)
                h = block.fc2(hidden, residual: h)
            }
            let cls = h.slice(axis: 1, 0..<1).reshaped([b, width])
            return Tensor.layerNorm(cls, weight: norm.0, bias: norm.1, eps: eps)
        }
    }

    /// Logits [B, classes], as the module.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        withoutGrad { head(features(x)) }
    }

    /// Patch embeddings with the class token in front and the position embedding added: [B, tokens, width].
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
        return out
    }
}
