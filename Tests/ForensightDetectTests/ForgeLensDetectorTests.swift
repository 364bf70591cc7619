import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightMedia
import ForensightFaces
import ForensightData
import ForensightModels
import ForensightDetect
import ForensightTraining
import ForensightOptim

/// ForgeLens in the zoo: its registry line, its pretrained (and frozen) backbone, a file round trip, and training
/// through the self-blend recipe (deterministic for a seed, lowering the loss on a fixed batch, the backbone untouched).
final class ForgeLensDetectorTests: XCTestCase {
    /// The tiny trunk of `M2TRDetectorTests` (32 px), blocks 0 and 2, d = 16.
    static var tinyBackbone: EfficientNetLiteConfig {
        var backbone = EfficientNetLiteConfig.lite0
        var first = backbone.stages[0], second = backbone.stages[2]
        (first.inputChannels, first.outputChannels) = (8, 8)
        (second.repeats, second.expandRatio, second.inputChannels, second.outputChannels) = (2, 2, 8, 8)
        (backbone.stages, backbone.stemChannels, backbone.headChannels) = ([first, second], 8, 16)
        return backbone
    }

    static let tinyConfig = ForgeLensConfig(width: 16, guidanceWidth: 8, layers: 2, heads: 8, feedForward: 32, dropout: 0.1)

    func face(_ seed: UInt64, video: String) -> TrainingFace {
        var random = SeededRandom(seed: seed)
        let pixels = (0..<(64 * 64 * 3)).map { i in UInt8(truncatingIfNeeded: (i / 3 % 64) * 3 + Int(random.next() % 40)) }
        let sample = Sample(id: "\(video)#\(seed)", path: "\(video).png", label: 0, dataset: "synthetic", videoID: video, frameIndex: Int(seed))
        return TrainingFace(image: RGBImage(width: 64, height: 64, pixels: pixels), landmarks: FaceCropper(size: 64).targetPoints, sample: sample)
    }

    func testForgeLensIsARegisteredTrainableDetector() throws {
        XCTAssertTrue(DetectorRegistry.architectures.contains(ForgeLensDetector.architecture))
        XCTAssertTrue(DetectorRegistry.trainableArchitectures.contains("forgelens-efficientnet-lite0"))
        let made = try ParameterInit.withSeed(3) { try DetectorRegistry.makeTrainable(card: DetectorCard(id: "f", architecture: "forgelens-efficientnet-lite0")) }
        XCTAssertEqual(made.card.inputSize, 224)
        XCTAssertEqual(made.card.mean, [127, 127, 127])
        XCTAssertEqual(made.pretrainedWeightsName, "efficientnet_lite0.safetensors")
        XCTAssertEqual(ForgeLensDetector.learningRate, 1e-4)
        // ImageNet Lite0 weights (here Lite0's own fresh ones) load into the trunk; the head stays as it was.
        let lite0 = EfficientNetLite(.lite0)
        let detector = try XCTUnwrap(made as? ForgeLensDetector)
        let fcBefore = detector.network.fc.weight.scalars
        XCTAssertNoThrow(try made.loadPretrained(Dictionary(uniqueKeysWithValues: lite0.stateDict())))
        let trunk = try XCTUnwrap(detector.network.tokens as? EfficientNetLiteTokens).trunk
        XCTAssertEqual(trunk.blocks[14].projectConv.weight.scalars, lite0.blocks[14].projectConv.weight.scalars)
        XCTAssertEqual(detector.network.fc.weight.scalars, fcBefore)
        XCTAssertTrue(trunk.namedParameters().allSatisfy { !$0.1.requiresGrad }, "the backbone stays frozen")
        XCTAssertEqual(made.module.parameterCount(trainableOnly: true), 464_065)
        // Lite2's weights do not fit.
        XCTAssertThrowsError(try made.loadPretrained(Dictionary(uniqueKeysWithValues: EfficientNetLite(.lite2).stateDict()))) {
            XCTAssertTrue("\($0)".contains("not efficientnet-lite0 ImageNet weights"), "\($0)")
        }
    }

