import ForensightMedia

/// Face detection on a reduced copy of large frames.
///
/// MTCNN's image pyramid on a full 4K or 8K frame holds hundreds of megabytes of float activations, and faces in
/// such frames are large anyway. Frames whose longer side exceeds ``maximumSide`` are therefore shrunk (OpenCV's
/// area averaging) for detection and tracking only; the boxes and landmarks are mapped back to full-resolution
/// coordinates and every crop is cut from the full-resolution frame. Frames at or under the limit (all of FF++,
/// up to 1920×1080) are detected as they are.
public struct DetectionScale: Sendable, Equatable {
    /// The longest side, in pixels, face detection runs on.
    public var maximumSide: Int

    /// `maximumSide` 1920: 1080p and smaller frames are untouched.
    public init(maximumSide: Int = 1920) {
        precondition(maximumSide >= 48, "maximumSide must be at least 48 pixels")
        self.maximumSide = maximumSide
    }

    /// The frame to detect on and the factor from its coordinates to `image`'s (1 when `image` is small enough).
    public func detectionImage(for image: RGBImage) -> (image: RGBImage, factor: Float) {
        let side = max(image.width, image.height)
        guard side > maximumSide else { return (image, 1) }
        let scale = Double(maximumSide) / Double(side)
        let width = max(1, Int((Double(image.width) * scale).rounded()))
        let height = max(1, Int((Double(image.height) * scale).rounded()))
        let small = image.resized(width: width, height: height, method: .area)
        return (small, Float(image.width) / Float(width))
    }
}

extension DetectedFace {
    /// This face with its box and landmarks multiplied by `factor` (detection coordinates → full frame).
    public func scaled(by factor: Float) -> DetectedFace {
        guard factor != 1 else { return self }
        return DetectedFace(box: FaceBox(x1: box.x1 * factor, y1: box.y1 * factor, x2: box.x2 * factor, y2: box.y2 * factor),
                            score: score, landmarks: landmarks.map { Point(x: $0.x * factor, y: $0.y * factor) })
    }
}
