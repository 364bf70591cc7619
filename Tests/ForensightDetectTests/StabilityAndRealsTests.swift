import XCTest
import Foundation
import ForensightMedia
import ForensightEvaluation
import ForensightProtocols

/// Reals called FAKE per group, ECE rows, and the stability protocol's flips, |ΔP| and paired AUC changes.
final class StabilityAndRealsTests: XCTestCase {
    typealias Item = EvaluationResults.Item

    func item(_ id: String, label: Int, scores: [Double], condition: String = "clean", attributes: [String: String]? = nil,
              video: String? = nil) -> Item {
        Item(model: "m", run: 0, condition: condition, dataset: "D", id: id, videoID: video ?? id, method: label == 1 ? "A" : nil, label: label,
             faces: scores.enumerated().map { .init(frame: $0.offset, face: 0, score: $0.element) }, error: nil, attributes: attributes)
    }

    func results(_ items: [Item], conditions: [String] = ["clean"]) throws -> EvaluationResults {
        var r = EvaluationResults(command: "test", seed: 3, framesPerVideo: 1,
                                  models: [.init(name: "m", path: "m", id: "m", sha256: "0", threshold: 0.5, notes: "")],
                                  datasets: [.init(name: "D", path: "/d", real: 0, fake: 0, methods: ["A"])], conditions: conditions, items: items)
        try r.computeMetrics(bootstrapResamples: 200)
        return r
    }

    func testWilsonIntervalKnownValues() {
        // Reference values: the closed form evaluated independently in Python (z = 1.959964).
        let a = EvaluationResults.wilsonInterval(0, 10)
        XCTAssertEqual(a.lower, 0, accuracy: 1e-9); XCTAssertEqual(a.upper, 0.27754, accuracy: 1e-4)
        let b = EvaluationResults.wilsonInterval(5, 10)
        XCTAssertEqual(b.lower, 0.23659, accuracy: 1e-4); XCTAssertEqual(b.upper, 0.76341, accuracy: 1e-4)
        let c = EvaluationResults.wilsonInterval(3, 200)
        XCTAssertEqual(c.lower, 0.005117, accuracy: 1e-4); XCTAssertEqual(c.upper, 0.043170, accuracy: 1e-4)
    }

    func testRealsCalledFakePerGroupCountNoFaceApart() throws {
        let items = [item("r1", label: 0, scores: [0.9, 0.7], attributes: ["race": "X"]),     // max-mean 0.8 → FAKE
                     item("r2", label: 0, scores: [0.2], attributes: ["race": "X"]),
                     item("r3", label: 0, scores: [0.6], attributes: ["race": "Y"]),
                     item("r4", label: 0, scores: [], attributes: ["race": "Y"]),             // NO_FACE
                     item("f1", label: 1, scores: [0.9])]
        let r = try results(items)
        let all = try XCTUnwrap(r.realFlags.first { $0.group == "all" })
        XCTAssertEqual([all.units, all.flagged, all.noFace], [3, 2, 1])
        XCTAssertEqual(all.rate, 2.0 / 3, accuracy: 1e-12)
        let x = try XCTUnwrap(r.realFlags.first { $0.group == "race=X" }), y = try XCTUnwrap(r.realFlags.first { $0.group == "race=Y" })
        XCTAssertEqual([x.units, x.flagged, x.noFace, y.units, y.flagged, y.noFace], [2, 1, 0, 1, 1, 1])
        // ECE rows: pooled frame level over the 5 face-frames with a face.
        let ece = try XCTUnwrap(r.calibration.first { $0.scope == "pooled" && $0.level == "frame" })
        XCTAssertEqual(ece.count, 5)
        XCTAssertEqual(ece.ece, try Metrics.expectedCalibrationError(probabilities: [0.9, 0.7, 0.2, 0.6, 0.9], labels: [0, 0, 0, 0, 1], bins: 10),
                       accuracy: 1e-12)
        XCTAssertLessThanOrEqual(ece.lower, ece.ece); XCTAssertGreaterThanOrEqual(ece.upper, ece.ece)
    }