    /// A saved file loads through the registry with every tensor and scores exactly as the detector it came from.
    func testFileRoundTrip() throws {
        let detector = try ParameterInit.withSeed(8) { try ForgeLensDetector(card: DetectorCard(id: "fl", architecture: ForgeLensDetector.architecture)) }
        detector.network.eval()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("forgelens-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try detector.save(to: path, dtype: .f32)
        let loaded = try XCTUnwrap(try DetectorRegistry.load(path: path) as? ForgeLensDetector)
        XCTAssertEqual(loaded.network.stateDict().map(\.0), detector.network.stateDict().map(\.0))
        XCTAssertEqual(loaded.network.stateDict().flatMap { $0.1.scalars }, detector.network.stateDict().flatMap { $0.1.scalars })
        let faces = [face(1, video: "a").image]
        XCTAssertEqual(loaded.faceLogits(faces, batchSize: 1), detector.faceLogits(faces, batchSize: 1))
        XCTAssertFalse(loaded.weightsSHA256.isEmpty)
        XCTAssertEqual(loaded.featureWidth, 256)
        XCTAssertEqual(loaded.features(faces, batchSize: 1).first?.count, 256)
    }

    /// Training steps of the self-blend recipe on the tiny configuration: the same seed gives the same weights twice,
    /// steps on one fixed batch lower its loss, and the backbone's weights and statistics never move.
    func testSelfBlendTrainingIsDeterministicAndLearns() throws {
        var card = DetectorCard(id: "tiny-forgelens", architecture: ForgeLensDetector.architecture)
        card.inputSize = 32
        var recipe = SelfBlendRecipe()
        (recipe.epochs, recipe.realsPerStep, recipe.inputSize, recipe.stepsPerEpoch, recipe.warmupSteps, recipe.frozenBlocks) = (1, 2, 32, 3, 1, 0)
        (recipe.architecture, recipe.learningRate) = (ForgeLensDetector.architecture, 2e-3)
        let train = (0..<6).map { face(UInt64($0), video: "v\($0 % 3)") }
        let validation = (10..<14).map { face(UInt64($0), video: "r\($0 % 2)") }
        func make(_ seed: UInt64) throws -> ForgeLensDetector {
            try ParameterInit.withSeed(seed) { try ForgeLensDetector(card: card, backbone: Self.tinyBackbone, layers: [0, 2], config: Self.tinyConfig) }
        }
        func trunkState(_ d: ForgeLensDetector) -> [Float] { (d.network.tokens as! EfficientNetLiteTokens).trunk.stateDict().flatMap { $0.1.scalars } }
        func trained() throws -> (weights: [Float], history: [Double], trunkMoved: Bool) {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("forgelens-train-\(UUID())").path
            defer { try? FileManager.default.removeItem(atPath: out) }
            let detector = try make(5)
            let before = trunkState(detector)
            let trainer = try SelfBlendTrainer(recipe: recipe, detector: detector, train: train, validation: validation, output: out)
            let history = try trainer.run(resume: false)
            return (detector.network.stateDict().flatMap { $0.1.scalars }, history.map(\.meanLoss), trunkState(detector) != before)
        }
        let (a, b) = (try trained(), try trained())
        XCTAssertEqual(a.weights, b.weights, "same seed, same weights")
        XCTAssertEqual(a.history, b.history)
        XCTAssertTrue(a.history.allSatisfy(\.isFinite), "\(a.history)")
        XCTAssertFalse(a.trunkMoved, "the frozen backbone's weights and BatchNorm statistics stay as loaded")

        // A fixed batch: its loss falls over a few AdamW steps.
        let detector = try make(6)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("forgelens-fixed-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let trainer = try SelfBlendTrainer(recipe: recipe, detector: detector, train: train, validation: validation, output: out)
        trainer.beginEpoch(0)
        let (input, targets) = trainer.batch([0, 1], epoch: 0, firstPosition: 0)
        let optimizer = Adam(detector.module.trainableParameters(), learningRate: 3e-3, weightDecay: 0.01, decoupled: true)
        var losses: [Float] = []
        for _ in 0..<8 {
            optimizer.zeroGrad()
            let loss = trainer.stepLoss(detector.trainingLogits(input), targets: targets)
            losses.append(loss.scalars[0])
            loss.backward()
            optimizer.step()
        }
        XCTAssertLessThan(losses.last!, losses.first! * 0.8, "\(losses)")
        XCTAssertNotNil(detector.network.guidance.down.weight.grad, "the guidance module learns")
        XCTAssertNotNil(detector.network.faformer[1].linear2.weight.grad, "FAFormer learns")
    }
}
