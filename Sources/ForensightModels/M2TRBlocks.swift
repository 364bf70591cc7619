import ForensightTensor
import ForensightNN

/// The first layers of EfficientNet-Lite: the stem and the first `blockCount` MBConv blocks, with the keys of
/// `EfficientNetLite` (`_conv_stem`, `_bn0`, `_blocks.N.…`), so that network's ImageNet weights load into it (their
/// later blocks, head and classifier are simply not used).
public final class EfficientNetLiteTrunk: Module {
    public let convStem: Conv2d, bn0: BatchNorm2d
    public let blocks: [MBConvBlock]
    /// Channels of the output map.
    public let outputChannels: Int
    /// Input side / output side (2 for the stem, × 2 for every stride-2 block kept).
    public let stride: Int

    override public var checkpointKeys: [String: String] { ["convStem": "_conv_stem", "bn0": "_bn0", "blocks": "_blocks"] }

    /// The stem and the first `blockCount` blocks of `config` (all of them when `blockCount` is larger).
    public init(_ config: EfficientNetLiteConfig, blockCount: Int) {
        let (eps, mom) = (config.batchNormEps, config.batchNormMomentum)
        convStem = Conv2d(3, config.stemChannels, kernel: (3, 3), stride: (2, 2), padding: .same, bias: false)
        bn0 = BatchNorm2d(config.stemChannels, eps: eps, momentum: mom)
        var specs: [(Int, Int, Int, Int, Int)] = []   // in, out, kernel, stride, expansion
        for s in config.stages {
            for i in 0..<s.repeats {
                specs.append((i == 0 ? s.inputChannels : s.outputChannels, s.outputChannels, s.kernel, i == 0 ? s.stride : 1, s.expandRatio))
            }
        }
        let kept = specs.prefix(blockCount)
        blocks = kept.map { MBConvBlock(inputChannels: $0.0, outputChannels: $0.1, kernel: $0.2, stride: $0.3, expandRatio: $0.4, eps: eps, momentum: mom) }
        outputChannels = kept.last?.1 ?? config.stemChannels
        stride = kept.reduce(2) { $0 * $1.3 }
    }

    /// [N, 3, S, S] → [N, outputChannels, S / stride, S / stride].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = convStem.withBatchNorm(bn0, activation: .relu6, x)
        for block in blocks { h = block(h) }
        return h
    }

    /// Freezes the stem and the first `count` blocks (weights and BatchNorm statistics), as `EfficientNetLite.freezeStem`.
    public func freezeStem(blocks count: Int) {
        let frozen: [Module] = [convStem, bn0] + blocks.prefix(count).map { $0 as Module }
        for module in frozen {
            module.eval()
            for (_, p) in module.namedParameters() { p.requiresGrad = false }
        }
    }
}

/// Leaky ReLU with slope 0.2, the activation of M2TR's convolutional blocks.
func leakyReLU(_ x: Tensor) -> Tensor { x.prelu(Tensor([0.2], shape: [1])) }

/// M2TR's multi-scale transformer layer: the map's channels are split evenly among the patch sizes (one attention
/// head per size); head i cuts its channels into r × r patches, each patch one token of c·r² values, and attends over
/// the (H/r)·(W/r) tokens (softmax(q kᵀ / √(c·r²)) v). The heads' maps are concatenated back to d channels and go
/// through a 3 × 3 convolution, BatchNorm and leaky ReLU (0.2), added to the input: x + block(heads).
///
/// Keys: `qkv` (1 × 1 convolution d → 3d: queries, keys, values in that order), `output` (3 × 3, padding 1),
/// `norm`.
public final class MultiScalePatchAttention: Module {
    public let qkv: Conv2d
    public let output: Conv2d
    public let norm: BatchNorm2d
    /// Patch side of each head; each must divide the map's sides and the width must divide among them.
    public let patchSizes: [Int]

    /// A layer of `width` channels with one head per entry of `patchSizes` (`width` must divide evenly among them).
    public init(width: Int, patchSizes: [Int]) {
        precondition(width % patchSizes.count == 0, "width \(width) does not split among \(patchSizes.count) patch sizes")
        qkv = Conv2d(width, 3 * width, kernel: 1)
        output = Conv2d(width, width, kernel: 3, padding: 1)
        norm = BatchNorm2d(width)
        self.patchSizes = patchSizes
    }

