import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightMedia
import ForensightFaces
import ForensightData
import ForensightDetect
import ForensightTraining

/// A tiny trainable face-crop detector registered from outside the library: one strided convolution, global average
/// pooling and a linear head. It exists to show that `SelfBlendTrainer` trains any `TrainableDetector`.
final class TinyTrainableDetector: TrainableDetector {
    final class Net: Module {
        let conv = Conv2d(3, 4, kernel: (3, 3), stride: (2, 2), padding: .same)
        let fc = Linear(4, 1)
        func callAsFunction(_ x: Tensor) -> Tensor { fc(conv(x).relu().adaptiveAvgPool2d((1, 1)).flattened(from: 1)) }
    }

    var card: DetectorCard
    var weightsSHA256 = ""
    let net = Net()
    private(set) var frozenBlocksSeen: [Int] = []

    init(card: DetectorCard) { self.card = card }

    var module: Module { net }
    var pretrainedWeightsName: String? { nil }

    func inputTensor(_ faces: [RGBImage]) -> Tensor {
        let s = card.inputSize
        var values: [Float] = []
        for face in faces {
            let image = face.resized(width: s, height: s, method: .bilinear)
            for c in 0..<3 { for i in 0..<(s * s) { values.append((Float(image.pixels[3 * i + c]) - 127) / 128) } }
        }
        return Tensor(values, shape: [faces.count, 3, s, s])
    }

    func trainingLogits(_ input: Tensor) -> Tensor { net(input) }

    func beginTrainingEpoch(frozenBlocks: Int, dropoutSeed: UInt64) {
        net.train()
        frozenBlocksSeen.append(frozenBlocks)
    }

    func loadPretrained(_ weights: [String: Tensor]) throws { _ = try net.loadStateDict(weights, strict: true) }

    func faceLogits(_ faces: [RGBImage], batchSize: Int) -> [Float] {
        net.eval()
        return withoutGrad { net(inputTensor(faces)).scalars }
    }

    func save(to path: String, dtype: SafetensorsDType) throws {
        try net.save(safetensors: path, dtype: dtype, metadata: ["forensight.card": card.json])
    }

    static let entry = DetectorRegistry.Entry(
        architecture: "toy-tiny", summary: "one convolution and a linear head (a test detector)",
        make: { TinyTrainableDetector(card: $0) },
        load: { card, file, _ in
            let detector = TinyTrainableDetector(card: card)
            _ = try detector.net.loadStateDict(try file.allTensors(), strict: true)
            return detector
        })
}

final class TrainableDetectorTests: XCTestCase {
    override func setUp() {
        DetectorRegistry.register(TinyTrainableDetector.entry)
        DetectorRegistry.register(GreenDetector.entry)
    }

    func face(_ seed: UInt64, label: Int = 0, video: String) -> TrainingFace {
        var random = SeededRandom(seed: seed)
        let pixels = (0..<(64 * 64 * 3)).map { i in UInt8(truncatingIfNeeded: (i / 3 % 64) * 3 + Int(random.next() % 40)) }
        let sample = Sample(id: "\(video)#\(seed)", path: "\(video).png", label: label, dataset: "synthetic", videoID: video, frameIndex: Int(seed))
        return TrainingFace(image: RGBImage(width: 64, height: 64, pixels: pixels), landmarks: FaceCropper(size: 64).targetPoints, sample: sample)
    }

