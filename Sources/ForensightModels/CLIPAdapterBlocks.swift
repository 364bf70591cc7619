import Foundation
import ForensightTensor
import ForensightNN

/// The high-frequency views of an input crop that the CLIP adapter's Freq-Adapter reads. They hold no weights and run
/// off the autograd tape (the crop needs no gradient).
public enum HighFrequencyViews {
    /// The FFT high-pass of each channel: Re(IDFT₂(DFT₂(x) ⊙ M)) with M zero on the centred (fftshifted) square of
    /// signed frequencies |u| ≤ r, |v| ≤ r and one elsewhere: [B, C, H, W] → [B, C, H, W]. Uses the taped `fft2` /
    /// `ifft2` of M2TR's `FrequencyFilter` (`torch.fft` conventions).
    public static func fftHighPass(_ x: Tensor, radius r: Int) -> Tensor {
        let (h, w) = (x.shape[2], x.shape[3])
        func signed(_ k: Int, _ n: Int) -> Int { k <= (n - 1) / 2 ? k : k - n }
        var mask = [Float](repeating: 1, count: h * w)
        for u in 0..<h where abs(signed(u, h)) <= r {
            for v in 0..<w where abs(signed(v, w)) <= r { mask[u * w + v] = 0 }
        }
        return withoutGrad {
            let m = Tensor(mask, shape: [h, w, 1])
            return (x.asComplex().fft2() * m).ifft2().realPart
        }
    }

    /// One level of the orthonormal Haar DWT, keeping the three detail bands: with a = x[2i, 2j], b = x[2i, 2j+1],
    /// c = x[2i+1, 2j], d = x[2i+1, 2j+1], LH = (a + b − c − d) / 2, HL = (a − b + c − d) / 2, HH = (a − b − c + d) / 2.
    /// [B, C, H, W] (H, W even) → [B, 3C, H/2, W/2], channels [LH of every channel, HL of every channel, HH of every
    /// channel].
    public static func haarDetails(_ x: Tensor) -> Tensor {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        precondition(h % 2 == 0 && w % 2 == 0, "Haar DWT of a \(h)×\(w) map: sides must be even")
        let (oh, ow) = (h / 2, w / 2)
        let src = x.detached().scalars
        var out = [Float](repeating: 0, count: b * 3 * c * oh * ow)
        for n in 0..<b {
            for ch in 0..<c {
                let plane = (n * c + ch) * h * w
                for i in 0..<oh {
                    for j in 0..<ow {
                        let p = plane + 2 * i * w + 2 * j
                        let (a, bb, cc, d) = (src[p], src[p + 1], src[p + w], src[p + w + 1])
                        let bands = [(a + bb - cc - d) / 2, (a - bb + cc - d) / 2, (a - bb - cc + d) / 2]
                        for (k, v) in bands.enumerated() { out[((n * 3 * c + k * c + ch) * oh + i) * ow + j] = v }
                    }
                }
            }
        }
        return Tensor(out, shape: [b, 3 * c, oh, ow])
    }

    /// Boundary cues of a crop's luma Y = 0.299 R + 0.587 G + 0.114 B (on the network input): the high-pass residual
    /// |Y − box₃(Y)| and the Sobel gradient magnitude √(Gx² + Gy² + 10⁻⁶), both with zero padding of one pixel:
    /// [B, 3, H, W] → [B, 2, H, W].
    public static func boundaryCues(_ x: Tensor) -> Tensor {
        withoutGrad {
            let (b, h, w) = (x.shape[0], x.shape[2], x.shape[3])
            let luma = Tensor.conv2d(x, weight: Tensor([0.299, 0.587, 0.114], shape: [1, 3, 1, 1]))
            let box = Tensor.conv2d(luma, weight: Tensor.full([1, 1, 3, 3], 1.0 / 9), padding: .symmetric(1, 1))
            let sobel = Tensor([-1, 0, 1, -2, 0, 2, -1, 0, 1, -1, -2, -1, 0, 0, 0, 1, 2, 1], shape: [2, 1, 3, 3])
            let g = Tensor.conv2d(luma, weight: sobel, padding: .symmetric(1, 1))
            let magnitude = (g.squared().sum(axes: [1], keepDims: true) + 1e-6).sqrt()
            let residual = (luma - box).abs()
            return Tensor.concatenate([residual, magnitude], axis: 1).reshaped([b, 2, h, w])
        }
    }
}

