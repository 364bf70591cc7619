import Foundation
import ForensightMedia

/// One face crop taken from a file: where it came from and where it is.
public struct FaceCrop {
    public var trackID: Int
    public var frameIndex: Int
    /// Seconds from the start of the video (0 for images).
    public var time: Double
    public var face: DetectedFace
    public var image: RGBImage
}

/// Faces found in one image or video.
public struct MediaFaces {
    public enum Kind: String, Codable, Sendable { case image, video }
    public var source: String
    public var kind: Kind
    public var frameSize: (width: Int, height: Int)
    /// Frames looked at.
    public var frames: Int
    public var crops: [FaceCrop]
    /// Number of distinct face tracks.
    public var tracks: Int
    public var warnings: [String]
    /// Seconds spent detecting, tracking and cropping faces (the rest of a read is decoding).
    public var faceSeconds: Double = 0
    /// For mouth-motion reads (`readMotionWindows`): the windows, whose `track` is the `trackID` of their crops.
    public var motionWindows: [MotionWindow] = []
    /// For a fusion: the reads of its other members, in member order (the primary member's read is this one).
    public var companions: [MediaFaces] = []

    /// Frames in which at least one face was kept.
    public var framesWithFaces: Int { Set(crops.map(\.frameIndex)).count }
}

/// Turns any image or video a user has into face crops with tracks.
public struct MediaFaceReader {
    public var detector: MTCNN
    public var extraction: FaceExtractionOptions
    public var cropper: FaceCropper
    public var sampling: FrameSampler
    /// Applied to every decoded frame before face detection (robustness protocols degrade frames here).
    public var frameTransform: (@Sendable (RGBImage) -> RGBImage)?
    /// When set, aligned crops take their five landmarks from FaceMesh instead of MTCNN (`LandmarkRefiner`).
    public var landmarkRefiner: LandmarkRefiner?
    /// Frames larger than this are shrunk for face detection; crops still come from the full frame.
    public var detectionScale = DetectionScale()

    public init(detector: MTCNN, extraction: FaceExtractionOptions = FaceExtractionOptions(), cropper: FaceCropper = FaceCropper(),
                sampling: FrameSampler = .uniform(count: 32)) {
        (self.detector, self.extraction, self.cropper, self.sampling) = (detector, extraction, cropper, sampling)
    }

    /// Whether `path` holds a still image (by its first bytes; everything else is tried as a video).
    public static func isImage(path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 32)) ?? Data()
        return ImageFormat.sniff([UInt8](head)) != nil
    }

    /// Detects, tracks and crops the faces of `path`.
    ///
    /// - Parameter progress: called after each frame with (frames done, frames planned or nil).
    /// - Throws: `MediaError` for files that cannot be read as an image or a video.
    public func read(path: String, progress: (Int, Int?) -> Void = { _, _ in }) throws -> MediaFaces {
        let extractor = FaceExtractor(detector: detector, options: extraction)
        var crops: [FaceCrop] = []
        var faceSeconds = 0.0
        func take(_ decoded: RGBImage, index: Int, time: Double) {
            let image = frameTransform?(decoded) ?? decoded
            let started = DispatchTime.now().uptimeNanoseconds
            defer { faceSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
            let (small, factor) = detectionScale.detectionImage(for: image)
            for (track, detected) in extractor.process(small, frameIndex: index, time: time) {
                let full = detected.scaled(by: factor)
                let face = landmarkRefiner?.refine(full, in: image) ?? full
                crops.append(FaceCrop(trackID: track, frameIndex: index, time: time, face: face, image: cropper.crop(image, face: face)))
            }
        }
        if Self.isImage(path: path) {
            let image = try ImageDecoder.decode(path: path)
            take(image, index: 0, time: 0)
            progress(1, 1)
            return MediaFaces(source: path, kind: .image, frameSize: (image.width, image.height), frames: 1, crops: crops,
                              tracks: extractor.tracks.count, warnings: [], faceSeconds: faceSeconds)
        }
        let reader = try VideoReader(path: path)
        var frames = 0
        let summary = try reader.frames(sampling: sampling) { frame in
            take(frame.image, index: frame.index, time: frame.time)
            frames += 1
            progress(frames, nil)
            return .continue
        }
        return MediaFaces(source: path, kind: .video, frameSize: (reader.info.width, reader.info.height), frames: frames,
                          crops: crops, tracks: extractor.tracks.count, warnings: summary.warnings, faceSeconds: faceSeconds)
    }

    /// The sampled frames of `path` whole, without face detection, for detectors that look at the full image: each
    /// frame (after `frameTransform`) resized to `side` × `side` with `method` (aspect not kept) becomes one "crop" of
    /// track 0 whose face box is the whole frame (detector score 1, no landmarks).
    ///
    /// - Throws: `MediaError` for files that cannot be read as an image or a video.
    public func readWholeFrames(path: String, side: Int, method: ResizeMethod = .bilinear,
                                progress: (Int, Int?) -> Void = { _, _ in }) throws -> MediaFaces {
        let side = max(1, side)
        var crops: [FaceCrop] = []
        func take(_ decoded: RGBImage, index: Int, time: Double) {
            let image = frameTransform?(decoded) ?? decoded
            let whole = DetectedFace(box: FaceBox(x1: 0, y1: 0, x2: Float(image.width), y2: Float(image.height)), score: 1, landmarks: [])
            let resized = image.width == side && image.height == side ? image : image.resized(width: side, height: side, method: method)
            crops.append(FaceCrop(trackID: 0, frameIndex: index, time: time, face: whole, image: resized))
        }
        if Self.isImage(path: path) {
            let image = try ImageDecoder.decode(path: path)
            take(image, index: 0, time: 0)
            progress(1, 1)
            return MediaFaces(source: path, kind: .image, frameSize: (image.width, image.height), frames: 1, crops: crops, tracks: 1, warnings: [])
        }
        let reader = try VideoReader(path: path)
        let summary = try reader.frames(sampling: sampling) { frame in
            take(frame.image, index: frame.index, time: frame.time)
            progress(crops.count, nil)
            return .continue
        }
        return MediaFaces(source: path, kind: .video, frameSize: (reader.info.width, reader.info.height), frames: crops.count,
                          crops: crops, tracks: crops.isEmpty ? 0 : 1, warnings: summary.warnings)
    }
}
