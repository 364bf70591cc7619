import Foundation
import ForensightMedia
import ForensightFaces
import ForensightData
import ForensightDetect
import ForensightEvaluation

/// A benign edit people make to a photo before sharing it again. The stability protocol checks that a verdict
/// survives each one: the edited file is written to disk and run through `detect`'s whole pipeline (face detection
/// included), as a user's re-saved copy would be.
public enum StabilityEdit: Sendable, Equatable {
    /// The pixels a second, independent decoder (ffmpeg) makes of the file, saved as a lossless PNG.
    case decoderRoundTrip
    /// Re-encoded by the engine's JPEG encoder (libjpeg-turbo) at this IJG quality.
    case jpeg(quality: Int)
    /// Resized by this factor (bicubic), saved as PNG.
    case scale(Double)
    /// A centred crop keeping this fraction of the width and of the height, saved as PNG.
    case centreCrop(keep: Double)
    /// Mirrored left to right, saved as PNG.
    case mirror

    /// The seven edits, in report order.
    public static let defaults: [StabilityEdit] = [.decoderRoundTrip, .jpeg(quality: 93), .jpeg(quality: 71), .scale(0.75), .scale(0.5),
                                                   .centreCrop(keep: 0.96), .mirror]

    /// `png`, `jpeg-q93`, `scale-0.75`, `crop-0.96`, `mirror`.
    public var name: String {
        switch self {
        case .decoderRoundTrip: return "png"
        case .jpeg(let q): return "jpeg-q\(q)"
        case .scale(let f): return "scale-\(f)"
        case .centreCrop(let keep): return "crop-\(keep)"
        case .mirror: return "mirror"
        }
    }

    /// Parses `name`'s forms; nil for anything else.
    public init?(name: String) {
        func value(_ prefix: String) -> Double? { name.hasPrefix(prefix) ? Double(name.dropFirst(prefix.count)) : nil }
        if name == "png" { self = .decoderRoundTrip } else if name == "mirror" { self = .mirror }
        else if let q = value("jpeg-q"), q >= 1, q <= 100, q == q.rounded() { self = .jpeg(quality: Int(q)) }
        else if let f = value("scale-"), f > 0, f <= 4 { self = .scale(f) }
        else if let k = value("crop-"), k > 0.1, k <= 1 { self = .centreCrop(keep: k) }
        else { return nil }
    }

    /// The condition name of results rows for this edit.
    public var conditionName: String { "edit:" + name }

    /// Writes the edited copy of the image file `source` (whose own decoding is `clean`) into `folder` and returns
    /// its path.
    public func write(source: String, clean: RGBImage, into folder: String, stem: String) throws -> String {
        let base = folder + "/" + stem + "." + name
        switch self {
        case .decoderRoundTrip:
            try ImageEncoder.write(try ImageDecoder.decodeWithFFmpeg(path: source), to: base + ".png")
            return base + ".png"
        case .jpeg(let quality):
            try Data(try ImageEncoder.jpeg(clean, quality: quality)).write(to: URL(fileURLWithPath: base + ".jpg"))
            return base + ".jpg"
        case .scale(let factor):
            let (w, h) = (max(1, Int((Double(clean.width) * factor).rounded())), max(1, Int((Double(clean.height) * factor).rounded())))
            try ImageEncoder.write(clean.resized(width: w, height: h, method: .bicubic), to: base + ".png")
        case .centreCrop(let keep):
            let (w, h) = (max(1, Int((Double(clean.width) * keep).rounded())), max(1, Int((Double(clean.height) * keep).rounded())))
            try ImageEncoder.write(ImageGeometry.crop(clean, x: (clean.width - w) / 2, y: (clean.height - h) / 2, width: w, height: h),
                                   to: base + ".png")
        case .mirror:
            try ImageEncoder.write(ImageGeometry.flipHorizontal(clean), to: base + ".png")
        }
        return base + ".png"
    }
}

/// One still image of the stability sample: a photo as shipped, or a frame of a video written as JPEG quality 95.
public struct StabilityImage: Sendable {
    public var sample: Sample
    /// The image file scored as the clean version.
    public var path: String
    /// The frame index for video frames (nil for photos).
    public var frame: Int?
}

