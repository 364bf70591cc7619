import Foundation
import ForensightMedia

/// Where in a video the mouth-motion detector looks: `count` windows of `seconds` of consecutive frames at the video's
/// own rate, spread evenly over the video (a video shorter than one window is one window of all its frames).
public struct MotionSampling: Codable, Sendable, Equatable {
    /// Windows per video.
    public var count: Int
    /// Length of each window in seconds.
    public var seconds: Double

    public init(count: Int = 3, seconds: Double = 2) {
        (self.count, self.seconds) = (max(1, count), max(0.1, seconds))
    }

    /// The first frame of each window and the window's length in frames, for a video of `frameCount` frames at `fps`.
    /// Windows do not overlap when the video is long enough; each has at least 2 frames (when the video has them).
    public func windowStarts(frameCount: Int, fps: Double) -> (starts: [Int], length: Int) {
        guard frameCount > 0 else { return ([], 0) }
        let length = min(frameCount, max(2, Int((seconds * (fps.isFinite && fps > 0 ? fps : 25)).rounded())))
        let room = frameCount - length
        guard room > 0, count > 1 else { return ([room / 2], length) }
        let n = min(count, room / length + 1)
        guard n > 1 else { return ([room / 2], length) }
        let starts = (0..<n).map { Int((Double(room) * Double($0) / Double(n - 1)).rounded()) }
        return (Array(Set(starts)).sorted(), length)
    }

    /// Every frame number of the windows, ascending (for one decoding pass).
    public func frameIndices(frameCount: Int, fps: Double) -> [Int] {
        let (starts, length) = windowStarts(frameCount: frameCount, fps: fps)
        return Array(Set(starts.flatMap { $0..<($0 + length) })).sorted()
    }
}

/// One face followed through one window of consecutive frames: FaceMesh's 468 landmarks (frame pixels) on each frame
/// where the mesh held, and a small aligned crop of each such frame for thumbnails.
public struct MotionWindow: Sendable {
    /// The window's position among the file's windows (0, 1, …), which `detect` reports as the face's track.
    public var track: Int
    /// Frames per second of the video (derivatives are taken per second).
    public var fps: Double
    /// Frame numbers, ascending and consecutive but for frames where the mesh was lost.
    public var frames: [Int]
    /// Seconds from the start of the video, per frame.
    public var times: [Double]
    /// The mesh per frame.
    public var landmarks: [[Landmark3D]]
    /// The MTCNN detection that started the window (and any re-detection), as the face box of each frame.
    public var boxes: [DetectedFace]
    /// Per frame: the grey mouth and reference patches (`MouthPatches`); empty when not cut.
    public var mouthPatches: [[UInt8]], referencePatches: [[UInt8]]

    public init(track: Int, fps: Double, frames: [Int] = [], times: [Double] = [], landmarks: [[Landmark3D]] = [], boxes: [DetectedFace] = [],
                mouthPatches: [[UInt8]] = [], referencePatches: [[UInt8]] = []) {
        (self.track, self.fps, self.frames, self.times, self.landmarks, self.boxes) = (track, fps, frames, times, landmarks, boxes)
        (self.mouthPatches, self.referencePatches) = (mouthPatches, referencePatches)
    }
}

/// Follows one face from frame to frame with FaceMesh alone, as MediaPipe does: the mesh of one frame places the
/// window of the next, and MTCNN runs only to start a track or when the mesh loses the face. That keeps the cost of a
/// 2-s window near 50 FaceMesh passes instead of 50 face detections.
public struct MeshTracker {
    public let detector: MTCNN
    public let mesh: FaceMesh
    public var minimumPresence: Float = 0.5
    public var detectionScale = DetectionScale()
    /// The window's centre offset (in the eye frame, interocular units) and side (interocular units) at the detection
    /// that started the track, so later windows keep the same framing as MTCNN's.
    private var framing: (dx: Float, dy: Float, side: Float)?
    private var previous: (mesh: [Landmark3D], face: DetectedFace)?

    public init(detector: MTCNN, mesh: FaceMesh) { (self.detector, self.mesh) = (detector, mesh) }

    /// Forgets the face (the next frame starts a new track with a detection).
    public mutating func reset() { (framing, previous) = (nil, nil) }

