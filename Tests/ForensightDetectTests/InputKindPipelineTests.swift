import XCTest
import Foundation
import ForensightTensor
import ForensightMedia
import ForensightFaces
import ForensightData
import ForensightDetect
import ForensightEvaluation
import ForensightProtocols

/// `Pipeline` feeding each input kind: clips of one tracked face, and whole frames; and the evaluation runner with
/// crop-stage conditions on both. The toy detectors (DetectorInputTests.swift) are registered at run time.
final class InputKindPipelineTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-inputs-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        DetectorRegistry.register(RecordingClipDetector.entry)
        DetectorRegistry.register(RecordingImageDetector.entry)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func faceDetector() throws -> MTCNN {
        guard MTCNN.weightsPresent() else { throw XCTSkip("MTCNN weights absent (run scripts/setup/weights.sh)") }
        return try MTCNN()
    }

    func ffmpeg() throws -> String {
        guard let path = ["/usr/bin/ffmpeg", "/usr/local/bin/ffmpeg"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw XCTSkip("ffmpeg absent")
        }
        return path
    }

    func run(_ tool: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        try process.run(); process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "\(tool) \(arguments.joined(separator: " "))")
    }

    /// A 2-s, 10-fps video of one UTKFace photo growing brighter frame by frame, so every frame's crop differs.
    func faceVideo() throws -> String {
        let photos = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/datasets/utkface-real/images").standardized.path
        guard let name = try? FileManager.default.contentsOfDirectory(atPath: photos).sorted().first(where: { $0.hasSuffix(".jpg") }) else {
            throw XCTSkip("../shared/datasets/utkface-real absent")
        }
        let video = dir.appendingPathComponent("face.mp4").path
        try run(try ffmpeg(), ["-v", "error", "-loop", "1", "-i", photos + "/" + name, "-t", "2", "-r", "10", "-pix_fmt", "yuv420p",
                               "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2,eq=brightness=0.05*t:eval=frame", "-y", video])
        return video
    }

    func sigmoid(_ z: Float) -> Double { Double(1 / (1 + Foundation.exp(-z))) }

    func testAClipDetectorGetsTConsecutiveCropsOfOneTrackAndItsScoresLandOnThem() throws {
        let video = try faceVideo()
        let detector = try XCTUnwrap(try DetectorRegistry.make(card: RecordingClipDetector.card(frames: 3)) as? RecordingClipDetector)
        let pipeline = Pipeline(detector: detector, faceDetector: try faceDetector(), frames: 7, aggregation: .mean)
        let (verdict, crops) = try pipeline.analyzeKeepingCrops(path: video)
        XCTAssertEqual(verdict.faces.count, 1)
        let face = try XCTUnwrap(verdict.faces.first)
        let ordered = crops.filter { $0.track == face.track }.sorted { $0.frame < $1.frame }
        XCTAssertEqual(ordered.count, 7, "one face in each of the 7 sampled frames")
        XCTAssertNotEqual(ordered[0].image, ordered[1].image, "the frames differ, so the order is visible")
        // Windows of exactly T = 3 crops of the track, in frame order, stride 3; the last padded with the last crop.
        XCTAssertTrue(detector.clips.allSatisfy { $0.count == 3 })
        let windows = [[0, 1, 2], [3, 4, 5], [6, 6, 6]]
        XCTAssertEqual(detector.clips.count, windows.count)
        for (clip, window) in zip(detector.clips, windows) { XCTAssertEqual(clip, window.map { ordered[$0].image }) }
        // Window k was scored with logit k: each of its face-frames carries σ(k); per face and per file the means.
        XCTAssertEqual(face.frames.map(\.frame), ordered.map(\.frame))
        for (i, frame) in face.frames.enumerated() { XCTAssertEqual(frame.probability, sigmoid(Float(i / 3)), accuracy: 1e-6) }
        let mean = face.frames.map(\.probability).reduce(0, +) / 7
        XCTAssertEqual(face.probability, mean, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(verdict.probability), mean, accuracy: 1e-9)
        XCTAssertEqual(verdict.framesWithFaces, 7)
        // The timeline still has one series per face.
        XCTAssertEqual(try pipeline.explanation(of: verdict, crops: crops).map(\.name), ["timeline.svg"])
    }

    func testCropConditionsDegradeEachCropOfAClip() throws {
        let video = try faceVideo()
        let data = dir.appendingPathComponent("clips")
        for sub in ["real", "fake"] { try FileManager.default.createDirectory(at: data.appendingPathComponent(sub), withIntermediateDirectories: true) }
        for name in ["fake/a.mp4", "real/b.mp4"] { try FileManager.default.copyItem(atPath: video, toPath: data.appendingPathComponent(name).path) }
        let manifest = try DatasetLayout.importer(for: data.path).load()
        let runner = EvaluationRunner(frames: 4, faceDetector: try faceDetector())
        let condition = try XCTUnwrap(EvaluationCondition(name: "crop:jpeg-q30"))
        let shared = RecordingClipDetector(card: RecordingClipDetector.card(frames: 2)), alone = RecordingClipDetector(card: shared.card)
        let together = runner.scoreCropConditions(manifest, detector: shared, modelName: "c", run: 0, conditions: [condition])
        let single = runner.score(manifest, detector: alone, modelName: "c", run: 0, condition: condition)
        XCTAssertEqual(together.count, 2)
        XCTAssertTrue(together.allSatisfy { $0.error == nil && $0.faces.count == 4 })
        XCTAssertEqual(together.map { $0.faces.map(\.score) }, single.map { $0.faces.map(\.score) })
        XCTAssertEqual(together.map { $0.faces.map(\.score) }, [[0, 0, 1, 1], [2, 2, 3, 3]].map { $0.map { sigmoid($0) } })
        // Both paths fed the same degraded clips, which differ from the clean crops.
        XCTAssertEqual(shared.clips, alone.clips)
        let clean = try Pipeline(detector: RecordingClipDetector(card: shared.card), faceDetector: runner.faceDetector, frames: 4)
            .analyzeKeepingCrops(path: manifest[0].path).crops.sorted { $0.frame < $1.frame }
        let degraded = clean.map { Perturbation.jpeg(quality: 30).apply(to: $0.image) }
        XCTAssertNotEqual(degraded, clean.map(\.image))
        XCTAssertEqual(shared.clips.flatMap { $0 }, degraded + degraded)
    }

    func testAWholeImageDetectorGetsWholeFramesAtItsInputSize() throws {
        var frame = RGBImage(width: 120, height: 90, fill: (10, 10, 10))
        for y in 0..<90 { for x in 0..<50 { frame.pixels[3 * (y * 120 + x)] = 250 } }
        let png = dir.appendingPathComponent("half-red.png").path
        try ImageEncoder.write(frame, to: png)
        let detector = try XCTUnwrap(try DetectorRegistry.make(card: RecordingImageDetector.card(side: 48, interpolation: .area))
                                     as? RecordingImageDetector)
        let pipeline = Pipeline(detector: detector, faceDetector: try faceDetector(), frames: 4)
        let v = try pipeline.analyze(path: png)
        let expected = frame.resized(width: 48, height: 48, method: .area)
        XCTAssertEqual(detector.images, [expected], "the whole frame, at the input size, by the card's filter")
        // One unit per frame: track 0, box = the whole frame, detector score 1, P(fake) of the frame.
        XCTAssertEqual(v.verdict, RecordingImageDetector.redLogit(expected) >= 0 ? .fake : .real)
        XCTAssertEqual(v.framesWithFaces, 1)
        XCTAssertEqual(v.faces.map(\.track), [0])
        let only = try XCTUnwrap(v.faces.first?.frames.first)
        XCTAssertEqual(only.box, [0, 0, 120, 90])
        XCTAssertEqual(only.detectorScore, 1)
        XCTAssertEqual(only.probability, sigmoid(RecordingImageDetector.redLogit(expected)), accuracy: 1e-6)
        XCTAssertEqual(try XCTUnwrap(v.probability), only.probability, accuracy: 1e-12)
        XCTAssertEqual(v.model.inputSize, 48)
        XCTAssertEqual(v.model.input, .wholeImage, "the record says the model scored whole frames")
        // The record keeps the forensight.detect/3 shape; a record without `model.input` reads as a face-crop model's.
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(v)) as? [String: Any])
        XCTAssertEqual((object["model"] as? [String: Any])?["input"] as? String, "whole-image")
        var older = object
        older["model"] = (object["model"] as? [String: Any])?.filter { $0.key != "input" }
        XCTAssertEqual(try JSONDecoder().decode(Verdict.self, from: JSONSerialization.data(withJSONObject: older)).model.input, .faceCrop)
        let json = try JSONEncoder().encode(v)
        XCTAssertEqual(try JSONDecoder().decode(Verdict.self, from: json), v)
        XCTAssertEqual(v.schema, "forensight.detect/3")

        // An ensemble of whole-image members scores each frame once per member.
        let a = RecordingImageDetector(card: RecordingImageDetector.card(id: "a")), b = RecordingImageDetector(card: RecordingImageDetector.card(id: "b"))
        let ensemble = try EnsembleDetector(id: "frames", members: [a, b], combiner: StackingCombiner(weights: [0.5, 0.5], bias: 0))
        let e = try Pipeline(detector: ensemble, faceDetector: pipeline.reader.detector, frames: 4).analyze(path: png)
        XCTAssertEqual(a.images, [expected]); XCTAssertEqual(b.images, [expected])
        XCTAssertEqual(e.faces.first?.frames.first?.members?.map(\.id), ["a", "b"])
        XCTAssertEqual(try XCTUnwrap(e.probability), only.probability, accuracy: 1e-5)

        // A video: each sampled frame, in order, one unit each.
        let video = dir.appendingPathComponent("bars.mp4").path
        try run(try ffmpeg(), ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=10", "-t", "2", "-pix_fmt", "yuv420p", "-y", video])
        let frames = RecordingImageDetector(card: RecordingImageDetector.card(side: 32, interpolation: nil))
        let clip = try Pipeline(detector: frames, faceDetector: pipeline.reader.detector, frames: 4).analyze(path: video)
        XCTAssertEqual(frames.images.count, 4)
        XCTAssertTrue(frames.images.allSatisfy { $0.width == 32 && $0.height == 32 })
        XCTAssertEqual(clip.kind, "video")
        XCTAssertEqual(clip.faces.count, 1)
        let sampled = try XCTUnwrap(clip.faces.first).frames
        XCTAssertEqual(sampled.count, 4)
        XCTAssertEqual(sampled.map(\.frame), sampled.map(\.frame).sorted())
        XCTAssertTrue(sampled.allSatisfy { $0.box == [0, 0, 96, 64] })
        for (f, image) in zip(sampled, frames.images) { XCTAssertEqual(f.probability, sigmoid(RecordingImageDetector.redLogit(image)), accuracy: 1e-6) }
    }

    func testCropConditionsDegradeTheWholeFrameForAWholeImageDetector() throws {
        let data = dir.appendingPathComponent("frames")
        for sub in ["real", "fake"] { try FileManager.default.createDirectory(at: data.appendingPathComponent(sub), withIntermediateDirectories: true) }
        var random = SeededRandom(seed: 3)
        let pictures = [(100, 80), (90, 60)].map { w, h in
            RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { _ in UInt8(random.next() % 256) })
        }
        try ImageEncoder.write(pictures[0], to: data.appendingPathComponent("real/a.png").path)
        try ImageEncoder.write(pictures[1], to: data.appendingPathComponent("fake/b.png").path)
        let manifest = try DatasetLayout.importer(for: data.path).load()
        let runner = EvaluationRunner(frames: 2, faceDetector: try faceDetector())
        let conditions = ["crop:blur-sigma2", "crop:jpeg-q30"].map { EvaluationCondition(name: $0)! }
        let shared = RecordingImageDetector(card: RecordingImageDetector.card())
        let together = runner.scoreCropConditions(manifest, detector: shared, modelName: "w", run: 0, conditions: conditions)
        XCTAssertEqual(together.count, 4)
        for condition in conditions {
            let alone = RecordingImageDetector(card: shared.card)
            let single = runner.score(manifest, detector: alone, modelName: "w", run: 0, condition: condition)
            let mine = together.filter { $0.condition == condition.name }
            XCTAssertEqual(mine.map(\.faces), single.map(\.faces), condition.name)
            XCTAssertTrue(single.allSatisfy { $0.error == nil && $0.faces.count == 1 })
            // The detector saw the whole frame at its input size, degraded.
            let byID = Dictionary(uniqueKeysWithValues: manifest.map { ($0.id, $0.path) })
            for (item, seen) in zip(single, alone.images) {
                let decoded = try ImageDecoder.decode(path: try XCTUnwrap(byID[item.id]))
                XCTAssertEqual(seen, condition.perturbation!.apply(to: decoded.resized(width: 48, height: 48, method: .area)))
            }
        }
    }
}