/// The stability protocol of `evaluate --stability`: the verdict of every sampled image, clean and under each edit.
public struct StabilityRunner {
    public var faceDetector: MTCNN
    public var edits: [StabilityEdit]
    /// Where frames and edited copies are written.
    public var workFolder: String

    public init(faceDetector: MTCNN, edits: [StabilityEdit] = StabilityEdit.defaults, workFolder: String) {
        (self.faceDetector, self.edits, self.workFolder) = (faceDetector, edits, workFolder)
    }

    /// Every k-th sample of each dataset (sorted by id, k = ⌈count / perDataset⌉), as images: photos as they are,
    /// videos as `framesPerVideo` evenly spaced frames read by scanning (seeking in some files returns damaged
    /// frames) and written as JPEG quality 95. A video that cannot be read is reported through `failed` and skipped.
    public func images(of manifest: Manifest, perDataset: Int, framesPerVideo: Int = 8,
                       failed: (Sample, Error) -> Void = { _, _ in }) throws -> [StabilityImage] {
        try FileManager.default.createDirectory(atPath: workFolder + "/frames", withIntermediateDirectories: true)
        var out: [StabilityImage] = []
        for dataset in Set(manifest.map(\.dataset)).sorted() {
            let members = manifest.filter { $0.dataset == dataset }.sorted { $0.id < $1.id }
            let step = max(1, (members.count + perDataset - 1) / max(perDataset, 1))
            for sample in stride(from: 0, to: members.count, by: step).map({ members[$0] }) {
                guard MediaFiles.isVideo(path: sample.path) else { out.append(StabilityImage(sample: sample, path: sample.path, frame: nil)); continue }
                do {
                    let frames = try VideoReader(path: sample.path).readFrames(sampling: .uniform(count: framesPerVideo)).frames
                    for frame in frames {
                        let path = workFolder + "/frames/" + Self.safeName(sample.id) + "_f\(frame.index).jpg"
                        try ImageEncoder.write(frame.image, to: path, jpegQuality: 95)
                        out.append(StabilityImage(sample: sample, path: path, frame: frame.index))
                    }
                } catch { failed(sample, error) }
            }
        }
        return out
    }

    /// Scores every image clean and under every edit with `detector`: items with condition `clean` and
    /// `edit:<name>`, one per image (id `<sample id>#f<frame>` for video frames, whose `videoID` stays the video's).
    public func score(_ images: [StabilityImage], detector: any Detector, modelName: String, run: Int, frames: Int = 32,
                      landmarkRefiner: LandmarkRefiner? = nil, progress: (Int, Int) -> Void = { _, _ in }) -> [EvaluationResults.Item] {
        let pipeline = Pipeline(detector: detector, faceDetector: faceDetector, frames: frames, landmarkRefiner: landmarkRefiner)
        let editFolder = workFolder + "/edits"
        try? FileManager.default.createDirectory(atPath: editFolder, withIntermediateDirectories: true)
        var items: [EvaluationResults.Item] = []
        for (n, image) in images.enumerated() {
            let s = image.sample
            let id = image.frame.map { s.id + "#f\($0)" } ?? s.id
            func item(_ condition: String, path: String?) -> EvaluationResults.Item {
                var it = EvaluationResults.Item(model: modelName, run: run, condition: condition, dataset: s.dataset, id: id,
                                                videoID: s.videoID ?? s.id, method: s.isFake ? s.method : nil, label: s.label, faces: [], error: nil)
                guard let path else { it.error = "the edited copy could not be written"; return it }
                do {
                    let verdict = try pipeline.analyze(path: path)
                    it.faces = verdict.faces.flatMap { face in
                        face.frames.map { EvaluationResults.FaceScore(frame: image.frame ?? $0.frame, face: face.track, score: $0.probability) }
                    }
                } catch { it.error = "\(error)" }
                return it
            }
            items.append(item("clean", path: image.path))
            let clean = try? ImageDecoder.decode(path: image.path)
            for edit in edits {
                let path = clean.flatMap { try? edit.write(source: image.path, clean: $0, into: editFolder, stem: "\(n)") }
                items.append(item(edit.conditionName, path: path))
                if let path { try? FileManager.default.removeItem(atPath: path) }
            }
            progress(n + 1, images.count)
        }
        return items
    }

    static func safeName(_ id: String) -> String {
        String(id.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
    }
}