    /// The mesh of the followed face in `image` (the largest face when a new track starts), or nil when no face is found.
    public mutating func next(_ image: RGBImage) -> (landmarks: [Landmark3D], face: DetectedFace)? {
        if let previous, let framing, let region = Self.region(following: previous.mesh, framing: framing) {
            let result = mesh.landmarks(in: image, region: region)
            if result.presence > minimumPresence {
                self.previous = (result.landmarks, previous.face)
                return (result.landmarks, previous.face)
            }
        }
        reset()
        let (small, factor) = detectionScale.detectionImage(for: image)
        guard let face = detector.detect(small).map({ $0.scaled(by: factor) })
            .max(by: { $0.box.width * $0.box.height < $1.box.width * $1.box.height }), face.landmarks.count == 5 else { return nil }
        let region = FaceMeshRegion(face: face)
        let result = mesh.landmarks(in: image, region: region)
        guard result.presence > minimumPresence, let eyes = Self.eyeFrame(result.landmarks) else { return nil }
        let (ox, oy) = (region.center.x - eyes.mid.x, region.center.y - eyes.mid.y)
        framing = ((ox * eyes.cos + oy * eyes.sin) / eyes.iod, (-ox * eyes.sin + oy * eyes.cos) / eyes.iod, region.side / eyes.iod)
        previous = (result.landmarks, face)
        return (result.landmarks, face)
    }

    /// Eye midpoint, interocular distance and the eye line's direction of a mesh (nil for a degenerate one).
    static func eyeFrame(_ m: [Landmark3D]) -> (mid: Point, iod: Float, cos: Float, sin: Float)? {
        guard m.count == FaceMesh.landmarkCount else { return nil }
        var (a, b) = (FaceMesh.centroid(FaceMesh.rightEye, of: m), FaceMesh.centroid(FaceMesh.leftEye, of: m))
        if a.x > b.x { swap(&a, &b) }
        let (dx, dy) = (b.x - a.x, b.y - a.y)
        let iod = (dx * dx + dy * dy).squareRoot()
        guard iod > 1e-3, iod.isFinite else { return nil }
        return (Point(x: (a.x + b.x) / 2, y: (a.y + b.y) / 2), iod, dx / iod, dy / iod)
    }

    static func region(following m: [Landmark3D], framing: (dx: Float, dy: Float, side: Float)) -> FaceMeshRegion? {
        guard let e = eyeFrame(m) else { return nil }
        let center = Point(x: e.mid.x + (framing.dx * e.cos - framing.dy * e.sin) * e.iod,
                           y: e.mid.y + (framing.dx * e.sin + framing.dy * e.cos) * e.iod)
        let side = framing.side * e.iod
        guard side > 4, side.isFinite else { return nil }
        return FaceMeshRegion(center: center, side: side, rotation: atan2(e.sin, e.cos))
    }
}

