import ForensightTensor
import ForensightMedia

/// Settings of face extraction from images and video frames.
public struct FaceExtractionOptions: Sendable, Equatable {
    public var detector = MTCNNOptions()
    public var selection: FaceSelection = .halfOfLargest
    /// Faces smaller than this (box side, pixels) are dropped.
    public var minimumFaceSize: Float = 20
    /// Video mode: run the full pyramid only every this many sampled frames (and whenever no face is tracked);
    /// in between, re-detect each tracked face inside a window around its last box. 1 = full detection always.
    public var fullDetectionInterval = 8
    /// Side of the re-detection window relative to the face box.
    public var searchWindow: Float = 2.0

    public init(detector: MTCNNOptions = MTCNNOptions(), selection: FaceSelection = .halfOfLargest, minimumFaceSize: Float = 20,
                fullDetectionInterval: Int = 8, searchWindow: Float = 2.0) {
        precondition(fullDetectionInterval >= 1, "fullDetectionInterval must be ≥ 1")
        (self.detector, self.selection, self.minimumFaceSize, self.fullDetectionInterval, self.searchWindow) =
            (detector, selection, minimumFaceSize, fullDetectionInterval, searchWindow)
    }
}

/// Detects, selects and tracks faces frame after frame.
///
/// In video mode most frames skip the full image pyramid: each tracked face is searched again only in a window of
/// `searchWindow` × its size around its previous box, with the pyramid starting at half the face's size.
public final class FaceExtractor {
    public let detector: MTCNN
    public let options: FaceExtractionOptions
    public private(set) var tracker: FaceTracker
    private var sampled = 0

    public init(detector: MTCNN, options: FaceExtractionOptions = FaceExtractionOptions()) {
        (self.detector, self.options) = (detector, options)
        tracker = FaceTracker(selection: options.selection, minimumFaceSize: options.minimumFaceSize)
    }

    /// The tracks so far.
    public var tracks: [FaceTrack] { tracker.tracks }

    /// Detects the faces of one frame, links them to tracks, and returns (track id, face) pairs, largest first.
    public func process(_ image: RGBImage, frameIndex: Int, time: Double) -> [(track: Int, face: DetectedFace)] {
        let img = MTCNN.tensor(from: image)
        var faces: [DetectedFace]
        if sampled % options.fullDetectionInterval == 0 || previousFaces.isEmpty {
            faces = detector.detect(imageTensor: img)
        } else {
            // Every tracked face must be found again in its window; if one is lost, fall back to the full pyramid.
            let found = previousFaces.map { redetect(img, around: $0) }
            faces = found.contains(where: \.isEmpty) ? detector.detect(imageTensor: img) : Self.removingDuplicates(found.flatMap { $0 })
        }
        sampled += 1
        let chosen = tracker.select(faces)
        previousFaces = chosen
        return Array(zip(tracker.update(frameIndex: frameIndex, time: time, faces: chosen), chosen))
    }

    /// The faces kept in the previous sampled frame (where video mode looks next).
    private var previousFaces: [DetectedFace] = []

    /// Runs the cascade on the window around `face`'s box, with the pyramid starting at half the face size.
    func redetect(_ img: Tensor, around face: DetectedFace) -> [DetectedFace] {
        let (h, w) = (img.shape[2], img.shape[3])
        let side = Swift.max(face.box.width, face.box.height)
        let (cx, cy) = face.box.center
        let half = side * options.searchWindow / 2
        let x0 = Swift.max(0, Int(cx - half)), y0 = Swift.max(0, Int(cy - half))
        let x1 = Swift.min(w, Int(cx + half) + 1), y1 = Swift.min(h, Int(cy + half) + 1)
        guard x1 - x0 >= 12, y1 - y0 >= 12 else { return [] }
        let window = img.slice(axis: 2, y0..<y1).slice(axis: 3, x0..<x1)
        var local = detector.options
        local.minFaceSize = Swift.max(detector.options.minFaceSize, side * 0.5)
        let found = detector.detect(imageTensor: window, options: local)
        return found.map { f in
            DetectedFace(box: FaceBox(x1: f.box.x1 + Float(x0), y1: f.box.y1 + Float(y0), x2: f.box.x2 + Float(x0), y2: f.box.y2 + Float(y0)),
                         score: f.score, landmarks: f.landmarks.map { Point(x: $0.x + Float(x0), y: $0.y + Float(y0)) })
        }
    }

    /// Drops detections overlapping a better-scored one by IoU > 0.5 (search windows of nearby faces overlap).
    static func removingDuplicates(_ faces: [DetectedFace]) -> [DetectedFace] {
        var kept: [DetectedFace] = []
        for f in faces.sorted(by: { $0.score > $1.score }) where !kept.contains(where: { $0.box.iou(f.box) > 0.5 }) { kept.append(f) }
        return kept
    }
}