    func testStabilityRowsCountFlipsAndDeltas() throws {
        var items: [Item] = []
        // Five reals and five fakes; the edit flips r0 (0.45 → 0.55), loses r1's face, and lowers f0 a little.
        for k in 0..<5 { items.append(item("r\(k)", label: 0, scores: [0.1 * Double(k) + 0.05])); items.append(item("f\(k)", label: 1, scores: [0.6 + 0.08 * Double(k)])) }
        items[0].faces[0].score = 0.45
        var edited = items.map { var e = $0; e.condition = "edit:jpeg-q71"; return e }
        edited[0].faces[0].score = 0.55
        edited[2].faces = []
        edited[1].faces[0].score = 0.58
        let r = try results(items + edited, conditions: ["clean", "edit:jpeg-q71"])
        let real = try XCTUnwrap(r.stability.first { $0.subset == "real" }), fake = try XCTUnwrap(r.stability.first { $0.subset == "fake" })
        XCTAssertEqual([real.pairs, real.flips, fake.pairs, fake.flips], [5, 2, 5, 0])
        XCTAssertEqual(real.meanAbsDelta!, 0.1 / 4, accuracy: 1e-9)       // r1 has no face after the edit
        XCTAssertEqual(fake.meanAbsDelta!, 0.02 / 5, accuracy: 1e-9)
        let auc = try XCTUnwrap(r.stability.first { $0.subset == "all" })
        XCTAssertEqual(auc.aucClean!, 1, accuracy: 1e-12)
        XCTAssertEqual(auc.auc!, try Metrics.auc(scores: [0.55, 0.25, 0.35, 0.45, 0.58, 0.68, 0.76, 0.84], labels: [0, 0, 0, 0, 1, 1, 1, 1]), accuracy: 1e-12)
        XCTAssertLessThanOrEqual(auc.aucDeltaLower!, auc.aucDelta!)
        let decoded = try JSONDecoder().decode(EvaluationResults.self, from: JSONEncoder().encode(r))
        XCTAssertEqual(decoded, r)
        let report = EvaluationReport(decoded).markdown()
        XCTAssertTrue(report.contains("Stability under benign edits") && report.contains("jpeg-q71") && report.contains("Reals called FAKE"))
    }

    func testStabilityEditsParseAndWriteTheEditedImage() throws {
        XCTAssertEqual(StabilityEdit.defaults.map(\.name), ["png", "jpeg-q93", "jpeg-q71", "scale-0.75", "scale-0.5", "crop-0.96", "mirror"])
        for edit in StabilityEdit.defaults { XCTAssertEqual(StabilityEdit(name: edit.name), edit) }
        XCTAssertNil(StabilityEdit(name: "jpeg-q0"))
        XCTAssertNil(StabilityEdit(name: "rotate"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-edit-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var image = RGBImage(width: 40, height: 20)
        for i in 0..<image.pixelCount { image.pixels[3 * i] = UInt8(i % 40 * 6) }
        let source = dir + "/src.png"
        try ImageEncoder.write(image, to: source)
        let mirrored = try ImageDecoder.decode(path: StabilityEdit.mirror.write(source: source, clean: image, into: dir, stem: "a"))
        XCTAssertEqual(mirrored, ImageGeometry.flipHorizontal(image))
        let half = try ImageDecoder.decode(path: StabilityEdit.scale(0.5).write(source: source, clean: image, into: dir, stem: "a"))
        XCTAssertEqual([half.width, half.height], [20, 10])
        let crop = try ImageDecoder.decode(path: StabilityEdit.centreCrop(keep: 0.5).write(source: source, clean: image, into: dir, stem: "a"))
        XCTAssertEqual(crop, ImageGeometry.crop(image, x: 10, y: 5, width: 20, height: 10))
        let jpeg = try StabilityEdit.jpeg(quality: 71).write(source: source, clean: image, into: dir, stem: "a")
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: jpeg)).prefix(3)), [0xFF, 0xD8, 0xFF])
    }
}
