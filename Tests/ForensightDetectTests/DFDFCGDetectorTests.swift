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

/// DFD-FCG in the zoo: its registry line and track-clip card, its pretrained (and frozen) backbone, a file round trip
/// giving equal clip logits, and training on self-blended clips (deterministic for a seed, moving the trainable weights
/// and not the frozen trunk, the guidance term handed over).
final class DFDFCGDetectorTests: XCTestCase {
    static let tinyConfig = DFDFCGConfig(width: 16, feedForward: 32, frames: 3)

    /// A 64 px face of one video at `frame`, with the aligned crop's canonical landmarks.
    func face(_ seed: UInt64, video: String, frame: Int) -> TrainingFace {
        var random = SeededRandom(seed: seed)
        let pixels = (0..<(64 * 64 * 3)).map { i in UInt8(truncatingIfNeeded: (i / 3 % 64) * 3 + Int(random.next() % 40)) }
        let sample = Sample(id: "\(video)#\(frame)", path: "\(video)-\(frame).png", label: 0, dataset: "synthetic", videoID: video, frameIndex: frame)
        return TrainingFace(image: RGBImage(width: 64, height: 64, pixels: pixels), landmarks: FaceCropper(size: 64).targetPoints, sample: sample)
    }

    func tiny(_ seed: UInt64, card: DetectorCard) throws -> DFDFCGDetector {
        try ParameterInit.withSeed(seed) {
            try DFDFCGDetector(card: card, backbone: ForgeLensDetectorTests.tinyBackbone, layers: [0, 2], config: Self.tinyConfig)
        }
    }

    func testDFDFCGIsARegisteredClipDetector() throws {
        XCTAssertTrue(DetectorRegistry.architectures.contains(DFDFCGDetector.architecture))
        XCTAssertTrue(DetectorRegistry.trainableArchitectures.contains("dfd-fcg-efficientnet-lite0"))
        let made = try ParameterInit.withSeed(3) { try DetectorRegistry.makeTrainable(card: DetectorCard(id: "d", architecture: "dfd-fcg-efficientnet-lite0")) }
        XCTAssertEqual(made.card.input, .trackClip)
        XCTAssertEqual(made.card.clipFrames, 10)
        XCTAssertEqual(made.card.inputSize, 224)
        XCTAssertEqual(made.pretrainedWeightsName, "efficientnet_lite0.safetensors")
        let detector = try XCTUnwrap(made as? DFDFCGDetector)
        XCTAssertEqual(detector.clipLength, 10)
        XCTAssertEqual(detector.guidanceWeight, 0.15)
        let lite0 = EfficientNetLite(.lite0)
        XCTAssertNoThrow(try made.loadPretrained(Dictionary(uniqueKeysWithValues: lite0.stateDict())))
        let trunk = try XCTUnwrap(detector.network.tokens as? EfficientNetLiteTokens).trunk
        XCTAssertEqual(trunk.blocks[14].projectConv.weight.scalars, lite0.blocks[14].projectConv.weight.scalars)
        XCTAssertTrue(trunk.namedParameters().allSatisfy { !$0.1.requiresGrad }, "the backbone stays frozen")
        // A card of another input kind is refused; a track-clip card sets T.
        var crops = DetectorCard(id: "w", architecture: DFDFCGDetector.architecture)
        crops.input = .wholeImage
        XCTAssertThrowsError(try DFDFCGDetector(card: crops))
        var clips = DetectorCard(id: "c", architecture: DFDFCGDetector.architecture)
        (clips.input, clips.clipFrames) = (.trackClip, 4)
        XCTAssertEqual(try DFDFCGDetector(card: clips).clipLength, 4)
    }

    /// A saved file loads through the registry with every tensor and gives the same clip logits (Lite0 at 64 px, T = 2).
    func testFileRoundTripGivesEqualClipLogits() throws {
        var card = DetectorCard(id: "dfd", architecture: DFDFCGDetector.architecture)
        (card.input, card.clipFrames, card.inputSize) = (.trackClip, 2, 64)
        let detector = try ParameterInit.withSeed(8) { try DFDFCGDetector(card: card) }
        detector.network.eval()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dfdfcg-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try detector.save(to: path, dtype: .f32)
        let loaded = try XCTUnwrap(try DetectorRegistry.load(path: path) as? DFDFCGDetector)
        XCTAssertEqual(loaded.card.input, .trackClip)
        XCTAssertEqual(loaded.clipLength, 2)
        XCTAssertEqual(loaded.network.stateDict().map(\.0), detector.network.stateDict().map(\.0))
        XCTAssertEqual(loaded.network.stateDict().flatMap { $0.1.scalars }, detector.network.stateDict().flatMap { $0.1.scalars })
        let clips = [[face(1, video: "a", frame: 0).image, face(2, video: "a", frame: 1).image], [face(3, video: "b", frame: 0).image]]
        let logits = loaded.clipLogits(clips)
        XCTAssertEqual(logits.count, 2)
        XCTAssertEqual(logits, detector.clipLogits(clips))
        XCTAssertTrue(logits.allSatisfy(\.isFinite))
        XCTAssertEqual(loaded.logits(.clips(clips)), logits, "the pipeline's clip batches take clipLogits")
        XCTAssertFalse(loaded.weightsSHA256.isEmpty)
    }