extension MediaFaceReader {
    /// The motion windows of the video at `path` (`sampling`), each following the largest face with `MeshTracker`,
    /// with a crop of each tracked frame (the reader's cropper, aligned on the mesh's five points) as `crops`.
    /// A still image has no motion: it gives no windows. Frames where no face is found are left out of their window.
    ///
    /// - Parameter wholeVideo: one window over every frame instead (training reads whole videos this way).
    /// - Parameter region: where in the frame the face is known to stay (``MediaFaces/motionRegion(maximumGap:grow:)``
    ///   around the faces another read found): ffmpeg then delivers only that part of each frame, which spares most of the colour
    ///   conversion and piping. Landmarks, boxes and crops still come out in whole-frame pixels. When a window loses
    ///   the face inside the region, the whole frames are read again instead. Ignored with a `frameTransform`, which
    ///   is defined on whole frames.
    /// - Throws: `MediaError` for files that cannot be read as a video, `FaceDetectorError` without FaceMesh weights.
    public func readMotionWindows(path: String, sampling: MotionSampling, mesh: FaceMesh, wholeVideo: Bool = false, cropSize: Int? = nil,
                                  region: FrameRegion? = nil,
                                  progress: (Int, Int?) -> Void = { _, _ in }) throws -> (faces: MediaFaces, windows: [MotionWindow]) {
        if Self.isImage(path: path) {
            let image = try ImageDecoder.decode(path: path)
            progress(1, 1)
            return (MediaFaces(source: path, kind: .image, frameSize: (image.width, image.height), frames: 1, crops: [], tracks: 0,
                               warnings: ["mouth motion needs a video: a still image has none"]), [])
        }
        let reader = try VideoReader(path: path, region: frameTransform == nil ? region : nil)
        let (dx, dy) = (Float(reader.region?.x ?? 0), Float(reader.region?.y ?? 0))
        let fps = reader.info.fps > 0 && reader.info.fps.isFinite ? reader.info.fps : 25
        let frameCount = reader.info.frameCount ?? Int(((reader.info.duration ?? 0) * fps).rounded())
        let (starts, length) = wholeVideo ? ([0], Int.max) : sampling.windowStarts(frameCount: frameCount, fps: fps)
        var windowOf: [Int: Int] = [:]
        if !wholeVideo { for (w, s) in starts.enumerated() { for f in s..<(s + length) { windowOf[f] = w } } }
        let sampler: FrameSampler = wholeVideo ? .all : .indices(windowOf.keys.sorted())
        var windows = starts.indices.map { MotionWindow(track: $0, fps: fps) }
        var tracker = MeshTracker(detector: detector, mesh: mesh)
        tracker.detectionScale = detectionScale
        let cropper = cropSize.map { FaceCropper(size: $0, margin: self.cropper.margin, mode: self.cropper.mode) } ?? self.cropper
        var crops: [FaceCrop] = []
        var (frames, current, faceSeconds) = (0, -1, 0.0)
        let planned = wholeVideo ? nil : windowOf.count
        let summary = try reader.frames(sampling: sampler) { frame in
            let w = wholeVideo ? 0 : (windowOf[frame.index] ?? -1)
            frames += 1
            progress(frames, planned)
            guard w >= 0 else { return .continue }
            if w != current { tracker.reset(); current = w }
            let image = frameTransform?(frame.image) ?? frame.image
            let started = DispatchTime.now().uptimeNanoseconds
            defer { faceSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
            guard let (landmarks, detected) = tracker.next(image) else { return .continue }
            var face = detected
            face.landmarks = LandmarkRefiner.fivePoints(landmarks)
            let xs = landmarks.map(\.x), ys = landmarks.map(\.y)
            face.box = FaceBox(x1: xs.min()!, y1: ys.min()!, x2: xs.max()!, y2: ys.max()!)
            let crop = cropper.crop(image, face: face)
            windows[w].frames.append(frame.index)
            windows[w].times.append(frame.time)
            windows[w].landmarks.append(landmarks.map { Landmark3D(x: $0.x + dx, y: $0.y + dy, z: $0.z) })
            windows[w].boxes.append(face.translated(dx: dx, dy: dy))
            if let patches = MouthPatches.cut(image, mesh: landmarks) {
                windows[w].mouthPatches.append(patches.mouth)
                windows[w].referencePatches.append(patches.reference)
            } else {
                windows[w].mouthPatches.append([UInt8](repeating: 0, count: MouthPatches.mouthSize.width * MouthPatches.mouthSize.height))
                windows[w].referencePatches.append([UInt8](repeating: 0, count: MouthPatches.referenceSize.width * MouthPatches.referenceSize.height))
            }
            crops.append(FaceCrop(trackID: w, frameIndex: frame.index, time: frame.time, face: face.translated(dx: dx, dy: dy), image: crop))
            return .continue
        }
        let kept = windows.filter { $0.frames.count >= 2 }
        if reader.region != nil, kept.count < windows.count {
            // The face left the region (a cut, a large move): read the whole frames rather than lose a window.
            return try readMotionWindows(path: path, sampling: sampling, mesh: mesh, wholeVideo: wholeVideo, cropSize: cropSize, progress: progress)
        }
        let keptTracks = Set(kept.map(\.track))
        let faces = MediaFaces(source: path, kind: .video, frameSize: (reader.info.width, reader.info.height), frames: frames,
                               crops: crops.filter { keptTracks.contains($0.trackID) }, tracks: kept.count, warnings: summary.warnings,
                               faceSeconds: faceSeconds)
        return (faces, kept)
    }
}

extension MediaFaces {
    /// Where a later read of the same video may look for the face (``MediaFaceReader/readMotionWindows``'s `region`):
    /// the union of this read's face boxes grown by `grow` times the largest face's side, when its face crops are
    /// close enough in time (at most `maximumGap` seconds apart) that the face cannot have wandered far between
    /// them. Nil for a photo, fewer than two face crops, sparser samples, or a region that would cover most of the frame.
    public func motionRegion(maximumGap: Double = 1.5, grow: Float = 0.75) -> FrameRegion? {
        guard kind == .video, crops.count >= 2 else { return nil }
        let times = crops.map(\.time).sorted()
        guard zip(times, times.dropFirst()).allSatisfy({ $1 - $0 <= maximumGap }) else { return nil }
        let boxes = crops.map(\.face.box)
        let side = boxes.map { max($0.width, $0.height) }.max() ?? 0
        let union = (x1: boxes.map(\.x1).min()!, y1: boxes.map(\.y1).min()!, x2: boxes.map(\.x2).max()!, y2: boxes.map(\.y2).max()!)
        return FrameRegion(around: union, grow: grow * side, frameWidth: frameSize.width, frameHeight: frameSize.height)
    }
}
