import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightMedia
import ForensightData

/// Simulated generator output made from real faces only: a face crop, shrunk to a random scale, is passed through one
/// of several `TraceAutoencoder`s (transposed-convolution, nearest and bilinear decoders) and enlarged back. The
/// reconstruction carries the up-sampling traces of a generator at the resolution a generator would have worked at;
/// its real twin is the same crop shrunk and enlarged the same way, so resampling blur is never the difference.
///
/// Stored as one safetensors file: the autoencoders' tensors under `autoencoders.<i>.` and their configurations as
/// JSON in the metadata key `forensight.trace-simulator`.
public final class GeneratorTraceSimulator: Module, @unchecked Sendable {
    /// The autoencoders; a fake is made by one of them, drawn uniformly.
    public let autoencoders: [TraceAutoencoder]
    /// The range of the scale (generator side / crop side) a fake is made at.
    public var scales: ClosedRange<Float> = 0.35...1.0
    /// Probability that the real twin loses detail as an autoencoder's output does (one of: Gaussian blur σ 0.5–1.5,
    /// shrinking by 1.3–2.5× and back, JPEG quality 40–75), so that smoothness is no cue.
    public var realDetailLoss: Float = 0.6
    /// Probability that the fake is sharpened (unsharp masking, amount 0.3–1.2), so that missing detail is no cue
    /// either; sharpening keeps, and amplifies, the decoder's periodic traces.
    public var fakeSharpening: Float = 0.4
    /// When above 0, the fake keeps only the reconstruction's high frequencies: the real twin blurred with this σ plus
    /// the reconstruction minus its own blur, so colour, tone and coarse shape come from the real. 0 = off.
    public var highPassSigma: Float = 0

    public init(_ configs: [TraceAutoencoderConfig]) {
        precondition(!configs.isEmpty, "a trace simulator needs at least one autoencoder")
        autoencoders = configs.map(TraceAutoencoder.init)
    }

    /// The default set: one autoencoder per up-sampling kind.
    public static var defaultConfigs: [TraceAutoencoderConfig] { UpsamplingKind.allCases.map { TraceAutoencoderConfig(upsampling: $0) } }

    /// Metadata key of the configurations.
    static let metadataKey = "forensight.trace-simulator"