    /// The clip self-blend recipe on the tiny configuration: clips of 3 consecutive frames per video, the same seed
    /// giving the same weights twice, the trainable weights moving, the frozen trunk (weights and statistics) not.
    func testClipSelfBlendTrainingIsDeterministicAndMovesOnlyTheHead() throws {
        var card = DetectorCard(id: "tiny-dfd", architecture: DFDFCGDetector.architecture)
        (card.input, card.clipFrames, card.inputSize) = (.trackClip, 3, 32)
        var recipe = SelfBlendRecipe()
        (recipe.epochs, recipe.realsPerStep, recipe.inputSize, recipe.stepsPerEpoch, recipe.warmupSteps, recipe.frozenBlocks) = (1, 2, 32, 2, 1, 0)
        (recipe.architecture, recipe.learningRate, recipe.validationFramesPerVideo) = (DFDFCGDetector.architecture, 2e-3, 6)
        let train = (0..<4).flatMap { v in (0..<7).map { f in face(UInt64(10 * v + f), video: "v\(v)", frame: f) } }
        let validation = (0..<2).flatMap { v in (0..<4).map { f in face(UInt64(100 + 10 * v + f), video: "r\(v)", frame: f) } }
        XCTAssertEqual(ClipSelfBlendTrainer.clips(train, length: 3).count, 8, "two full windows of 3 per 7-frame video")
        XCTAssertEqual(ClipSelfBlendTrainer.clips([face(1, video: "p", frame: 0)], length: 3), [[0, 0, 0]], "a photo: T copies")
        func trunkState(_ d: DFDFCGDetector) -> [Float] { (d.network.tokens as! EfficientNetLiteTokens).trunk.stateDict().flatMap { $0.1.scalars } }
        func headState(_ d: DFDFCGDetector) -> [Float] {
            d.network.stateDict().filter { !$0.0.hasPrefix("tokens.trunk.") }.flatMap { $0.1.scalars }
        }
        func trained() throws -> (weights: [Float], history: [Double], headMoved: Bool, trunkMoved: Bool) {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("dfdfcg-train-\(UUID())").path
            defer { try? FileManager.default.removeItem(atPath: out) }
            let detector = try tiny(5, card: card)
            let (trunkBefore, headBefore) = (trunkState(detector), headState(detector))
            let trainer = try ClipSelfBlendTrainer(recipe: recipe, detector: detector, train: train, validation: validation, output: out)
            let history = try trainer.run(resume: false)
            return (detector.network.stateDict().flatMap { $0.1.scalars }, history.map(\.meanLoss), headState(detector) != headBefore,
                    trunkState(detector) != trunkBefore)
        }
        let (a, b) = (try trained(), try trained())
        XCTAssertEqual(a.weights, b.weights, "same seed, same weights")
        XCTAssertEqual(a.history, b.history)
        XCTAssertTrue(a.history.allSatisfy(\.isFinite), "\(a.history)")
        XCTAssertTrue(a.headMoved, "the decoders, temporal module and heads train")
        XCTAssertFalse(a.trunkMoved, "the frozen backbone's weights and BatchNorm statistics stay as loaded")

        // One step by hand: the guidance term is handed over once, weighted, and reaches the queries.
        let detector = try tiny(6, card: card)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("dfdfcg-step-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let trainer = try ClipSelfBlendTrainer(recipe: recipe, detector: detector, train: train, validation: validation, output: out)
        trainer.beginEpoch(0)
        let (input, targets, landmarks) = trainer.batch([0, 1], epoch: 0, firstPosition: 0)
        XCTAssertEqual(input.shape, [12, 3, 32, 32])
        XCTAssertEqual(targets.scalars, [0, 0, 1, 1])
        XCTAssertEqual(landmarks.count, 12)
        XCTAssertTrue(landmarks.allSatisfy { $0.count == 5 && $0.allSatisfy { p in p.x > -0.2 && p.x < 1.2 && p.y > -0.2 && p.y < 1.2 } })
        let optimizer = Adam(detector.module.trainableParameters(), learningRate: 3e-3, weightDecay: 0.01, decoupled: true)
        var losses: [Float] = []
        for _ in 0..<6 {
            optimizer.zeroGrad()
            let logits = detector.trainingClipLogits(input, landmarks: landmarks)
            XCTAssertEqual(logits.shape, [4, 1])
            let guidance = try XCTUnwrap(detector.takeAuxiliaryLoss())
            XCTAssertNil(detector.takeAuxiliaryLoss(), "handed over once")
            let loss = Tensor.binaryCrossEntropyWithLogits(logits, targets: targets) + guidance
            losses.append(loss.scalars[0])
            loss.backward()
            optimizer.step()
        }
        XCTAssertLessThan(losses.last!, losses.first!, "\(losses)")
        XCTAssertNotNil(detector.network.decoders[0].queries.grad, "the queries learn")
    }
}
