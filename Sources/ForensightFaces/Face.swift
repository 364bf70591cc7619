import ForensightMedia

/// An axis-aligned box in pixel coordinates of the frame (x to the right, y down).
public struct FaceBox: Sendable, Equatable, Codable {
    public var x1: Float, y1: Float, x2: Float, y2: Float
    public init(x1: Float, y1: Float, x2: Float, y2: Float) { (self.x1, self.y1, self.x2, self.y2) = (x1, y1, x2, y2) }
    public var width: Float { x2 - x1 }
    public var height: Float { y2 - y1 }
    public var area: Float { Swift.max(0, width) * Swift.max(0, height) }
    public var center: (x: Float, y: Float) { ((x1 + x2) / 2, (y1 + y2) / 2) }

    /// Intersection over union (areas without the +1 pixel convention).
    public func iou(_ other: FaceBox) -> Float {
        let w = Swift.max(0, Swift.min(x2, other.x2) - Swift.max(x1, other.x1))
        let h = Swift.max(0, Swift.min(y2, other.y2) - Swift.max(y1, other.y1))
        let inter = w * h
        let union = area + other.area - inter
        return union > 0 ? inter / union : 0
    }
}

/// A point in frame pixel coordinates.
public struct Point: Sendable, Equatable, Codable {
    public var x: Float, y: Float
    public init(x: Float, y: Float) { (self.x, self.y) = (x, y) }
}

/// One detected face: box, detector confidence and the five MTCNN landmarks
/// (left eye, right eye, nose, left and right mouth corner; "left" = smaller x in the image).
public struct DetectedFace: Sendable, Equatable, Codable {
    public var box: FaceBox
    public var score: Float
    public var landmarks: [Point]
    public init(box: FaceBox, score: Float, landmarks: [Point]) { (self.box, self.score, self.landmarks) = (box, score, landmarks) }

    /// The same face moved by (dx, dy) pixels: from a cropped region's coordinates to the whole frame's.
    public func translated(dx: Float, dy: Float) -> DetectedFace {
        guard dx != 0 || dy != 0 else { return self }
        return DetectedFace(box: FaceBox(x1: box.x1 + dx, y1: box.y1 + dy, x2: box.x2 + dx, y2: box.y2 + dy), score: score,
                            landmarks: landmarks.map { Point(x: $0.x + dx, y: $0.y + dy) })
    }
}