    func testTheRegistryKnowsWhichArchitecturesTrain() throws {
        let trainable = DetectorRegistry.trainableArchitectures
        XCTAssertTrue(Set(["efficientnet-lite0", "efficientnet-lite2", "toy-tiny"]).isSubset(of: Set(trainable)), "\(trainable)")
        XCTAssertFalse(trainable.contains("toy-green"))
        XCTAssertFalse(trainable.contains("ensemble"))
        XCTAssertThrowsError(try DetectorRegistry.makeTrainable(card: DetectorCard(id: "g", architecture: "toy-green"))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("toy-green cannot be trained") && text.contains("efficientnet-lite0") && !text.contains("\n"), text)
        }
        XCTAssertThrowsError(try DetectorRegistry.makeTrainable(card: DetectorCard(id: "n", architecture: "no-such-net"))) {
            XCTAssertTrue("\($0)".contains("unknown detector architecture \"no-such-net\""), "\($0)")
        }
    }

    func testPretrainedWeightsOfAnotherNetworkAreRefused() throws {
        let lite0 = try DetectorRegistry.makeTrainable(card: DetectorCard(id: "l", architecture: "efficientnet-lite0"))
        XCTAssertEqual(lite0.pretrainedWeightsName, "efficientnet_lite0.safetensors")
        let tiny = TinyTrainableDetector(card: DetectorCard(id: "t", architecture: "toy-tiny"))
        XCTAssertThrowsError(try lite0.loadPretrained(tiny.net.stateDict().reduce(into: [:]) { $0[$1.0] = $1.1 })) {
            XCTAssertTrue("\($0)".contains("not efficientnet-lite0 ImageNet weights"), "\($0)")
        }
        // Lite0's own weights minus the head load; Lite2 refuses them (shapes differ).
        let own = (lite0.module.stateDict().reduce(into: [String: Tensor]()) { $0[$1.0] = $1.1 }).filter { !$0.key.hasPrefix("_fc.") }
        XCTAssertNoThrow(try lite0.loadPretrained(own))
        let lite2 = try DetectorRegistry.makeTrainable(card: DetectorCard(id: "l2", architecture: "efficientnet-lite2"))
        XCTAssertThrowsError(try lite2.loadPretrained(own))
    }

    /// The self-blend trainer runs a registered non-EfficientNet detector end to end: its weights move, the
    /// checkpoint is its own format and loads back through the registry, and calibration works on it.
    func testSelfBlendTrainerTrainsAnyTrainableDetector() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tiny-train-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        var recipe = SelfBlendRecipe()
        (recipe.epochs, recipe.realsPerStep, recipe.inputSize, recipe.stepsPerEpoch, recipe.warmupSteps, recipe.frozenBlocks) = (2, 2, 32, 2, 1, 5)
        recipe.architecture = "toy-tiny"
        var card = DetectorCard(id: "tiny", architecture: "toy-tiny")
        card.inputSize = 32
        let detector = try ParameterInit.withSeed(5) { try DetectorRegistry.makeTrainable(card: card) }
        let tiny = try XCTUnwrap(detector as? TinyTrainableDetector)
        let before = tiny.net.stateDict().flatMap { $0.1.scalars }
        let train = (0..<6).map { face(UInt64($0), video: "v\($0 % 3)") }
        let validation = (10..<14).map { face(UInt64($0), video: "r\($0 % 2)") }
        let trainer = try SelfBlendTrainer(recipe: recipe, detector: detector, train: train, validation: validation, output: out)
        let history = try trainer.run(resume: false)
        XCTAssertEqual(history.map(\.epoch), [1, 2])
        XCTAssertGreaterThanOrEqual(tiny.frozenBlocksSeen.count, 2)
        XCTAssertTrue(tiny.frozenBlocksSeen.allSatisfy { $0 == 5 }, "each epoch asks the detector to freeze the recipe's blocks")
        XCTAssertNotEqual(tiny.net.stateDict().flatMap { $0.1.scalars }, before, "training did not move the weights")
        let best = try XCTUnwrap(try DetectorRegistry.load(path: out + "/best.safetensors") as? TinyTrainableDetector)
        XCTAssertEqual(best.card.architecture, "toy-tiny")
        let choice = try SelfBlendTrainer.calibrate(best, validation: validation, recipe: recipe)
        XCTAssertTrue(choice.threshold >= 0.5 && choice.threshold <= 1, "\(choice.threshold)")
        XCTAssertEqual(choice.realUnits, 2, "two validation videos")
    }
}

