import XCTest
import Foundation
import ForensightTensor
import ForensightMedia
import ForensightFaces
import ForensightData
import ForensightDetect
import ForensightEvaluation
import ForensightProtocols

/// A toy detector, written the way a new detector is added: this one class plus one registry line. It scores a
/// face crop by its mean green level: logit = (green − 128) · scale, the scale being its only weight.
final class GreenDetector: Detector {
    var card: DetectorCard
    var weightsSHA256 = ""
    var scale: Float

    init(card: DetectorCard, scale: Float = 1.0 / 16) { (self.card, self.scale) = (card, scale) }

    func faceLogits(_ faces: [RGBImage], batchSize: Int) -> [Float] {
        faces.map { face in
            var sum = 0
            for i in 0..<face.pixelCount { sum += Int(face.pixels[3 * i + 1]) }
            return (Float(sum) / Float(max(face.pixelCount, 1)) - 128) * scale
        }
    }

    func save(to path: String, dtype: SafetensorsDType) throws {
        try Safetensors.write(["scale": Tensor([scale], shape: [1])], to: path, dtype: dtype, metadata: ["forensight.card": card.json])
    }

    static let entry = DetectorRegistry.Entry(
        architecture: "toy-green", summary: "mean green level (a test detector)",
        make: { GreenDetector(card: $0) },
        load: { card, file, path in
            let detector = GreenDetector(card: card, scale: try file.allTensors()["scale"]?.scalars.first ?? 1)
            detector.weightsSHA256 = try FileDigest.sha256Hex(ofFile: path)
            return detector
        })
}

final class DetectorRegistryTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-registry-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        DetectorRegistry.register(GreenDetector.entry)       // the one registry line
    }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func testTheShippedArchitectureIsRegisteredAndUnknownOnesAreNamed() throws {
        XCTAssertTrue(DetectorRegistry.architectures.contains("efficientnet-lite0"))
        XCTAssertTrue(DetectorRegistry.architectures.contains("toy-green"))
        XCTAssertThrowsError(try DetectorRegistry.make(card: DetectorCard(id: "x", architecture: "no-such-net"))) {
            XCTAssertTrue("\($0)".contains("unknown detector architecture \"no-such-net\"") && "\($0)".contains("efficientnet-lite0"), "\($0)")
        }
        // The self-blend detector loads through the registry with its scores unchanged.
        var card = DetectorCard(id: "t", architecture: "efficientnet-lite0")
        card.inputSize = 64
        let direct = try DeepfakeDetector(card: card)
        direct.network.eval()
        let path = dir.appendingPathComponent("lite0.safetensors").path
        try direct.save(to: path)
        let loaded = try DetectorRegistry.load(path: path)
        XCTAssertTrue(loaded is DeepfakeDetector)
        let faces = [RGBImage(width: 64, height: 64, fill: (200, 40, 90)), RGBImage(width: 64, height: 64, fill: (10, 220, 30))]
        XCTAssertEqual(loaded.probabilities(faces), direct.probabilities(faces))
    }

    func testAToyDetectorRunsThroughDetectAndEvaluate() throws {
        var card = DetectorCard(id: "green", architecture: "toy-green")
        card.threshold = 0.5
        let path = dir.appendingPathComponent("green.safetensors").path
        try GreenDetector(card: card, scale: 0.25).save(to: path, dtype: .f32)
        let detector = try DetectorRegistry.load(path: path)
        XCTAssertEqual((detector as? GreenDetector)?.scale, 0.25)
        XCTAssertEqual(detector.card, card)
        let green = RGBImage(width: 32, height: 32, fill: (0, 200, 0)), grey = RGBImage(width: 32, height: 32, fill: (100, 100, 100))
        let p = detector.probabilities([green, grey])
        let expected: [Float] = [1 / (1 + Foundation.exp(-18)), 1 / (1 + Foundation.exp(7))]   // (200 − 128)/4, (100 − 128)/4
        XCTAssertEqual(p[0], expected[0], accuracy: 1e-6)
        XCTAssertEqual(p[1], expected[1], accuracy: 1e-6)
        let faceDetector = try MTCNN()
        // detect: a file without a face is NO_FACE, with the toy model's id and hash in the record.
        let wall = dir.appendingPathComponent("wall.png").path
        try ImageEncoder.write(RGBImage(width: 120, height: 90, fill: (90, 120, 150)), to: wall)
        let v = try Pipeline(detector: detector, faceDetector: faceDetector, frames: 2).analyze(path: wall)
        XCTAssertEqual(v.verdict, .noFace)
        XCTAssertEqual(v.model.id, "green")
        XCTAssertEqual(v.model.sha256, try FileDigest.sha256Hex(ofFile: path))
        // evaluate: the same runner `forensight evaluate` uses, on a real/ + fake/ folder dataset.
        let data = dir.appendingPathComponent("data")
        for sub in ["real", "fake"] { try FileManager.default.createDirectory(at: data.appendingPathComponent(sub), withIntermediateDirectories: true) }
        try ImageEncoder.write(RGBImage(width: 100, height: 80, fill: (50, 60, 70)), to: data.appendingPathComponent("real/a.png").path)
        try ImageEncoder.write(RGBImage(width: 100, height: 80, fill: (50, 250, 70)), to: data.appendingPathComponent("fake/b.png").path)
        let manifest = try DatasetLayout.importer(for: data.path).load()
        let items = EvaluationRunner(frames: 2, faceDetector: faceDetector).score(manifest, detector: detector, modelName: "green", run: 0,
                                                                                   condition: .clean)
        XCTAssertEqual(items.count, 2)
        XCTAssertTrue(items.allSatisfy { $0.error == nil && $0.model == "green" })
        // Faces found by MTCNN in real photos are scored by the toy model (skipped without the shared photos).
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/datasets/utkface-real/images").standardized.path
        guard let name = try? FileManager.default.contentsOfDirectory(atPath: folder).sorted().first(where: { $0.hasSuffix(".jpg") }) else {
            throw XCTSkip("../shared/datasets/utkface-real absent")
        }
        let face = try Pipeline(detector: detector, faceDetector: faceDetector, frames: 2).analyze(path: folder + "/" + name)
        XCTAssertEqual(face.faces.count, 1)
        let crop = try XCTUnwrap(Pipeline(detector: detector, faceDetector: faceDetector, frames: 2).analyzeKeepingCrops(path: folder + "/" + name).crops.first)
        XCTAssertEqual(face.probability!, Double(detector.probabilities([crop.image])[0]), accuracy: 1e-6)
    }
}