    /// Loads a simulator written by `save(to:)`.
    public convenience init(path: String) throws {
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: path) } catch { throw TrainingError("\(path): \(error)") }
        guard let json = file.metadata[Self.metadataKey],
              let configs = try? JSONDecoder().decode([TraceAutoencoderConfig].self, from: Data(json.utf8)), !configs.isEmpty else {
            throw TrainingError("\(path): not a trace simulator (no \(Self.metadataKey) metadata); train one with `forensight train --detector trace-simulator`")
        }
        self.init(configs)
        do { _ = try loadStateDict(try file.allTensors(), strict: true) } catch { throw TrainingError("\(path): \(error)") }
        eval()
    }

    /// Writes the weights (f32) and configurations.
    public func save(to path: String) throws {
        let json = String(decoding: try JSONEncoder().encode(autoencoders.map(\.config)), as: UTF8.self)
        try save(safetensors: path, metadata: [Self.metadataKey: json])
    }

    /// The largest `sideMultiple` of the autoencoders.
    var sideMultiple: Int { autoencoders.map(\.config.sideMultiple).max()! }

    /// Autoencoder `index`'s reconstruction of `image` (any size: edges are replicated up to a multiple of its
    /// `sideMultiple`, and the output is cut back). No gradient is recorded.
    public func reconstruct(_ image: RGBImage, with index: Int) -> RGBImage {
        let network = autoencoders[index]
        let m = network.config.sideMultiple
        let (w, h) = (image.width, image.height)
        let (pw, ph) = ((w + m - 1) / m * m, (h + m - 1) / m * m)
        let input = Self.tensor(image, paddedTo: (pw, ph))
        let output = withoutGrad { network(input) }
        return Self.image(output, width: w, height: h)
    }

    /// A training pair from one real crop: (the crop shrunk and enlarged back, the autoencoder's reconstruction of the
    /// shrunk crop, enlarged back the same way). Draws the autoencoder, the scale and the resize filters.
    public func pair(_ real: RGBImage, using random: inout SeededRandom) -> (real: RGBImage, fake: RGBImage) {
        let index = Int(random.next() % UInt64(autoencoders.count))
        let s = scales.lowerBound + random.nextFloat() * (scales.upperBound - scales.lowerBound)
        let (w, h) = (real.width, real.height)
        let (sw, sh) = (max(8, Int((Float(w) * s).rounded())), max(8, Int((Float(h) * s).rounded())))
        let down: ResizeMethod = [.area, .bilinear, .bicubic][Int(random.next() % 3)]
        let up: ResizeMethod = [.bilinear, .bicubic][Int(random.next() % 2)]
        let small = (sw, sh) == (w, h) ? real : real.resized(width: sw, height: sh, method: down)
        var twin = small.resized(width: w, height: h, method: up)
        var fake = reconstruct(small, with: index).resized(width: w, height: h, method: up)
        if highPassSigma > 0 { fake = Self.highFrequencies(of: fake, over: twin, sigma: Double(highPassSigma)) }
        if random.nextFloat() < realDetailLoss { twin = Self.losingDetail(twin, using: &random) }
        if random.nextFloat() < fakeSharpening { fake = FaceColor.sharpened(fake, amount: 0.3 + 0.9 * random.nextFloat()) }
        return (twin, fake)
    }

    /// `base` blurred with `sigma` plus `detail` minus its own blur (rounded, clamped): `detail`'s high frequencies
    /// on `base`'s low ones.
    public static func highFrequencies(of detail: RGBImage, over base: RGBImage, sigma: Double) -> RGBImage {
        let blur = Perturbation.gaussianBlur(sigma: sigma)
        let (low, detailLow) = (blur.apply(to: base), blur.apply(to: detail))
        var out = base
        for i in out.pixels.indices {
            let v = Int(low.pixels[i]) + Int(detail.pixels[i]) - Int(detailLow.pixels[i])
            out.pixels[i] = UInt8(max(0, min(255, v)))
        }
        return out
    }

    /// One detail-removing degradation, drawn uniformly: Gaussian blur σ 0.5–1.5, shrink by 1.3–2.5× and back, or
    /// JPEG quality 40–75.
    static func losingDetail(_ image: RGBImage, using random: inout SeededRandom) -> RGBImage {
        switch random.next() % 3 {
        case 0: return Perturbation.gaussianBlur(sigma: Double(0.5 + random.nextFloat())).apply(to: image)
        case 1: return Perturbation.downscale(factor: Double(1.3 + 1.2 * random.nextFloat())).apply(to: image)
        default: return Perturbation.jpeg(quality: 40 + Int(random.next() % 36)).apply(to: image)
        }
    }

    /// [1, 3, ph, pw] in −1…1, edge pixels replicated right and down.
    static func tensor(_ image: RGBImage, paddedTo size: (Int, Int)) -> Tensor {
        let (pw, ph) = size, (w, h) = (image.width, image.height)
        let out = Tensor.zeros([1, 3, ph, pw])
        image.pixels.withUnsafeBufferPointer { px in
            for y in 0..<ph {
                let sy = min(y, h - 1)
                for x in 0..<pw {
                    let i = 3 * (sy * w + min(x, w - 1))
                    for c in 0..<3 { out.data[(c * ph + y) * pw + x] = Float(px[i + c]) / 127.5 - 1 }
                }
            }
        }
        return out
    }

    /// The top-left `width` × `height` of a [1, 3, H, W] tensor in −1…1, as 8-bit pixels (clamped, rounded).
    static func image(_ t: Tensor, width: Int, height: Int) -> RGBImage {
        let (ph, pw) = (t.shape[2], t.shape[3])
        var pixels = [UInt8](repeating: 0, count: 3 * width * height)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 {
                    let v = (t.data[(c * ph + y) * pw + x] + 1) * 127.5
                    pixels[3 * (y * width + x) + c] = UInt8(max(0, min(255, v.rounded())))
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}
