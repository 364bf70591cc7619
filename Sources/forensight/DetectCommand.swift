import ArgumentParser
import Foundation
import ForensightMedia
import ForensightFaces
import ForensightDetect
import ForensightTensor

extension VerdictAggregation: ExpressibleByArgument {}
extension LandmarkSource: ExpressibleByArgument {}

struct Detect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tell whether the faces in images and videos were manipulated.",
        discussion: """
        For each input (an image, a video, or a folder of them): 32 frames spread evenly over a video, faces found by MTCNN and tracked, aligned crops scored by the detector with P(fake), then one verdict per face and per input: FAKE when the aggregated probability reaches the model's threshold, REAL below it, NO_FACE when no face was found. The default model (models/ensemble-default.safetensors: three self-blend detectors stacked, fused with a mouth-motion lip-sync detector that reads 3 windows of 2 s of consecutive frames and changes a verdict only when it calls the video FAKE) ships with the program; without it, models/sbi-efficientnet-lite0.safetensors (about 0.4× the time). --model loads another: a single detector, an ensemble file (forensight models ensemble), whose output also lists each member's P(fake) per face, or a fusion (forensight models fuse), whose output also gives each member's own verdict.

        Aggregation over face-frames: max-mean (default; per frame the most suspicious face, then the mean over frames), mean (every face-frame), confident (the mean of confidently fake frames when there are enough of them). A face's own verdict is the mean of its frames.

        --explain DIR shows why: for each input, DIR/<input>/timeline.svg (P(fake) of each face over time against the threshold) and DIR/<input>/face<N>.png (the face's most suspicious crop beside a Grad-CAM heatmap of what pushed the score towards FAKE).

        Output: one line per input on stdout; --json prints one JSON object per input (schema forensight.detect/3, docs/DETECT.md); --csv one row per input. Progress goes to stderr. A file that cannot be read is reported and the run goes on.

        Exit status: 0 when every input got a verdict (for folders: at least one file), 1 when an input could not be read or the model is missing, 2 for usage errors.

        Examples:
          forensight detect clip.mp4
          forensight detect photo.jpg --json
          forensight detect videos/ --csv > verdicts.csv
        """)

    @Argument(help: "Images, videos or folders of them.")
    var inputs: [String]

    @Option(help: "Detector weights (default: the shipped model, or $FORENSIGHT_MODEL).")
    var model: String?

    @Option(help: "How face-frame scores become one score per input: max-mean, mean or confident (default: the model's).")
    var aggregate: VerdictAggregation?

    @Option(help: "P(fake) at or above which the verdict is FAKE (default: the model's).")
    var threshold: Double?

    @Option(help: "Frames sampled per video, spread evenly over its length.")
    var frames = 32

    @Option(help: "Landmarks that align face crops: mtcnn or facemesh (default: the model's).")
    var landmarks: LandmarkSource?

    @Option(help: "Folder for explanations: per input, a P(fake) timeline (SVG) and each face's most suspicious crop with its Grad-CAM heatmap (PNG).")
    var explain: String?

    @Flag(help: "One JSON object per input (schema forensight.detect/3).")
    var json = false

    @Flag(help: "CSV with a header: source, verdict, probability, faces, frames, frames_with_faces, error.")
    var csv = false

    func validate() throws {
        guard !(json && csv) else { throw ValidationError("choose one of --json and --csv") }
        guard frames > 0 && frames <= 10_000 else { throw ValidationError("--frames must be between 1 and 10000") }
        if let threshold { guard (0...1).contains(threshold) else { throw ValidationError("--threshold must be between 0 and 1") } }
    }

    func run() throws {
        // Face detection meets tensors of a new shape in every frame and window: a large reuse pool would only fill
        // up with them (1 GiB by default; docs/ARCHITECTURE.md, "Memory").
        AnalysisPool.apply()
        guard let modelPath = model ?? ModelLocations.defaultModel() else {
            throw fail("no detector found: models/\(ModelLocations.defaultModelName) is missing; pass --model FILE or set FORENSIGHT_MODEL")
        }
        let detector: any Detector
        do { detector = try DetectorRegistry.load(path: modelPath) } catch { throw fail("\(error)") }
        let faceDetector: MTCNN
        do { faceDetector = try MTCNN() } catch { throw fail("\(error) (run scripts/setup/weights.sh)") }
        let refiner: LandmarkRefiner?
        do { refiner = try Pipeline.landmarkRefiner(for: detector, override: landmarks) } catch { throw fail("\(error)") }
        let pipeline = Pipeline(detector: detector, faceDetector: faceDetector, frames: frames, aggregation: aggregate, threshold: threshold,
                                landmarkRefiner: refiner)

        let (files, problems) = MediaFiles.collect(inputs)
        var failures = problems.count, done = 0
        for p in problems { note("forensight: \(p)") }
        if csv { print("source,verdict,probability,faces,frames,frames_with_faces,error") }
        // Several files: the next files are decoded and their faces found on a second thread while this one scores the
        // faces of the files already read, several files' crops in one batch.
        if files.count > 1 {
            // One reader thread: on two cores a second one (`Pipeline.withOwnFaceDetector`) measured no faster.
            // The reader and this thread both call GEMMs: OpenBLAS splitting each over every core as well made a folder
            // of small photos about 10 % slower on two cores (docs/BENCHMARKS.md); our own loops split the large ones.
            withSingleThreadedBLAS {
                let readAhead = ReadAhead(paths: files, pipelines: [pipeline], depth: 4)
                var n = 0
                while case let group = readAhead.nextGroup(crops: 16), !group.isEmpty {
                    let bar = ProgressBar("detect \(n + group.count)/\(files.count)", total: nil)
                    let outcomes = ComputeThreads.sharingCores { pipeline.score(group) }
                    bar.finish()
                    for (item, outcome) in zip(group, outcomes) {
                        report(outcome, file: item.path, index: n, pipeline: pipeline, failures: &failures, done: &done)
                        n += 1
                    }
                }
            }
        } else {
            for (n, file) in files.enumerated() {
                AnalysisPool.apply(forFile: file)
                var bar = ProgressBar("detect \(n + 1)/\(files.count) \((file as NSString).lastPathComponent)", total: nil)
                let outcome = Result { try pipeline.analyzeKeepingCrops(path: file) { frame, _ in bar.update(frame, detail: "frames") } }
                bar.finish()
                report(outcome, file: file, index: n, pipeline: pipeline, failures: &failures, done: &done)
            }
        }
        let onlyFolders = inputs.allSatisfy { var d: ObjCBool = false; return FileManager.default.fileExists(atPath: $0, isDirectory: &d) && d.boolValue }
        if files.isEmpty || (failures > 0 && !(onlyFolders && done > 0)) { throw ExitCode(1) }
    }

    /// Prints one file's verdict (or its failure as an ERROR record), writes its explanation, and counts it.
    func report(_ outcome: Result<(verdict: Verdict, crops: [(track: Int, frame: Int, image: RGBImage)]), Error>, file: String, index n: Int,
                pipeline: Pipeline, failures: inout Int, done: inout Int) {
        let verdict: Verdict
        switch outcome {
        case .success(let (v, crops)):
            verdict = v
            done += 1
            if let explain {
                let folder = (explain as NSString).appendingPathComponent(Faces.folderName(for: file, index: n))
                do { try Self.explain(v, crops: crops, pipeline: pipeline, into: folder) } catch { note("forensight: \(folder): \(error)") }
            }
        case .failure(let error):
            failures += 1
            note("forensight: \(error)")
            verdict = .failure(source: file, error: "\(error)", model: pipeline.modelInfo, aggregation: pipeline.aggregation.rawValue)
        }
        for w in verdict.warnings { note("forensight: \(file): \(w)") }
        emit(verdict)
    }

    func emit(_ v: Verdict) {
        if json {
            if let data = try? v.jsonData() { print(String(decoding: data, as: UTF8.self)) }
        } else if csv {
            let fields = [v.source, v.verdict.rawValue, v.probability.map { String(format: "%.4f", $0) } ?? "", String(v.faces.count),
                          String(v.frames), String(v.framesWithFaces), v.error ?? ""]
            print(fields.map(Self.csvField).joined(separator: ","))
        } else {
            print(Self.summary(v))
            for line in Self.memberLines(v) { print(line) }
        }
    }

    /// For an ensemble, one line per face: each member's mean P(fake) and the combined one,
    /// `  face 0: sbi-efficientnet-lite0 0.91, synthesis 0.12 → 0.85`. For a fusion, then one line per other member:
    /// `  mouth-motion: REAL (P(fake) 0.24 < 0.90; 3 motion windows)`.
    static func memberLines(_ v: Verdict) -> [String] {
        let faces = v.faces.compactMap { face -> String? in
            guard let members = face.members else { return nil }
            let listed = members.map { String(format: "%@ %.2f", $0.id, $0.pFake) }.joined(separator: ", ")
            return String(format: "  face %d: %@ → %.2f", face.track, listed, face.probability)
        }
        // A photo has no motion: the mouth member says nothing there.
        let others = (v.members ?? []).dropFirst().filter { !($0.input == .mouthMotion && v.kind == "image") }.map { m -> String in
            let n = m.faces?.count ?? 0
            let what = m.input == .mouthMotion ? (n == 1 ? "1 motion window" : "\(n) motion windows") : (n == 1 ? "1 face" : "\(n) faces")
            guard let p = m.probability else { return "  \(m.id): \(m.verdict.rawValue) (nothing to score)" }
            return String(format: "  %@: %@ (P(fake) %.2f %@ %.2f; %@)", m.id, m.verdict.rawValue, p, p >= m.threshold ? "≥" : "<", m.threshold, what)
        }
        return faces + others
    }

    /// The readable line: `clip.mp4: FAKE (P(fake) 0.93 ≥ 0.55; 1 face in 32/32 frames; max-mean) 1.4 s`.
    static func summary(_ v: Verdict) -> String {
        switch v.verdict {
        case .error: return "\(v.source): ERROR (\(v.error ?? "unreadable"))"
        case .noFace where v.model.input == .mouthMotion && v.kind == "image":
            return "\(v.source): NO_FACE (a still image has no mouth motion) " + String(format: "%.1f s", v.timingsMs.total / 1000)
        case .noFace:
            return "\(v.source): NO_FACE (no face in \(v.frames) \(v.frames == 1 ? "frame" : "frames")) " + String(format: "%.1f s", v.timingsMs.total / 1000)
        case .real, .fake:
            let p = v.probability ?? 0
            let comparison = v.verdict == .fake ? "≥" : "<"
            // A whole-image model scores frames, not faces; a mouth-motion model windows of consecutive frames.
            let scored = v.model.input == .wholeImage ? "whole image"
                : v.model.input == .mouthMotion ? (v.faces.count == 1 ? "1 motion window" : "\(v.faces.count) motion windows")
                : v.faces.count == 1 ? "1 face" : "\(v.faces.count) faces"
            return String(format: "%@: %@ (P(fake) %.2f %@ %.2f; %@ in %d/%d frames; %@) %.1f s", v.source, v.verdict.rawValue, p, comparison,
                          v.model.threshold, scored, v.framesWithFaces, v.frames, v.aggregation, v.timingsMs.total / 1000)
        }
    }

    /// RFC 4180 quoting when a field holds a comma, quote or line break.
    static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}