extension DetectorRegistryTests {
    /// Crop-stage conditions scored from one read per sample give what scoring each condition on its own gives.
    func testCropConditionsShareOneReadWithTheSameScores() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/datasets/utkface-real/images").standardized.path
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder).sorted().filter({ $0.hasSuffix(".jpg") }).prefix(3),
              names.count == 3 else { throw XCTSkip("../shared/datasets/utkface-real absent") }
        let data = dir.appendingPathComponent("crops")
        for sub in ["real", "fake"] { try FileManager.default.createDirectory(at: data.appendingPathComponent(sub), withIntermediateDirectories: true) }
        for (i, name) in names.enumerated() {
            try FileManager.default.copyItem(atPath: folder + "/" + name, toPath: data.appendingPathComponent(i == 0 ? "fake/\(name)" : "real/\(name)").path)
        }
        let manifest = try DatasetLayout.importer(for: data.path).load()
        let detector = GreenDetector(card: DetectorCard(id: "green", architecture: "toy-green"))
        let runner = EvaluationRunner(frames: 2, faceDetector: try MTCNN())
        let conditions = ["crop:jpeg-q30", "crop:blur-sigma2"].map { EvaluationCondition(name: $0)! }
        var streamed: [String] = []
        let shared = runner.scoreCropConditions(manifest, detector: detector, modelName: "g", run: 0, conditions: conditions,
                                                scored: { streamed.append($0.condition + "/" + $0.id) })
        XCTAssertEqual(shared.count, 2 * manifest.count)
        XCTAssertEqual(streamed.count, shared.count)
        for condition in conditions {
            let alone = runner.score(manifest, detector: detector, modelName: "g", run: 0, condition: condition)
            let together = shared.filter { $0.condition == condition.name }
            XCTAssertEqual(together.map(\.id), alone.map(\.id))
            for (a, b) in zip(together, alone) {
                XCTAssertNil(a.error); XCTAssertFalse(a.faces.isEmpty)
                XCTAssertEqual(a.faces.map(\.score), b.faces.map(\.score), "\(condition.name) \(a.id)")
            }
        }
        // The conditions really differ from each other.
        XCTAssertNotEqual(shared.filter { $0.condition == conditions[0].name }.map { $0.faces.map(\.score) },
                          shared.filter { $0.condition == conditions[1].name }.map { $0.faces.map(\.score) })
    }
}