/// The Freq-Adapter: two parallel high-frequency branches on the input crop, each a small convolutional stem pooled
/// to the token grid and projected to the token width, added to the patch tokens through a learned per-channel scale
/// that starts at zero (so a fresh adapter leaves the tokens as they are):
///
///     fft  = proj_f(pool_g(GELU(conv3×3/2(FFT high-pass(x)))))       radius r = ⌊cutoff · S⌋
///     dwt  = proj_d(pool_g(GELU(conv3×3/1(Haar LH, HL, HH(x)))))      the bands are already at S/2
///     out  = tokens + fft ⊙ fft_scale + dwt ⊙ dwt_scale
///
/// Keys: `fft_stem`, `fft_proj`, `dwt_stem`, `dwt_proj`, `fft_scale` [d], `dwt_scale` [d].
public final class FrequencyAdapter: Module {
    public let fftStem: Conv2d, fftProj: Linear
    public let dwtStem: Conv2d, dwtProj: Linear
    public let fftScale: Tensor, dwtScale: Tensor
    /// Half-side of the zeroed low-frequency square, as a fraction of the input side.
    public let cutoff: Float

    /// An adapter for `width`-wide tokens with `channels`-channel stems.
    public init(width: Int, channels: Int, cutoff: Float) {
        fftStem = Conv2d(3, channels, kernel: 3, stride: 2, padding: 1)
        fftProj = Linear(channels, width)
        dwtStem = Conv2d(9, channels, kernel: 3, stride: 1, padding: 1)
        dwtProj = Linear(channels, width)
        fftScale = .zeros([width], requiresGrad: true)
        dwtScale = .zeros([width], requiresGrad: true)
        self.cutoff = cutoff
    }

    /// A stem's map pooled to the `grid` × `grid` token grid as row-major tokens [B, grid², c].
    static func pooledTokens(_ map: Tensor, grid: Int) -> Tensor {
        let pooled = map.adaptiveAvgPool2d((grid, grid))
        return pooled.reshaped([pooled.shape[0], pooled.shape[1], grid * grid]).permuted([0, 2, 1])
    }

    /// The two branches' tokens before their scales: ([B, g², d], [B, g², d]).
    public func branchTokens(_ x: Tensor, grid: Int) -> (fft: Tensor, dwt: Tensor) {
        let radius = Int(cutoff * Float(x.shape[2]))
        let fft = fftProj(Self.pooledTokens(fftStem(HighFrequencyViews.fftHighPass(x, radius: radius)).gelu(), grid: grid))
        let dwt = dwtProj(Self.pooledTokens(dwtStem(HighFrequencyViews.haarDetails(x)).gelu(), grid: grid))
        return (fft, dwt)
    }

    /// `patches` [B, g², d] with the adapter's tokens fused in.
    public func callAsFunction(_ x: Tensor, patches: Tensor, grid: Int) -> Tensor {
        let (fft, dwt) = branchTokens(x, grid: grid)
        return patches + fft * fftScale + dwt * dwtScale
    }
}

/// Boundary Mining: the crop's boundary cues (`HighFrequencyViews.boundaryCues`) average-pooled to the token grid,
/// a 1 × 1 convolution (2 → 1) and a sigmoid give each patch token a weight w ∈ (0, 1); tokens are scaled by (1 + w),
/// so patches on blending boundaries and edges count up to twice as much and none is switched off.
///
/// Keys: `gate.{weight,bias}`.
public final class BoundaryMining: Module {
    public let gate: Conv2d

