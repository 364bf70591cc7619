/// An image degradation for robustness evaluation (DESIGN §6: JPEG 100/90/75/50/30, blur, noise,
/// downscale-upscale), applied to a full frame or to a face crop.
///
/// Each case reproduces the operation of the library the literature's numbers come from, so results are comparable:
/// - `jpeg`: encode with `ImageEncoder.jpeg` (Pillow's settings, libjpeg quality scale) and decode again.
/// - `gaussianBlur`: OpenCV `GaussianBlur`, kernel size 2·⌈3σ⌉+1, `BORDER_REFLECT_101`, bit-exact.
/// - `gaussianNoise`: independent N(0, σ²) added to every channel of every pixel, rounded and clipped to 0...255;
///   deterministic for a seed.
/// - `downscale`: shrink by `factor` with OpenCV `INTER_AREA` (to ⌊size/factor⌉, at least 1 pixel) and enlarge back
///   to the original size with OpenCV `INTER_LINEAR`.
public enum Perturbation: Sendable, Equatable, Hashable, CustomStringConvertible {
    case jpeg(quality: Int)
    case gaussianBlur(sigma: Double)
    case gaussianNoise(sigma: Double, seed: UInt64)
    case downscale(factor: Double)

    /// The standard robustness suite of DESIGN §6 (noise seeded with 0).
    public static let standardSuite: [Perturbation] =
        [100, 90, 75, 50, 30].map { .jpeg(quality: $0) } +
        [.gaussianBlur(sigma: 1), .gaussianBlur(sigma: 2), .gaussianNoise(sigma: 5, seed: 0),
         .gaussianNoise(sigma: 10, seed: 0), .downscale(factor: 2), .downscale(factor: 4)]

    /// Short name for reports and file names: `jpeg-q50`, `blur-sigma1.5`, `noise-sigma10-seed0`, `downscale-2x`.
    public var description: String {
        switch self {
        case .jpeg(let quality): return "jpeg-q\(quality)"
        case .gaussianBlur(let sigma): return "blur-sigma\(compact(sigma))"
        case .gaussianNoise(let sigma, let seed): return "noise-sigma\(compact(sigma))-seed\(seed)"
        case .downscale(let factor): return "downscale-\(compact(factor))x"
        }
    }

    /// The degraded image (same size as the input).
    public func apply(to image: RGBImage) -> RGBImage {
        guard image.width > 0, image.height > 0 else { return image }
        switch self {
        case .jpeg(let quality):
            do {
                return try ImageDecoder.decode(data: ImageEncoder.jpeg(image, quality: quality), name: "<\(description)>")
            } catch {
                // Encoding valid RGB in memory fails only if no thread can be created; do not return a silent no-op.
                preconditionFailure("\(description): JPEG round trip failed: \(error)")
            }
        case .gaussianBlur(let sigma):
            return ImageGeometry.gaussianBlur(image, sigma: sigma)
        case .gaussianNoise(let sigma, let seed):
            guard sigma > 0 else { return image }
            var generator = MediaNoiseGenerator(seed: seed)
            var pixels = image.pixels
            for i in pixels.indices {
                let value = (Double(pixels[i]) + sigma * generator.nextGaussian()).rounded(.toNearestOrEven)
                pixels[i] = UInt8(min(max(value, 0), 255))
            }
            return RGBImage(width: image.width, height: image.height, pixels: pixels)
        case .downscale(let factor):
            guard factor > 1 else { return image }
            let w = max(1, Int((Double(image.width) / factor).rounded())), h = max(1, Int((Double(image.height) / factor).rounded()))
            let small = ImageGeometry.resize(image, width: w, height: h, method: .area)
            return ImageGeometry.resize(small, width: image.width, height: image.height, method: .bilinear)
        }
    }
}

/// "2" for 2.0, "1.5" for 1.5.
private func compact(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
}
