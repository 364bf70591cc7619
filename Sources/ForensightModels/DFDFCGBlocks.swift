import Foundation
import ForensightTensor
import ForensightNN

/// DFD-FCG's query decoder for one encoder layer: `count` learnable queries cross-attend to that layer's tokens (keys
/// and values) in one post-norm transformer decoder layer without self-attention:
///
///     h = norm1(q + dropout1(cross_attn(q, X, X)))
///     Q = norm2(h + dropout2(linear2(dropout(GELU(linear1(h))))))
///
/// Keys: `queries` [count, d], `cross_attn.{in_proj_weight, in_proj_bias, out_proj.*}` (PyTorch
/// `nn.MultiheadAttention`'s), `linear1`, `linear2`, `norm1`, `norm2`.
public final class QueryDecoder: Module {
    public let queries: Tensor
    public let crossAttn: MultiHeadAttention
    public let linear1: Linear, linear2: Linear
    public let norm1: LayerNorm, norm2: LayerNorm
    public let dropout: Dropout, dropout1: Dropout, dropout2: Dropout

    /// `count` queries of width `width`, `heads` attention heads, a `feedForward`-wide block.
    public init(count: Int, width: Int, heads: Int, feedForward: Int, dropout p: Float) {
        queries = ParameterInit.normal([count, width], std: 0.02)
        crossAttn = MultiHeadAttention(embedDim: width, heads: heads)
        linear1 = Linear(width, feedForward); linear2 = Linear(feedForward, width)
        norm1 = LayerNorm(width); norm2 = LayerNorm(width)
        dropout = Dropout(p, seed: 1); dropout1 = Dropout(p, seed: 2); dropout2 = Dropout(p, seed: 3)
    }

    /// `tokens`: [N, S, d] → the decoded queries [N, count, d].
    public func callAsFunction(_ tokens: Tensor) -> Tensor {
        let (n, count, d) = (tokens.shape[0], queries.shape[0], queries.shape[1])
        let q = queries.reshaped([1, count, d]).expand(to: [n, count, d])
        let h = norm1(q + dropout1(crossAttn(q, key: tokens, value: tokens)))
        return norm2(h + dropout2(linear2(dropout(linear1(h).gelu()))))
    }

    /// The dropout layers, for reseeding.
    public var dropouts: [Dropout] { [dropout, dropout1, dropout2] }
}

/// DFD-FCG's temporal module on per-frame features [B, T, d]:
///
///     h = norm1(x + e[0..<T] + attn(x + e[0..<T]))       4-head self-attention over time; e a learned time embedding
///     z = norm2(h + GELU(conv(h)))                        conv: a 1-D convolution over time, kernel 5, padding 2
///
/// Keys: `time_embedding` [maxFrames, d], `attn.*` (`nn.MultiheadAttention`'s), `norm1`, `conv.{weight [d, d, 5],
/// bias}` (`nn.Conv1d`'s), `norm2`.
public final class TemporalModule: Module {
    public let timeEmbedding: Tensor
    public let attn: MultiHeadAttention
    public let norm1: LayerNorm
    public let conv: TemporalConvolution
    public let norm2: LayerNorm

    /// A module for clips of up to `maxFrames` frames of `width`-wide features.
    public init(width: Int, heads: Int, maxFrames: Int, kernel: Int = 5) {
        timeEmbedding = ParameterInit.normal([maxFrames, width], std: 0.02)
        attn = MultiHeadAttention(embedDim: width, heads: heads)
        norm1 = LayerNorm(width)
        conv = TemporalConvolution(width: width, kernel: kernel)
        norm2 = LayerNorm(width)
    }

    /// `x`: [B, T, d] (T ≤ maxFrames) → temporal features [B, T, d].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let (b, t, d) = (x.shape[0], x.shape[1], x.shape[2])
        precondition(t <= timeEmbedding.shape[0], "DFD-FCG: a clip of \(t) frames for a module of \(timeEmbedding.shape[0])")
        let e = x + timeEmbedding.slice(axis: 0, 0..<t).reshaped([1, t, d]).expand(to: [b, t, d])
        let h = norm1(e + attn(e))
        return norm2(h + conv(h).gelu())
    }
}

/// PyTorch `nn.Conv1d(d, d, kernel, padding: kernel / 2)` over the time axis of [B, T, d] features (run as a 2-D
/// convolution of a [B, d, 1, T] map). Keys: `weight` [d, d, kernel], `bias` [d].
public final class TemporalConvolution: Module {
    public let weight: Tensor
    public let bias: Tensor

    /// A `width` → `width` convolution of odd `kernel`.
    public init(width: Int, kernel: Int) {
        precondition(kernel % 2 == 1, "an odd kernel keeps T")
        let bound = 1 / Float(width * kernel).squareRoot()   // PyTorch's default
        weight = ParameterInit.uniform([width, width, kernel], bound: bound)
        bias = ParameterInit.uniform([width], bound: bound)
    }

    /// [B, T, d] → [B, T, d].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let (b, t, d, k) = (x.shape[0], x.shape[1], x.shape[2], weight.shape[2])
        let map = x.permuted([0, 2, 1]).reshaped([b, d, 1, t])
        let y = Tensor.conv2d(map, weight: weight.reshaped([d, d, 1, k]), bias: bias, padding: .symmetric(0, k / 2))
        return y.reshaped([b, d, t]).permuted([0, 2, 1])
    }
}

/// The four facial components of DFD-FCG's guidance, in query order: query i is aligned with region i.
public enum FacialComponent: Int, CaseIterable, Sendable {
    case eyes, nose, mouth, skin
}

