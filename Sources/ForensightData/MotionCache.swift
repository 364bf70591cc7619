import Foundation
import ForensightTensor
import ForensightMedia
import ForensightFaces

/// The face cache's clips of consecutive frames: for each video, the FaceMesh landmarks of the followed face on every
/// frame (`MediaFaceReader.readMotionWindows(wholeVideo:)`), so the mouth-motion detector trains without decoding
/// again.
///
/// Layout: `<root>/motion/<key>.safetensors` (`FaceCache.key` of the sample id) with `landmarks` [T, 468, 3] (frame
/// pixels), `frames` and `times` [T], the grey `mouth` [T, 768] and `reference` [T, 384] patches (`MouthPatches`),
/// and the frame rate and source path in the metadata. A file is written under a
/// temporary name and renamed into place, so an interrupted run leaves none half-written and a re-run skips every
/// finished video.
public struct MotionCache {
    public let root: String
    public let reader: MediaFaceReader
    public let mesh: FaceMesh

    /// Format of the stored files; a file of another version is read again from its video.
    public static let version = "2"

    static let mouthCount = MouthPatches.mouthSize.width * MouthPatches.mouthSize.height
    static let referenceCount = MouthPatches.referenceSize.width * MouthPatches.referenceSize.height

    public init(root: String, reader: MediaFaceReader, mesh: FaceMesh) { (self.root, self.reader, self.mesh) = (root, reader, mesh) }

    func file(for sample: Sample) -> String { root + "/motion/" + FaceCache.key(for: sample.id) + ".safetensors" }

    /// The whole-video track of `sample`, from the cache or read now and stored. Throws `MediaError` (unreadable video)
    /// or `FaceDetectorError`; a video without a face gives a window with no frames.
    public func track(for sample: Sample) throws -> MotionWindow {
        let path = file(for: sample)
        if let cached = try? Self.load(path), cached.source == sample.path { return cached.window }
        let read = try reader.readMotionWindows(path: sample.path, sampling: MotionSampling(), mesh: mesh, wholeVideo: true, cropSize: 16)
        let window = read.windows.first ?? MotionWindow(track: 0, fps: 25)
        try Self.store(window, source: sample.path, to: path)
        return window
    }

    /// Writes `window` atomically (temporary file, then rename).
    public static func store(_ window: MotionWindow, source: String, to path: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let t = window.frames.count
        let landmarks = Tensor(window.landmarks.flatMap { $0.flatMap { [$0.x, $0.y, $0.z] } }, shape: [t, FaceMesh.landmarkCount, 3])
        let tensors: [String: Tensor] = [
            "landmarks": landmarks,
            "frames": Tensor(window.frames.map(Float.init), shape: [t]),
            "times": Tensor(window.times.map(Float.init), shape: [t]),
            // A window cut without patches stores grey zeros, so every file has one patch per frame.
            "mouth": Tensor(window.mouthPatches.count == t ? window.mouthPatches.flatMap { $0.map(Float.init) } : [Float](repeating: 0, count: t * mouthCount),
                            shape: [t, mouthCount]),
            "reference": Tensor(window.referencePatches.count == t ? window.referencePatches.flatMap { $0.map(Float.init) }
                                    : [Float](repeating: 0, count: t * referenceCount), shape: [t, referenceCount]),
        ]
        let temporary = path + ".partial-\(getpid())"
        try Safetensors.write(tensors, to: temporary, metadata: ["fps": String(window.fps), "source": source, "version": version])
        _ = try? fm.removeItem(atPath: path)
        try fm.moveItem(atPath: temporary, toPath: path)
    }

    /// Reads a stored track and the path of the video it came from.
    public static func load(_ path: String) throws -> (window: MotionWindow, source: String) {
        let file = try SafetensorsFile(path: path)
        guard file.metadata["version"] == version, let fps = file.metadata["fps"].flatMap(Double.init) else {
            throw DatasetError(.io, path: path, reason: "not a motion track of format \(version)")
        }
        let (marks, frames, times) = (try file.tensor("landmarks"), try file.tensor("frames"), try file.tensor("times"))
        let t = frames.count
        guard marks.shape == [t, FaceMesh.landmarkCount, 3], times.count == t else {
            throw DatasetError(.io, path: path, reason: "motion track tensors disagree in length")
        }
        let (mouth, reference) = (try file.tensor("mouth"), try file.tensor("reference"))
        guard mouth.shape == [t, mouthCount], reference.shape == [t, referenceCount] else {
            throw DatasetError(.io, path: path, reason: "motion track patches disagree in length")
        }
        func rows(_ x: Tensor, _ width: Int) -> [[UInt8]] {
            let v = x.scalars
            return (0..<t).map { f in v[(f * width)..<((f + 1) * width)].map { UInt8(min(max($0.rounded(), 0), 255)) } }
        }
        let values = marks.scalars
        let meshes = (0..<t).map { f in
            (0..<FaceMesh.landmarkCount).map { i in
                let o = (f * FaceMesh.landmarkCount + i) * 3
                return Landmark3D(x: values[o], y: values[o + 1], z: values[o + 2])
            }
        }
        let window = MotionWindow(track: 0, fps: fps, frames: frames.scalars.map { Int($0) }, times: times.scalars.map(Double.init),
                                  landmarks: meshes, boxes: [], mouthPatches: rows(mouth, mouthCount), referencePatches: rows(reference, referenceCount))
        return (window, file.metadata["source"] ?? "")
    }
}
