import ArgumentParser
import Foundation
import ForensightMedia
import ForensightFaces

struct Faces: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Detect, track and crop the faces of images and videos.",
        discussion: """
        Every input (an image, a video, or a folder of them) is read, videos are sampled (32 frames spread evenly by default), faces are found with MTCNN, linked into tracks and cut out as aligned crops. Crops go to OUT/<input name>/<track>_<frame>.png, one JSON line per crop to OUT/faces.jsonl (box, landmarks, score, track id, frame index, time). A file that cannot be read is reported and the run goes on.

        Exit status: 0 when every input was processed (or, for folders, at least one file), 1 when an input failed, 2 for usage errors.

        Examples:
          forensight faces clip.mp4 --out crops/
          forensight faces photos/ --out crops/ --size 224 --mode box --json
        """)

    @Argument(help: "Images, videos or folders of them.")
    var inputs: [String]

    @Option(help: "Folder for the crops and the faces.jsonl manifest (created if missing).")
    var out: String

    @Option(help: "Frames sampled per video, spread evenly over its length.")
    var frames = 32

    @Option(help: "Side of the square crops, in pixels.")
    var size = 256

    @Option(help: "Crop side relative to the face (1.3 keeps 15 % context per side).")
    var margin: Float = 1.3

    @Option(help: "aligned: rotate the five landmarks onto a template; box: an upright square around the box.")
    var mode: CropMode = .aligned

    @Option(help: "Faces kept per frame: largest, or half-of-largest (every face at least half the largest's area).")
    var select: FaceSelection = .halfOfLargest

    @Option(help: "Smallest face side looked for, in pixels.")
    var minFace: Float = 20

    @Option(help: "Full-image detection every N sampled frames; in between, tracked faces are re-found near their last box. 1 = always full.")
    var fullDetectionEvery = 8

    @Flag(help: "Print one JSON object per input on stdout (source, kind, frames, frames_with_faces, faces, tracks, error).")
    var json = false

    func validate() throws {
        guard frames > 0 else { throw ValidationError("--frames must be positive") }
        guard size >= 16 && size <= 4096 else { throw ValidationError("--size must be between 16 and 4096") }
        guard margin >= 1 && margin <= 4 else { throw ValidationError("--margin must be between 1 and 4") }
        guard fullDetectionEvery >= 1 else { throw ValidationError("--full-detection-every must be ≥ 1") }
    }

    func run() throws {
        let started = Date()
        let detector: MTCNN
        do { detector = try MTCNN(options: MTCNNOptions(minFaceSize: minFace)) } catch { throw fail("\(error)") }
        let reader = MediaFaceReader(detector: detector,
                                     extraction: FaceExtractionOptions(selection: select, minimumFaceSize: minFace,
                                                                       fullDetectionInterval: fullDetectionEvery),
                                     cropper: FaceCropper(size: size, margin: margin, mode: mode), sampling: .uniform(count: frames))
        let (files, problems) = MediaFiles.collect(inputs)
        for p in problems { note("forensight: \(p)") }
        do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
            throw fail("\(out): cannot create the output folder (\(error.localizedDescription))")
        }
        let manifest = ManifestWriter(path: (out as NSString).appendingPathComponent("faces.jsonl"))
        var failures = problems.count, faceCount = 0, done = 0
        for (n, file) in files.enumerated() {
            var bar = ProgressBar("faces \(n + 1)/\(files.count) \((file as NSString).lastPathComponent)", total: nil)
            do {
                let result = try reader.read(path: file) { frame, _ in bar.update(frame, detail: "frames") }
                bar.finish()
                let folder = (out as NSString).appendingPathComponent(Self.folderName(for: file, index: n))
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                for crop in result.crops {
                    let name = String(format: "%02d_%06d.png", crop.trackID, crop.frameIndex)
                    let path = (folder as NSString).appendingPathComponent(name)
                    try ImageEncoder.write(crop.image, to: path)
                    try manifest.append(FaceManifestRecord(crop: crop, path: path, source: file, cropper: reader.cropper))
                }
                for w in result.warnings { note("forensight: \(file): \(w)") }
                faceCount += result.crops.count
                done += 1
                if json { printJSON(["source": file, "kind": result.kind.rawValue, "frames": result.frames, "frames_with_faces": result.framesWithFaces,
                                           "faces": result.crops.count, "tracks": result.tracks]) }
            } catch {
                bar.finish()
                failures += 1
                note("forensight: \(error)")
                if json { printJSON(["source": file, "error": "\(error)"]) }
            }
        }
        note(String(format: "faces: %d files, %d faces, %d failed, %.1f s", done, faceCount, failures, Date().timeIntervalSince(started)))
        let onlyFolders = inputs.allSatisfy { var d: ObjCBool = false; return FileManager.default.fileExists(atPath: $0, isDirectory: &d) && d.boolValue }
        if failures > 0 && !(onlyFolders && done > 0) { throw ExitCode(1) }
    }

    /// A folder name per input: its file name without extension (prefixed by its position to keep names unique).
    static func folderName(for file: String, index: Int) -> String {
        String(format: "%04d_", index) + ((file as NSString).lastPathComponent as NSString).deletingPathExtension
    }
}

extension CropMode: ExpressibleByArgument {}
extension FaceSelection: ExpressibleByArgument {}

/// One line of faces.jsonl.
struct FaceManifestRecord: Encodable {
    var id: String
    var path: String
    var source: String
    var frame_index: Int
    var time: Double
    var track_id: Int
    var box: [Float]
    var landmarks: [[Float]]
    var score: Float
    var crop_size: Int
    var margin: Float
    var mode: String

    init(crop: FaceCrop, path: String, source: String, cropper: FaceCropper) {
        id = "\(source)#\(crop.frameIndex)#\(crop.trackID)"
        (self.path, self.source, frame_index, time, track_id) = (path, source, crop.frameIndex, crop.time, crop.trackID)
        box = [crop.face.box.x1, crop.face.box.y1, crop.face.box.x2, crop.face.box.y2]
        landmarks = crop.face.landmarks.map { [$0.x, $0.y] }
        score = crop.face.score
        (crop_size, margin, mode) = (cropper.size, cropper.margin, cropper.mode.rawValue)
    }
}

/// Appends JSON Lines to a file (created empty at the start of a run).
final class ManifestWriter {
    let path: String
    private let handle: FileHandle?
    private let encoder = JSONEncoder()

    init(path: String) {
        self.path = path
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        handle = FileHandle(forWritingAtPath: path)
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    func append<T: Encodable>(_ record: T) throws {
        guard let handle else { throw CocoaError(.fileWriteUnknown) }
        var line = try encoder.encode(record)
        line.append(0x0A)
        try handle.write(contentsOf: line)
    }

    deinit { try? handle?.close() }
}

/// Prints a JSON object on one line of stdout.
func printJSON(_ object: [String: Any]) {
    if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) {
        print(String(decoding: data, as: UTF8.self))
    }
}
