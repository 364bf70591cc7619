import ForensightMedia

/// Training-time augmentation of face crops, applied to reals and self-blended fakes alike so that sharpness,
/// resolution, compression and colour can never tell them apart (DESIGN §5).
///
/// In order, each with its probability: horizontal flip (0.5); colour jitter (0.3); one of downscale-upscale
/// 1.25–3× (0.2), Gaussian blur σ 0.3–1.2 (0.15) or sharpening (0.1); Gaussian noise σ 2–8 (0.15); JPEG quality
/// 60–100 (0.7); a random crop keeping 88–100 % of the side at a random place (1.0; the detector resizes it).
public struct FaceAugmentation: Sendable {
    public init() {}

    public func callAsFunction<R: RandomNumberGenerator>(_ image: RGBImage, using random: inout R) -> RGBImage {
        augmented(image, using: &random).image
    }

    /// Where an augmentation moved the face: whether it mirrored the crop (first), then the square it cut out.
    public struct Geometry: Sendable, Equatable {
        public var flipped: Bool
        /// Width of the input crop (the mirror axis).
        public var width: Int
        /// The cut square, in the (mirrored) input's pixels.
        public var x: Int, y: Int, side: Int

        /// A point of the input crop (pixels) in the output, normalised to its side (0…1).
        public func normalised(x px: Float, y py: Float) -> (x: Float, y: Float) {
            (((flipped ? Float(width) - px : px) - Float(x)) / Float(side), (py - Float(y)) / Float(side))
        }
    }

    /// The augmented crop (the same draws as `callAsFunction`) and its geometry, so landmarks can follow the face.
    public func augmented<R: RandomNumberGenerator>(_ image: RGBImage, using random: inout R) -> (image: RGBImage, geometry: Geometry) {
        var out = image
        let flipped = Bool.random(using: &random)
        if flipped { out = ImageGeometry.flipHorizontal(out) }
        if chance(0.3, &random) {
            out = FaceColor.jitter(out, shift: 8, brightness: 0.08, contrast: 0.12, saturation: 0.15, using: &random)
        }
        let frequency = Double.random(in: 0..<1, using: &random)
        if frequency < 0.2 {
            out = Perturbation.downscale(factor: Double.random(in: 1.25...3, using: &random)).apply(to: out)
        } else if frequency < 0.35 {
            out = Perturbation.gaussianBlur(sigma: Double.random(in: 0.3...1.2, using: &random)).apply(to: out)
        } else if frequency < 0.45 {
            out = FaceColor.sharpened(out, amount: Float.random(in: 0.2...0.8, using: &random))
        }
        if chance(0.15, &random) {
            out = Perturbation.gaussianNoise(sigma: Double.random(in: 2...8, using: &random), seed: random.next()).apply(to: out)
        }
        if chance(0.7, &random) { out = Perturbation.jpeg(quality: Int.random(in: 60...100, using: &random)).apply(to: out) }
        let side = Int((Double(min(out.width, out.height)) * Double.random(in: 0.88...1, using: &random)).rounded())
        let x = Int.random(in: 0...(out.width - side), using: &random), y = Int.random(in: 0...(out.height - side), using: &random)
        return (ImageGeometry.crop(out, x: x, y: y, width: side, height: side), Geometry(flipped: flipped, width: image.width, x: x, y: y, side: side))
    }

    private func chance<R: RandomNumberGenerator>(_ p: Double, _ random: inout R) -> Bool { Double.random(in: 0..<1, using: &random) < p }
}

/// A second view of the same face that a person could make without meaning to change it: what the stability protocol
/// edits (re-encoding, resizing, cropping, a decoder's rounding), for the consistency term of training.
///
/// One edit, drawn uniformly: downscale to 50–80 % and back up (bilinear); JPEG quality 65–95; a crop keeping
/// 94–99 % of the side at a random place, resized back; or Gaussian noise σ 0.5–1.5 (another decoder's rounding).
/// The output has the input's size.
public struct BenignView: Sendable {
    public init() {}

    public func callAsFunction<R: RandomNumberGenerator>(_ image: RGBImage, using random: inout R) -> RGBImage {
        let (w, h) = (image.width, image.height)
        switch Int.random(in: 0..<4, using: &random) {
        case 0:
            let f = Double.random(in: 0.5...0.8, using: &random)
            let small = image.resized(width: max(1, Int((Double(w) * f).rounded())), height: max(1, Int((Double(h) * f).rounded())))
            return small.resized(width: w, height: h)
        case 1:
            return Perturbation.jpeg(quality: Int.random(in: 65...95, using: &random)).apply(to: image)
        case 2:
            let keep = Double.random(in: 0.94...0.99, using: &random)
            let (cw, ch) = (max(1, Int((Double(w) * keep).rounded())), max(1, Int((Double(h) * keep).rounded())))
            let x = Int.random(in: 0...(w - cw), using: &random), y = Int.random(in: 0...(h - ch), using: &random)
            return ImageGeometry.crop(image, x: x, y: y, width: cw, height: ch).resized(width: w, height: h)
        default:
            return Perturbation.gaussianNoise(sigma: Double.random(in: 0.5...1.5, using: &random), seed: random.next()).apply(to: image)
        }
    }
}
