import Foundation
import ForensightMedia
import ForensightFaces

/// Self-blended images (Shiohara & Yamasaki, CVPR 2022): a fake made from one real face by blending a perturbed copy
/// of the face back into itself inside a face-shaped, soft-edged mask.
///
/// The result carries the traces every face swap leaves (a blending boundary, a colour and sharpness mismatch
/// between inside and outside, a slight misalignment) without any particular manipulation's fingerprint, so a
/// detector trained on it generalises to unseen methods. Steps, each drawn from the generator:
/// 1. **Source and target.** One of them is the face as it is; the other is perturbed: colour (per-channel shift,
///    brightness, contrast, saturation), frequency (downscale-upscale or sharpening) and geometry (scale 0.95–1.05,
///    shift up to 3 % of the side).
/// 2. **Mask.** The face region from the dense mesh (`DenseFaceHull`) when there is one, else the five-landmark
///    outline (`FaceHull`), with random vertex jitter and stretch, filled, then
///    eroded or dilated (blur and re-threshold), then blurred (σ 2–6 % of the side), scaled to peak 1.
/// 3. **Blend.** mask·ratio·source + (1 − mask·ratio)·target with ratio drawn from {0.25, 0.5, 0.75, 1, 1, 1}.
public struct SelfBlend: Sendable {
    /// The face regions a blend is confined to, with their relative frequencies (`FaceRegion`). The default, the
    /// whole face only, is the paper's recipe and draws no random number for the choice.
    public var regions: [(region: FaceRegion, weight: Double)]

    public init(regions: [(region: FaceRegion, weight: Double)] = [(.face, 1)]) {
        precondition(!regions.isEmpty && regions.allSatisfy { $0.weight > 0 }, "self-blend regions need positive weights")
        self.regions = regions
    }

    /// Whole-face blends beside partial ones: the whole face 60 %, the lower face (mouth, chin) 25 %, the eyes and
    /// brows 15 %.
    public static let withPartialRegions = SelfBlend(regions: [(.face, 0.6), (.lowerFace, 0.25), (.eyes, 0.15)])

    /// One region drawn by weight (no draw when there is a single region).
    func drawRegion<R: RandomNumberGenerator>(using random: inout R) -> FaceRegion {
        guard regions.count > 1 else { return regions[0].region }
        var u = Double.random(in: 0..<regions.reduce(0) { $0 + $1.weight }, using: &random)
        for (region, weight) in regions {
            if u < weight { return region }
            u -= weight
        }
        return regions[regions.count - 1].region
    }

    /// What one synthesis produced (the mask is kept for previews and tests).
    public struct Result {
        public var image: RGBImage
        /// The blending weight per pixel, 0...1 (already multiplied by the blend ratio).
        public var mask: FloatPlane
    }

    /// A self-blended fake of `face` (a crop) whose five landmarks are at `landmarks` (crop pixels). With a `mesh` (the
    /// 468 FaceMesh points in crop pixels) the mask is the dense region (`DenseFaceHull`) instead of the five-point one.
    public func callAsFunction<R: RandomNumberGenerator>(_ face: RGBImage, landmarks: [Point], mesh: [Point]? = nil,
                                                          using random: inout R) -> Result {
        let (w, h) = (face.width, face.height)
        let side = Float(min(w, h))
        let perturbed = perturbedCopy(face, using: &random)
        let (source, target) = Bool.random(using: &random) ? (perturbed, face) : (face, perturbed)

        let region = drawRegion(using: &random)
        let jitter = Float.random(in: 0...0.08, using: &random)
        let scale = (x: Float.random(in: 0.9...1.08, using: &random), y: Float.random(in: 0.9...1.08, using: &random))
        let polygon: [Point]
        if let mesh {
            polygon = DenseFaceHull.deformed(DenseFaceHull.polygon(mesh: mesh, region: region), mesh: mesh, jitter: jitter, scale: scale,
                                             using: &random)
        } else {
            polygon = FaceHull.polygon(landmarks: landmarks, region: region, jitter: jitter, scale: scale, using: &random)
        }
        var mask = FloatPlane.filled(polygon, width: w, height: h)
        // Erode or dilate: blur, then keep what is above a threshold (below 0.5 grows the region, above shrinks it).
        let threshold = Float.random(in: 0.2...0.8, using: &random)
        mask = mask.blurred(sigma: side * Float.random(in: 0.01...0.03, using: &random))
        for i in mask.values.indices { mask.values[i] = mask.values[i] > threshold ? 1 : 0 }
        mask = mask.blurred(sigma: side * Float.random(in: 0.02...0.06, using: &random))
        let peak = max(mask.maximum, 1e-6)
        let ratio = [0.25, 0.5, 0.75, 1, 1, 1][Int.random(in: 0..<6, using: &random)] as Float
        for i in mask.values.indices { mask.values[i] = mask.values[i] / peak * ratio }

        var pixels = target.pixels
        for i in 0..<(w * h) {
            let m = mask.values[i]
            if m <= 0 { continue }
            for c in 0..<3 {
                let v = m * Float(source.pixels[3 * i + c]) + (1 - m) * Float(target.pixels[3 * i + c])
                pixels[3 * i + c] = UInt8(min(max(v.rounded(), 0), 255))
            }
        }
        return Result(image: RGBImage(width: w, height: h, pixels: pixels), mask: mask)
    }

