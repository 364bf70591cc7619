import ForensightTensor
import ForensightNN

/// How a decoder stage doubles its feature map: the three up-sampling layers of image generators, each leaving its
/// own trace in the output's spectrum (Zhang, Karaman & Chang 2019, "AutoGAN"; Durall et al. 2020).
public enum UpsamplingKind: String, Codable, Sendable, CaseIterable {
    /// Stride-2 transposed convolution, kernel 4 (zero insertion, then a convolution): the DCGAN / StarGAN
    /// up-convolution, with its checkerboard.
    case transposed
    /// Nearest-neighbour doubling, then a 3×3 convolution.
    case nearest
    /// Bilinear doubling, then a 3×3 convolution (the StyleGAN-era choice).
    case bilinear
}

/// The shape of one trace autoencoder.
public struct TraceAutoencoderConfig: Codable, Sendable, Equatable {
    public var upsampling: UpsamplingKind
    /// Channels after the first down-sampling; each further stage doubles them.
    public var width = 32
    /// Stride-2 stages in the encoder (and up-sampling stages in the decoder); inputs must be divisible by 2^stages.
    public var stages = 2

    public init(upsampling: UpsamplingKind, width: Int = 32, stages: Int = 2) {
        (self.upsampling, self.width, self.stages) = (upsampling, width, stages)
    }

    /// The factor an input side must be divisible by.
    public var sideMultiple: Int { 1 << stages }
}

/// One decoder stage: doubles the feature map (`UpsamplingKind`), then a ReLU.
public final class UpsamplingStage: Module {
    public let conv: Conv2d
    public let kind: UpsamplingKind

    public init(_ inChannels: Int, _ outChannels: Int, kind: UpsamplingKind) {
        self.kind = kind
        switch kind {
        case .transposed:
            // Zero insertion doubles the grid; a 4×4 kernel padded (2, 1) keeps it at 2H × 2W. This is PyTorch's
            // ConvTranspose2d(kernel 4, stride 2, padding 1) with the kernel flipped and its channel axes swapped. Each
            // output phase sees a different 2×2 subset of the kernel — the uneven overlap behind the checkerboard.
            conv = Conv2d(inChannels, outChannels, kernel: (4, 4), padding: .explicit(Padding2D(top: 2, bottom: 1, left: 2, right: 1)))
        case .nearest, .bilinear:
            conv = Conv2d(inChannels, outChannels, kernel: 3, padding: 1)
        }
    }

    /// [N, C, H, W] → [N, O, 2H, 2W].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let size = (2 * x.shape[2], 2 * x.shape[3])
        let doubled: Tensor
        switch kind {
        case .transposed: doubled = x.zeroInserted()
        case .nearest: doubled = x.upsampleNearest(size)
        case .bilinear: doubled = x.upsampleBilinear(size)
        }
        return conv(doubled).relu()
    }
}

/// A small convolutional autoencoder trained to reproduce real faces: its reconstructions carry the traces of its
/// decoder's up-sampling, and nothing else a face generator would add. They are the fakes of the synthesis detector,
/// which so learns generator traces without ever seeing a generated face.
///
/// Encoder: `stages` 3×3 stride-2 convolutions (width, 2·width, 4·width, …) and a 3×3 bottleneck convolution, ReLU
/// after each. Decoder: `stages` up-sampling stages back to `width` channels, then a 3×3 convolution to RGB. No skip
/// connections, so every output pixel is made by the decoder. Pixels are in −1…1 on both sides.
public final class TraceAutoencoder: Module {
    public let config: TraceAutoencoderConfig
    public let encoder: [Conv2d]
    public let bottleneck: Conv2d
    public let decoder: [UpsamplingStage]
    public let output: Conv2d

    public init(_ config: TraceAutoencoderConfig) {
        precondition(config.stages >= 1 && config.width >= 1, "trace autoencoder: \(config)")
        self.config = config
        let widths = (0..<config.stages).map { config.width << $0 }
        var channels = 3
        encoder = widths.map { w in defer { channels = w }; return Conv2d(channels, w, kernel: 3, stride: 2, padding: 1) }
        bottleneck = Conv2d(channels, channels, kernel: 3, padding: 1)
        let decoderWidths = Array(widths.reversed().dropFirst()) + [config.width]
        decoder = decoderWidths.map { w in defer { channels = w }; return UpsamplingStage(channels, w, kind: config.upsampling) }
        output = Conv2d(channels, 3, kernel: 3, padding: 1)
    }

    /// [N, 3, H, W] in −1…1 → its reconstruction, same shape. H and W must be multiples of `config.sideMultiple`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == 3 && x.shape[2] % config.sideMultiple == 0 && x.shape[3] % config.sideMultiple == 0,
                     "trace autoencoder input \(x.shape): sides must be multiples of \(config.sideMultiple)")
        var h = x
        for conv in encoder { h = conv(h).relu() }
        h = bottleneck(h).relu()
        for stage in decoder { h = stage(h) }
        return output(h)
    }
}