    public override init() { gate = Conv2d(2, 1, kernel: 1) }

    /// The per-token weights w: [B, 3, S, S] → [B, g²].
    public func weights(_ x: Tensor, grid: Int) -> Tensor {
        let cues = HighFrequencyViews.boundaryCues(x).adaptiveAvgPool2d((grid, grid))
        return gate(cues).sigmoid().reshaped([x.shape[0], grid * grid])
    }

    /// `patches` [B, g², d] scaled by (1 + w) and the weights w [B, g²].
    public func callAsFunction(_ x: Tensor, patches: Tensor, grid: Int) -> (tokens: Tensor, weights: Tensor) {
        let w = weights(x, grid: grid)
        return (patches * (w.reshaped([w.shape[0], w.shape[1], 1]) + 1), w)
    }
}

/// An additive angular margin (ArcFace) head for real / fake on L2-normalised features: two learned class centres
/// (`centres` [2, d], row 0 real, row 1 fake), cosᵢ = f̂ · ĉᵢ, and the logit s · (cos_fake − cos_real). In training
/// the true class's cosine becomes cos(θ + m) (where θ + m would pass π, cos θ − m · sin(π − m) instead, as ArcFace),
/// so the binary cross-entropy on that logit is exactly the two-class softmax cross-entropy with the margin.
///
/// Keys: `centres`.
public final class ArcMarginHead: Module {
    public let centres: Tensor
    public let scale: Float, margin: Float

    /// A head on `width`-wide features with scale s and margin m (radians).
    public init(width: Int, scale: Float, margin: Float) {
        centres = ParameterInit.normal([2, width], std: 1 / Float(width).squareRoot())
        (self.scale, self.margin) = (scale, margin)
    }

    /// Cosines to the real and fake centres: [B, d] (normalised) → [B, 2].
    public func cosines(_ features: Tensor) -> Tensor {
        Tensor.matmul(features, l2Normalized(centres), transposeB: true)
    }

    /// s · (cos_fake − cos_real): [B, 1]; with `labels` (0 real, 1 fake, one per row) the margin is added to each row's
    /// true class first.
    public func callAsFunction(_ features: Tensor, labels: [Float]? = nil) -> Tensor {
        var cos = cosines(features)
        if let labels {
            precondition(labels.count == features.shape[0], "ArcMargin: \(labels.count) labels for \(features.shape[0]) rows")
            let (cm, sm) = (Foundation.cos(margin), Foundation.sin(margin))
            let (threshold, fallback) = (Foundation.cos(Float.pi - margin), Foundation.sin(Float.pi - margin) * margin)
            let sine = (1 - cos.squared()).clamped(min: 1e-6).sqrt()
            let phi = cos * cm - sine * sm
            let beyond = Tensor(cos.scalars.map { $0 > threshold ? 1 : 0 }, shape: cos.shape)
            let marginal = phi * beyond + (cos - fallback) * (1 - beyond)
            let truth = Tensor(labels.flatMap { $0 > 0.5 ? [Float(0), 1] : [1, 0] }, shape: cos.shape)
            cos = cos + truth * (marginal - cos)
        }
        let parts = cos.split([1, 1], axis: 1)
        return (parts[1] - parts[0]) * scale
    }
}

/// The identity discriminator of identity-invariant learning: an MLP (d → hidden → ReLU → K identity slots) on the
/// feature behind a gradient-reversal layer (forward identity, backward −α · grad), so minimising its cross-entropy
/// trains the discriminator to name the person while pushing the feature to forget who it is.
///
/// The cross-entropy runs over the batch's own people only: the logits of the slots of the distinct known identities
/// in the batch (identity number mod K), in order of first appearance; rows whose identity is unknown are left out,
/// and a batch with fewer than two known people has no term.
///
/// Keys: `hidden`, `out`.
public final class IdentityDiscriminator: Module {
    public let hidden: Linear, out: Linear
    /// α of the gradient reversal.
    public let reversal: Float