    /// The face with colour, frequency and geometry perturbations (step 1).
    public func perturbedCopy<R: RandomNumberGenerator>(_ face: RGBImage, using random: inout R) -> RGBImage {
        var image = FaceColor.jitter(face, shift: 20, brightness: 0.1, contrast: 0.1, saturation: 0.15, using: &random)
        if Bool.random(using: &random) {
            image = Perturbation.downscale(factor: Double.random(in: 1.3...3, using: &random)).apply(to: image)
        } else {
            image = FaceColor.sharpened(image, amount: Float.random(in: 0.3...1.0, using: &random))
        }
        let s = Double.random(in: 0.95...1.05, using: &random)
        let (dx, dy) = (Double.random(in: -0.03...0.03, using: &random) * Double(face.width),
                        Double.random(in: -0.03...0.03, using: &random) * Double(face.height))
        let (cx, cy) = (Double(face.width) / 2, Double(face.height) / 2)
        let matrix = AffineMatrix(a: s, b: 0, c: cx - s * cx + dx, d: 0, e: s, f: cy - s * cy + dy)
        return ImageGeometry.warpAffine(image, matrix: matrix, outputSize: (face.width, face.height), border: .replicate)
    }
}

/// Colour and sharpness changes on 8-bit images (self-blending and training augmentation).
public enum FaceColor {
    /// Per-channel shift up to ±`shift` levels, brightness ±`brightness` (fraction of 255), contrast 1 ± `contrast`,
    /// saturation 1 ± `saturation` (blend with the grey value).
    public static func jitter<R: RandomNumberGenerator>(_ image: RGBImage, shift: Float, brightness: Float, contrast: Float,
                                                         saturation: Float, using random: inout R) -> RGBImage {
        let shifts = (0..<3).map { _ in Float.random(in: -shift...shift, using: &random) }
        let b = Float.random(in: -brightness...brightness, using: &random) * 255
        let k = 1 + Float.random(in: -contrast...contrast, using: &random)
        let sat = 1 + Float.random(in: -saturation...saturation, using: &random)
        var pixels = image.pixels
        for i in 0..<image.pixelCount {
            let (r, g, bl) = (Float(pixels[3 * i]), Float(pixels[3 * i + 1]), Float(pixels[3 * i + 2]))
            let grey = 0.299 * r + 0.587 * g + 0.114 * bl
            @inline(__always) func level(_ v: Float, _ c: Int) -> UInt8 {
                let out = (grey + (v - grey) * sat - 128) * k + 128 + b + shifts[c]
                return UInt8(min(max(out.rounded(), 0), 255))
            }
            pixels[3 * i] = level(r, 0); pixels[3 * i + 1] = level(g, 1); pixels[3 * i + 2] = level(bl, 2)
        }
        return RGBImage(width: image.width, height: image.height, pixels: pixels)
    }

    /// Unsharp masking: image + amount · (image − blur(image, σ = 1)).
    public static func sharpened(_ image: RGBImage, amount: Float) -> RGBImage {
        let blurred = ImageGeometry.gaussianBlur(image, sigma: 1)
        var pixels = image.pixels
        for i in pixels.indices {
            let v = Float(image.pixels[i]) + amount * (Float(image.pixels[i]) - Float(blurred.pixels[i]))
            pixels[i] = UInt8(min(max(v.rounded(), 0), 255))
        }
        return RGBImage(width: image.width, height: image.height, pixels: pixels)
    }
}
