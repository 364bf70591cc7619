import Foundation
import ForensightMedia
import ForensightFaces

/// A resumable on-disk cache of face crops for every sample of a manifest (`forensight prepare`).
///
/// Layout: `<root>/items/<key>/` holds one item's crops (`<track>_<frame>.png`) and its face-frame records
/// (`faces.jsonl`). An item is written into a temporary folder renamed into place only when complete, so an
/// interrupted run leaves no half-written item and a re-run skips every finished one. `<root>/faces.jsonl` is the
/// face-frame manifest of all finished items, rebuilt at the end of each run.
public struct FaceCache {
    public let root: String
    public let reader: MediaFaceReader

    public init(root: String, reader: MediaFaceReader) { (self.root, self.reader) = (root, reader) }

    /// The same cache settings with `frames` uniformly sampled frames per video, in the sibling folder
    /// `<root>-<frames>f` (so crops sampled differently never mix). The face detector is shared.
    public func withFrames(_ frames: Int) -> FaceCache {
        var reader = reader
        reader.sampling = .uniform(count: frames)
        return FaceCache(root: root + "-\(frames)f", reader: reader)
    }

    /// What happened to one sample.
    public enum Outcome: Equatable, Sendable {
        case cached(faces: Int)
        case skipped
        case noFace
        case failed(String)
    }

    /// A folder name for a sample id: readable characters kept, plus a hash so distinct ids never collide.
    public static func key(for id: String) -> String {
        let hash = stableHash(id)
        let readable = String(id.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" }.suffix(80))
        return readable + "-" + String(hash, radix: 16)
    }

    func itemFolder(_ sample: Sample) -> String { root + "/items/" + Self.key(for: sample.id) }

    /// Extracts and stores the faces of `sample` unless already cached.
    public func prepare(_ sample: Sample) -> Outcome {
        let fm = FileManager.default
        let final = itemFolder(sample)
        if fm.fileExists(atPath: final + "/faces.jsonl") { return .skipped }
        let temporary = final + ".partial-\(getpid())"
        try? fm.removeItem(atPath: temporary)
        do {
            try fm.createDirectory(atPath: temporary, withIntermediateDirectories: true)
            let result = try reader.read(path: sample.path)
            var records = Manifest()
            for crop in result.crops {
                let name = String(format: "%02d_%06d.png", crop.trackID, crop.frameIndex)
                try ImageEncoder.write(crop.image, to: temporary + "/" + name)
                records.samples.append(Sample(id: "\(sample.id)#\(crop.frameIndex)#\(crop.trackID)", path: final + "/" + name,
                                              label: sample.label, method: sample.method, dataset: sample.dataset,
                                              videoID: sample.videoID ?? sample.id, identity: sample.identity,
                                              split: sample.split, frameIndex: crop.frameIndex))
                let toCrop = reader.cropper.transform(for: crop.face)
                records.samples[records.samples.count - 1].landmarks = crop.face.landmarks.flatMap { p -> [Float] in
                    let q = toCrop.apply(x: Double(p.x), y: Double(p.y))
                    return [Float(q.x), Float(q.y)]
                }
            }
            try records.write(to: temporary + "/faces.jsonl")
            try? fm.removeItem(atPath: final)
            try fm.moveItem(atPath: temporary, toPath: final)
            return result.crops.isEmpty ? .noFace : .cached(faces: result.crops.count)
        } catch {
            try? fm.removeItem(atPath: temporary)
            return .failed("\(error)")
        }
    }

    /// The face-frame manifest of every finished item of `manifest`, in manifest order.
    public func faceManifest(for manifest: Manifest) throws -> Manifest {
        var all = Manifest()
        for sample in manifest {
            let file = itemFolder(sample) + "/faces.jsonl"
            if FileManager.default.fileExists(atPath: file) { all.samples += try Manifest.read(from: file).samples }
        }
        return all
    }
}

/// FNV-1a of the UTF-8 bytes: the same 64-bit value for the same text on every run and machine (unlike `hashValue`).
public func stableHash(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in text.utf8 { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
    return hash
}