    /// A discriminator on `width`-wide features with `slots` identity classes.
    public init(width: Int, hidden: Int, slots: Int, reversal: Float) {
        self.hidden = Linear(width, hidden)
        out = Linear(hidden, slots)
        self.reversal = reversal
    }

    /// Identity slots: K.
    public var slots: Int { out.weight.shape[0] }

    /// The cross-entropy over the batch's people, or nil when fewer than two distinct known identities are in it.
    public func loss(_ features: Tensor, identities: [Int?]) -> Tensor? {
        precondition(identities.count == features.shape[0], "identity loss: \(identities.count) ids for \(features.shape[0]) rows")
        let rows = identities.indices.filter { identities[$0] != nil }
        var classes: [Int] = []
        for r in rows where !classes.contains(identities[r]! % slots) { classes.append(identities[r]! % slots) }
        guard classes.count >= 2 else { return nil }
        let logits = out(hidden(features.gradientReversal(lambda: reversal)).relu())
        let picked = logits.gather(rows, axis: 0).gather(classes, axis: 1)
        return Tensor.crossEntropy(picked, targets: rows.map { classes.firstIndex(of: identities[$0]! % slots)! })
    }
}

/// Rows scaled to unit L2 norm: x / √(Σ x² + 10⁻¹²) over the last axis of a [B, d] tensor.
public func l2Normalized(_ x: Tensor) -> Tensor { x / (x.squared().sum(axes: [x.rank - 1], keepDims: true) + 1e-12).sqrt() }

/// Slerp feature augmentation: for each row i whose label has at least two rows, a partner j ≠ i of the same label
/// and t ~ U(0, 1) drawn from `random` (partner first, then t, row by row), and the spherical interpolation
/// slerp(f̂ᵢ, f̂ⱼ; t) = sin((1 − t)Ω)/sin Ω · f̂ᵢ + sin(tΩ)/sin Ω · f̂ⱼ, Ω = arccos(f̂ᵢ · f̂ⱼ) (linear interpolation
/// when Ω < 10⁻⁴). The two coefficients are computed off the tape; the gradient flows to both features through them
/// as constants. Returns the new rows [M, d] and their labels (empty when no label has two rows).
public func slerpAugmented(_ features: Tensor, labels: [Float], using random: inout SeededRandom) -> (features: Tensor, labels: [Float])? {
    precondition(labels.count == features.shape[0], "slerp: \(labels.count) labels for \(features.shape[0]) rows")
    var (first, second, weightsA, weightsB, outLabels): ([Int], [Int], [Float], [Float], [Float]) = ([], [], [], [], [])
    let d = features.shape[1]
    let values = features.detached().scalars
    for (i, label) in labels.enumerated() {
        let group = labels.indices.filter { labels[$0] == label && $0 != i }
        guard !group.isEmpty else { continue }
        let j = group[min(group.count - 1, Int(random.nextFloat() * Float(group.count)))]
        let t = random.nextFloat()
        let dot = (0..<d).reduce(Float(0)) { $0 + values[i * d + $1] * values[j * d + $1] }
        let omega = acos(max(-1 + 1e-6, min(1 - 1e-6, dot)))
        let (wa, wb) = omega < 1e-4 ? (1 - t, t) : (sin((1 - t) * omega) / sin(omega), sin(t * omega) / sin(omega))
        first.append(i); second.append(j); weightsA.append(wa); weightsB.append(wb); outLabels.append(label)
    }
    guard !first.isEmpty else { return nil }
    let m = first.count
    let mixed = features.gather(first, axis: 0) * Tensor(weightsA, shape: [m, 1]) + features.gather(second, axis: 0) * Tensor(weightsB, shape: [m, 1])
    return (mixed, outLabels)
}