    /// [N, c, H, W] → [N, (H/r)(W/r), c·r·r]: row-major patches, each flattened channel-first.
    public static func patchTokens(_ x: Tensor, patch r: Int) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return x.reshaped([n, c, h / r, r, w / r, r]).permuted([0, 2, 4, 1, 3, 5]).reshaped([n, (h / r) * (w / r), c * r * r])
    }

    /// The inverse of `patchTokens`: [N, (H/r)(W/r), c·r·r] → [N, c, H, W].
    public static func patchMap(_ t: Tensor, channels c: Int, height h: Int, width w: Int, patch r: Int) -> Tensor {
        let n = t.shape[0]
        return t.reshaped([n, h / r, w / r, c, r, r]).permuted([0, 3, 1, 4, 2, 5]).reshaped([n, c, h, w])
    }

    /// `x`: [N, d, H, W] → [N, d, H, W].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let (n, d, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        precondition(patchSizes.allSatisfy { h % $0 == 0 && w % $0 == 0 }, "patch sizes \(patchSizes) do not divide a \(h)×\(w) map")
        let c = d / patchSizes.count
        let parts = qkv(x).split([d, d, d], axis: 1)
        let heads = patchSizes.enumerated().map { i, r -> Tensor in
            let t = parts.map { part -> Tensor in
                let tokens = Self.patchTokens(part.slice(axis: 1, (i * c)..<((i + 1) * c)), patch: r)
                return tokens.reshaped([n, 1, tokens.shape[1], tokens.shape[2]])
            }
            let attended = Tensor.scaledDotProductAttention(t[0], t[1], t[2])
            return Self.patchMap(attended.reshaped([n, t[0].shape[2], c * r * r]), channels: c, height: h, width: w, patch: r)
        }
        return x + leakyReLU(norm(output(Tensor.concatenate(heads, axis: 1))))
    }
}

/// M2TR's frequency filter: a learnable complex filter on each channel's 2-D spectrum,
/// y = Re(IDFT₂(DFT₂(x) ⊙ (a + i·b))), with a (`weight_real`) and b (`weight_imag`) of shape [C, H, W] for a fixed
/// H × W map. Built from the taped `fft2` / `ifft2` (`torch.fft.fft2` / `ifft2` conventions: the forward transform
/// unnormalised, the inverse divided by H·W) and elementwise products, so it needs no operation of its own; for a
/// fixed size it is a linear map of x. Starts as the identity (a = 1, b = 0).
public final class FrequencyFilter: Module {
    public let weightReal: Tensor
    public let weightImag: Tensor

    /// An identity filter for maps of `channels` × `height` × `width`.
    public init(channels: Int, height: Int, width: Int) {
        weightReal = .ones([channels, height, width], requiresGrad: true)
        weightImag = .zeros([channels, height, width], requiresGrad: true)
    }

    /// `x`: [N, C, H, W] (the filter's C, H, W) → [N, C, H, W].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(Array(x.shape.dropFirst()) == weightReal.shape, "frequency filter \(weightReal.shape) on a \(x.shape) map")
        let spectrum = x.asComplex().fft2()
        let (re, im) = (spectrum.realPart, spectrum.imaginaryPart)
        let filteredRe = re * weightReal - im * weightImag
        let filteredIm = re * weightImag + im * weightReal
        let shape = x.shape + [1]
        return Tensor.concatenate([filteredRe.reshaped(shape), filteredIm.reshaped(shape)], axis: -1).ifft2().realPart
    }
}

/// M2TR's cross-modality fusion: multi-head attention with the RGB map's positions as queries and the frequency
/// map's positions as keys and values (PyTorch `nn.MultiheadAttention` parameters, `attention.in_proj_weight`, …),
/// added to the RGB map: rgb + attention(rgb, freq, freq).
public final class CrossModalityFusion: Module {
    public let attention: MultiHeadAttention

    /// Fusion of two `width`-channel maps with `heads` attention heads (`width` divisible by `heads`).
    public init(width: Int, heads: Int) { attention = MultiHeadAttention(embedDim: width, heads: heads) }

    /// `rgb`, `frequency`: [N, d, H, W] → [N, d, H, W].
    public func callAsFunction(_ rgb: Tensor, _ frequency: Tensor) -> Tensor {
        let (n, d, h, w) = (rgb.shape[0], rgb.shape[1], rgb.shape[2], rgb.shape[3])
        func tokens(_ m: Tensor) -> Tensor { m.reshaped([n, d, h * w]).permuted([0, 2, 1]) }
        let kv = tokens(frequency)
        let fused = attention(tokens(rgb), key: kv, value: kv)
        return rgb + fused.permuted([0, 2, 1]).reshaped([n, d, h, w])
    }
}