extension TrainableDetectorTests {
    /// The zoo's Meso-4 through the registry: MesoNet's own input on a fresh card, trainable, one input size only,
    /// and a saved file scores as the detector it came from.
    func testMesoNetIsARegisteredTrainableDetector() throws {
        XCTAssertTrue(DetectorRegistry.trainableArchitectures.contains("meso4"))
        let meso = try ParameterInit.withSeed(2) { try DetectorRegistry.makeTrainable(card: DetectorCard(id: "m", architecture: "meso4")) }
        XCTAssertEqual(meso.card.inputSize, 256)
        XCTAssertEqual(meso.card.pixelScale, 1)
        XCTAssertEqual(meso.card.mean, [0, 0, 0])
        XCTAssertNil(meso.pretrainedWeightsName)
        XCTAssertThrowsError(try meso.setInputSize(224)) { XCTAssertTrue("\($0)".contains("--input-size 256"), "\($0)") }
        XCTAssertNoThrow(try meso.setInputSize(256))
        var odd = DetectorCard(id: "o", architecture: "meso4")
        odd.inputSize = 100
        XCTAssertThrowsError(try DetectorRegistry.make(card: odd)) { XCTAssertTrue("\($0)".contains("multiple of 32"), "\($0)") }
        // Its input is the crop scaled to 0…1.
        let face = RGBImage(width: 256, height: 256, fill: (255, 0, 51))
        let x = meso.inputTensor([face])
        XCTAssertEqual(x.data[0], 1); XCTAssertEqual(x.data[256 * 256], 0); XCTAssertEqual(x.data[2 * 256 * 256], 0.2, accuracy: 1e-6)
        // Save and load: same card (schema 2: it uses pixel_scale), same logits.
        meso.module.eval()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("meso-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try meso.save(to: path, dtype: .f32)
        let loaded = try DetectorRegistry.load(path: path)
        XCTAssertTrue(loaded is MesoNetDetector)
        XCTAssertEqual(loaded.card.schema, 2)
        let faces = (0..<3).map { i in RGBImage(width: 256, height: 256, fill: (UInt8(60 * i), 120, 200)) }
        XCTAssertEqual(loaded.faceLogits(faces, batchSize: 2), meso.faceLogits(faces, batchSize: 2))
    }
}

/// A detector that knows the real crops by heart and scores them as fakes: its ranking is exactly reversed.
final class ReversedDetector: TrainableDetector {
    var card = DetectorCard(id: "rev", architecture: "toy-reversed")
    var weightsSHA256 = ""
    let reals: Set<[UInt8]>
    let net = TinyTrainableDetector.Net()
    init(reals: [RGBImage]) { self.reals = Set(reals.map(\.pixels)) }
    var module: Module { net }
    var pretrainedWeightsName: String? { nil }
    func inputTensor(_ faces: [RGBImage]) -> Tensor { card.inputTensor(faces) }
    func trainingLogits(_ input: Tensor) -> Tensor { net(input) }
    func beginTrainingEpoch(frozenBlocks: Int, dropoutSeed: UInt64) {}
    func loadPretrained(_ weights: [String: Tensor]) throws {}
    func faceLogits(_ faces: [RGBImage], batchSize: Int) -> [Float] { faces.map { reals.contains($0.pixels) ? 2 : -2 } }
    func save(to path: String, dtype: SafetensorsDType) throws {}
}

extension TrainableDetectorTests {
    /// Calibration never reverses a detector's ranking: a fit with a negative slope is replaced by the plain sigmoid.
    func testCalibrationKeepsTheRankingOfAReversedDetector() throws {
        let validation = (10..<16).map { face(UInt64($0), video: "r\($0)") }
        let detector = ReversedDetector(reals: validation.map(\.image))
        let choice = try SelfBlendTrainer.calibrate(detector, validation: validation, recipe: SelfBlendRecipe())
        XCTAssertEqual(choice.calibration, .identity)
        XCTAssertEqual(choice.realUnits, 6)
    }
}

extension TrainableDetectorTests {
    /// MesoInception-4 through the registry, like Meso-4: MesoNet's input on a fresh card, trainable, one input size,
    /// its penultimate features for `embed`, and a saved file scores as the detector it came from.
    func testMesoInceptionIsARegisteredTrainableDetector() throws {
        XCTAssertTrue(DetectorRegistry.trainableArchitectures.contains("mesoinception4"))
        let meso = try ParameterInit.withSeed(4) { try DetectorRegistry.makeTrainable(card: DetectorCard(id: "mi", architecture: "mesoinception4")) }
        XCTAssertEqual(meso.card.inputSize, 256)
        XCTAssertEqual(meso.card.pixelScale, 1)
        XCTAssertEqual((meso as? MesoNetDetector).map { String(describing: type(of: $0.network)) }, "MesoInception4")
        XCTAssertThrowsError(try meso.setInputSize(224)) { XCTAssertTrue("\($0)".contains("mesoinception4") && "\($0)".contains("--input-size 256"), "\($0)") }
        meso.module.eval()
        let faces = (0..<3).map { i in RGBImage(width: 256, height: 256, fill: (UInt8(70 * i), 100, 180)) }
        let features = try XCTUnwrap(meso as? MesoNetDetector).features(faces, batchSize: 2)
        XCTAssertEqual(features.map(\.count), [16, 16, 16])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mesoi-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try meso.save(to: path, dtype: .f32)
        let loaded = try DetectorRegistry.load(path: path)
        XCTAssertEqual(loaded.card.architecture, "mesoinception4")
        XCTAssertEqual(loaded.faceLogits(faces, batchSize: 2), meso.faceLogits(faces, batchSize: 2))
    }
}