/// Region masks of the four facial components on a token grid, from a crop's five landmarks (left eye, right eye,
/// nose, left and right mouth corners, in the crop's normalised coordinates 0…1).
///
/// With D the inter-ocular distance: eyes = two discs of radius 0.35·D around the eye points; nose = a disc of radius
/// 0.3·D around the nose point; mouth = a disc of radius max(0.35·D, 0.6 × half the mouth width) around the midpoint
/// of the mouth corners; skin = the face box (the landmarks' bounding box grown by 0.55·D left and right, 0.6·D up
/// and 0.6·D down, clipped to the crop) minus the other three. A cell (its centre) inside several discs belongs to
/// the one whose centre is nearest relative to its radius. A component that covers no cell centre (a coarse grid)
/// takes the one cell holding its centre point (for skin: the cell of the box's top-centre, the forehead), which it
/// may then share with another component.
public enum FacialRegions {
    /// Masks [4, h·w] (row-major cells, 1 inside) for landmarks `points` (five (x, y) pairs, normalised).
    public static func masks(points: [(x: Float, y: Float)], grid h: Int, _ w: Int) -> [Float] {
        precondition(points.count == 5, "DFD-FCG regions need the five landmarks")
        let (le, re, nose) = (points[0], points[1], points[2])
        let mouth = (x: (points[3].x + points[4].x) / 2, y: (points[3].y + points[4].y) / 2)
        let iod = max(1e-3, hypot(re.x - le.x, re.y - le.y))
        let halfMouth = hypot(points[4].x - points[3].x, points[4].y - points[3].y) / 2
        let discs: [(component: Int, x: Float, y: Float, r: Float)] = [
            (0, le.x, le.y, 0.35 * iod), (0, re.x, re.y, 0.35 * iod), (1, nose.x, nose.y, 0.3 * iod),
            (2, mouth.x, mouth.y, max(0.35 * iod, 0.6 * halfMouth)),
        ]
        let xs = points.map(\.x), ys = points.map(\.y)
        let box = (x0: max(0, xs.min()! - 0.55 * iod), x1: min(1, xs.max()! + 0.55 * iod),
                   y0: max(0, ys.min()! - 0.6 * iod), y1: min(1, ys.max()! + 0.6 * iod))
        var out = [Float](repeating: 0, count: 4 * h * w)
        func cell(_ x: Float, _ y: Float) -> Int {
            min(h - 1, max(0, Int(y * Float(h)))) * w + min(w - 1, max(0, Int(x * Float(w))))
        }
        for i in 0..<h {
            for j in 0..<w {
                let (cx, cy) = ((Float(j) + 0.5) / Float(w), (Float(i) + 0.5) / Float(h))
                var best: (component: Int, distance: Float)? = nil
                for disc in discs {
                    let rel = hypot(cx - disc.x, cy - disc.y) / disc.r
                    if rel < 1, rel < (best?.distance ?? .infinity) { best = (disc.component, rel) }
                }
                if let best { out[best.component * h * w + i * w + j] = 1 }
                else if cx >= box.x0, cx <= box.x1, cy >= box.y0, cy <= box.y1 { out[3 * h * w + i * w + j] = 1 }
            }
        }
        let centres = [(x: (le.x + re.x) / 2, y: (le.y + re.y) / 2), (x: nose.x, y: nose.y), mouth, (x: (box.x0 + box.x1) / 2, y: box.y0)]
        for c in 0..<4 where !out[(c * h * w)..<((c + 1) * h * w)].contains(1) {
            out[c * h * w + cell(centres[c].x, centres[c].y)] = 1
        }
        return out
    }
}

/// DFD-FCG's facial-component guidance for one layer: InfoNCE between its decoded queries and the region embeddings.
///
/// For each frame n, region embedding rᵢ = the mean of the layer's patch tokens (the class token left out) under mask
/// i; with q̂, r̂ the L2-normalised query and region embeddings (x / √(‖x‖² + 10⁻¹²)), the logits are
/// sᵢⱼ = q̂ᵢ · r̂ⱼ / τ, and the loss is the cross-entropy of each query against its own region (positive j = i; the
/// other three regions of the same frame are the negatives), averaged over the 4 queries and the N frames. Gradients
/// reach both the queries and the region embeddings (through the trainable token projection).
///
/// - Parameters:
///   - queries: [N, 4, d]; tokens: [N, 1 + P, d] (class token first); masks: [N, 4, P] constants.
public func facialComponentInfoNCE(queries: Tensor, tokens: Tensor, masks: Tensor, temperature: Float = 0.07) -> Tensor {
    let (n, r) = (queries.shape[0], queries.shape[1])
    let p = tokens.shape[1] - 1
    precondition(masks.shape == [n, r, p], "DFD-FCG guidance: masks \(masks.shape) for \(n) frames, \(r) queries, \(p) patches")
    let counts = masks.sum(axes: [2], keepDims: true).clamped(min: 1)
    let regions = Tensor.matmul(masks, tokens.slice(axis: 1, 1..<(p + 1))) / counts
    func normalised(_ x: Tensor) -> Tensor { x / (x.squared().sum(axes: [2], keepDims: true) + 1e-12).sqrt() }
    let logits = Tensor.matmul(normalised(queries), normalised(regions), transposeB: true) * (1 / temperature)
    return Tensor.crossEntropy(logits.reshaped([n * r, r]), targets: (0..<(n * r)).map { $0 % r })
}
