import ForensightTensor

/// Multi-head attention with PyTorch `nn.MultiheadAttention` parameters (`in_proj_weight` [3E, E], `in_proj_bias`
/// [3E], `out_proj`), batch-first inputs [B, L, E].
public final class MultiHeadAttention: Module {
    public let inProjWeight: Tensor
    public let inProjBias: Tensor?
    public let outProj: Linear
    public let heads: Int

    public init(embedDim: Int, heads: Int, bias: Bool = true) {
        precondition(embedDim % heads == 0, "embedding \(embedDim) not divisible by \(heads) heads")
        let bound = (6 / Float(embedDim + 3 * embedDim)).squareRoot()   // Xavier uniform, as PyTorch
        inProjWeight = ParameterInit.uniform([3 * embedDim, embedDim], bound: bound)
        inProjBias = bias ? .zeros([3 * embedDim], requiresGrad: true) : nil
        outProj = Linear(embedDim, embedDim, bias: bias)
        self.heads = heads
    }

    /// Splits [B, L, E] into heads [B, H, L, E/H].
    func splitHeads(_ x: Tensor) -> Tensor {
        let (b, l, e) = (x.shape[0], x.shape[1], x.shape[2])
        return x.reshaped([b, l, heads, e / heads]).permuted([0, 2, 1, 3])
    }

    /// Self-attention when `key`/`value` are nil. `mask`: additive, broadcastable to [B, H, L, S].
    public func callAsFunction(_ query: Tensor, key: Tensor? = nil, value: Tensor? = nil, mask: Tensor? = nil) -> Tensor {
        let e = query.shape[2]
        let q: Tensor, k: Tensor, v: Tensor
        if key == nil && value == nil {
            // One GEMM for q, k, v, attended in place.
            let qkv = Tensor.linear(query, weight: inProjWeight, bias: inProjBias)
            return outProj(Tensor.packedSelfAttention(qkv, heads: heads, mask: mask))
        } else {
            let w = inProjWeight.split([e, e, e], axis: 0), bs = inProjBias?.split([e, e, e], axis: 0)
            q = splitHeads(.linear(query, weight: w[0], bias: bs?[0]))
            k = splitHeads(.linear(key ?? query, weight: w[1], bias: bs?[1]))
            v = splitHeads(.linear(value ?? key ?? query, weight: w[2], bias: bs?[2]))
        }
        let attended = Tensor.scaledDotProductAttention(q, k, v, mask: mask)
        let (b, l) = (query.shape[0], query.shape[1])
        return outProj(attended.permuted([0, 2, 1, 3]).reshaped([b, l, e]))
    }
}

/// PyTorch `nn.TransformerEncoderLayer` (batch-first): self-attention and a feed-forward block, each with residual,
/// dropout and LayerNorm — after the residual (`normFirst: false`, PyTorch's default) or before it.
public final class TransformerEncoderLayer: Module {
    public let selfAttn: MultiHeadAttention
    public let linear1: Linear, linear2: Linear
    public let norm1: LayerNorm, norm2: LayerNorm
    public let dropout: Dropout, dropout1: Dropout, dropout2: Dropout
    public let activation: Activation
    public let normFirst: Bool

    public init(dModel: Int, heads: Int, feedForward: Int = 2048, dropout p: Float = 0.1, activation: Activation = .relu,
                layerNormEps: Float = 1e-5, normFirst: Bool = false) {
        selfAttn = MultiHeadAttention(embedDim: dModel, heads: heads)
        linear1 = Linear(dModel, feedForward); linear2 = Linear(feedForward, dModel)
        norm1 = LayerNorm(dModel, eps: layerNormEps); norm2 = LayerNorm(dModel, eps: layerNormEps)
        dropout = Dropout(p, seed: 1); dropout1 = Dropout(p, seed: 2); dropout2 = Dropout(p, seed: 3)
        (self.activation, self.normFirst) = (activation, normFirst)
    }

    func feedForward(_ x: Tensor) -> Tensor { dropout2(linear2(dropout(activation(linear1(x))))) }

    /// `x`: [B, L, dModel]; `mask`: additive attention mask broadcastable to [B, H, L, L].
    public func callAsFunction(_ x: Tensor, mask: Tensor? = nil) -> Tensor {
        if normFirst {
            let h = x + dropout1(selfAttn(norm1(x), mask: mask))
            return h + feedForward(norm2(h))
        }
        let h = norm1(x + dropout1(selfAttn(x, mask: mask)))
        return norm2(h + feedForward(h))
    }
}
