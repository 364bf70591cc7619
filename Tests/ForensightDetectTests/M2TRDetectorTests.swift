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

/// M2TR in the zoo: its registry line, its input, its pretrained backbone, a file round trip, and training through
/// the self-blend recipe (deterministic for a seed, lowering the loss on a fixed batch).
final class M2TRDetectorTests: XCTestCase {
    /// The tiny configuration of `M2TRTests` (32 px, 8 × 8 map), so training steps take little time.
    static var tinyConfig: M2TRConfig {
        var backbone = EfficientNetLiteConfig.lite0
        var first = backbone.stages[0], second = backbone.stages[2]
        (first.inputChannels, first.outputChannels) = (8, 8)
        (second.repeats, second.expandRatio, second.inputChannels, second.outputChannels) = (2, 2, 8, 8)
        (backbone.stages, backbone.stemChannels, backbone.headChannels) = ([first, second], 8, 16)
        return M2TRConfig(backbone: backbone, backboneBlocks: 3, width: 12, patchSizes: [1, 2, 4], layers: 1, fusionHeads: 2,
                          inputSize: 32, dropout: 0.2)
    }

    func face(_ seed: UInt64, video: String) -> TrainingFace {
        var random = SeededRandom(seed: seed)
        let pixels = (0..<(64 * 64 * 3)).map { i in UInt8(truncatingIfNeeded: (i / 3 % 64) * 3 + Int(random.next() % 40)) }
        let sample = Sample(id: "\(video)#\(seed)", path: "\(video).png", label: 0, dataset: "synthetic", videoID: video, frameIndex: Int(seed))
        return TrainingFace(image: RGBImage(width: 64, height: 64, pixels: pixels), landmarks: FaceCropper(size: 64).targetPoints, sample: sample)
    }

    func testM2TRIsARegisteredTrainableDetector() throws {
        XCTAssertTrue(DetectorRegistry.architectures.contains(M2TRDetector.architecture))
        XCTAssertTrue(DetectorRegistry.trainableArchitectures.contains("m2tr-efficientnet-lite0"))
        let m2tr = try ParameterInit.withSeed(3) { try DetectorRegistry.makeTrainable(card: DetectorCard(id: "m", architecture: "m2tr-efficientnet-lite0")) }
        XCTAssertEqual(m2tr.card.inputSize, 224)
        XCTAssertEqual(m2tr.card.mean, [127, 127, 127])
        XCTAssertEqual(m2tr.pretrainedWeightsName, "efficientnet_lite0.safetensors")
        XCTAssertNoThrow(try m2tr.setInputSize(224))
        XCTAssertThrowsError(try m2tr.setInputSize(256)) { XCTAssertTrue("\($0)".contains("takes 224 px crops"), "\($0)") }
        var odd = DetectorCard(id: "o", architecture: "m2tr-efficientnet-lite0")
        odd.inputSize = 256
        XCTAssertThrowsError(try DetectorRegistry.make(card: odd))
        // ImageNet Lite0 weights (here Lite0's own fresh ones) load into the trunk; the transformer and head stay.
        let lite0 = EfficientNetLite(.lite0)
        let weights = Dictionary(uniqueKeysWithValues: lite0.stateDict())
        let detector = try XCTUnwrap(m2tr as? M2TRDetector)
        let fcBefore = detector.network.fc.weight.scalars
        XCTAssertNoThrow(try m2tr.loadPretrained(weights))
        XCTAssertEqual(detector.network.trunk.blocks[10].projectConv.weight.scalars, lite0.blocks[10].projectConv.weight.scalars)
        XCTAssertEqual(detector.network.fc.weight.scalars, fcBefore)
        // Lite2's weights do not fit.
        XCTAssertThrowsError(try m2tr.loadPretrained(Dictionary(uniqueKeysWithValues: EfficientNetLite(.lite2).stateDict()))) {
            XCTAssertTrue("\($0)".contains("not efficientnet-lite0 ImageNet weights"), "\($0)")
        }
    }

    /// A saved file loads through the registry with every tensor and scores exactly as the detector it came from.
    func testFileRoundTrip() throws {
        let detector = try ParameterInit.withSeed(8) { try M2TRDetector(card: DetectorCard(id: "m2tr", architecture: M2TRDetector.architecture)) }
        detector.network.eval()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("m2tr-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try detector.save(to: path, dtype: .f32)
        let loaded = try XCTUnwrap(try DetectorRegistry.load(path: path) as? M2TRDetector)
        XCTAssertEqual(loaded.network.stateDict().map(\.0), detector.network.stateDict().map(\.0))
        XCTAssertEqual(loaded.network.stateDict().flatMap { $0.1.scalars }, detector.network.stateDict().flatMap { $0.1.scalars })
        // One crop (a 224 px forward pass is slow in debug builds): the same logit, and 96 features.
        let faces = [face(1, video: "a").image]
        XCTAssertEqual(loaded.faceLogits(faces, batchSize: 1), detector.faceLogits(faces, batchSize: 1))
        XCTAssertFalse(loaded.weightsSHA256.isEmpty)
        XCTAssertEqual(loaded.featureWidth, 96)
        // In evaluation the backbone runs compiled (folded BatchNorm): the module's trunk map and logit within float
        // rounding, with BatchNorm statistics off identity.
        var generator = SeededRandom(seed: 4)
        for (key, tensor) in detector.network.trunk.stateDict() where key.contains("running") {
            for j in 0..<tensor.count { tensor.data[j] = key.hasSuffix("running_var") ? 0.5 + generator.nextFloat() : 0.2 * (generator.nextFloat() - 0.5) }
        }
        detector.network.trunk.markStateChanged()
        let x = detector.card.inputTensor([face(2, video: "b").image])
        let module = withoutGrad { detector.network.trunk(x) }.scalars
        let compiled = EfficientNetLiteInference(trunk: detector.network.trunk).trunkMap(x).scalars
        XCTAssertEqual(module.count, compiled.count)
        let scale = max(1, module.map(abs).max()!)
        XCTAssertLessThan(zip(module, compiled).map { abs($0 - $1) }.max()!, 1e-4 * scale)
        XCTAssertEqual(detector.logits(x)[0], withoutGrad { detector.network(x) }.scalars[0], accuracy: 1e-4)
    }

    /// Training steps of the self-blend recipe on the tiny configuration: the same seed gives the same weights twice,
    /// the branch-consistency term reaches the gradients only when its weight is set, and steps on one fixed batch
    /// lower its loss.
    func testSelfBlendTrainingIsDeterministicAndLearns() throws {
        var card = DetectorCard(id: "tiny-m2tr", architecture: M2TRDetector.architecture)
        card.inputSize = 32
        var recipe = SelfBlendRecipe()
        (recipe.epochs, recipe.realsPerStep, recipe.inputSize, recipe.stepsPerEpoch, recipe.warmupSteps, recipe.frozenBlocks) = (1, 2, 32, 3, 1, 0)
        (recipe.architecture, recipe.learningRate, recipe.branchConsistencyWeight) = (M2TRDetector.architecture, 2e-3, 0.5)
        let train = (0..<6).map { face(UInt64($0), video: "v\($0 % 3)") }
        let validation = (10..<14).map { face(UInt64($0), video: "r\($0 % 2)") }
        func trained() throws -> (weights: [Float], history: [Double]) {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("m2tr-train-\(UUID())").path
            defer { try? FileManager.default.removeItem(atPath: out) }
            let detector = try ParameterInit.withSeed(5) { try M2TRDetector(card: card, config: Self.tinyConfig) }
            let trainer = try SelfBlendTrainer(recipe: recipe, detector: detector, train: train, validation: validation, output: out)
            let history = try trainer.run(resume: false)
            return (detector.network.stateDict().flatMap { $0.1.scalars }, history.map(\.meanLoss))
        }
        let (a, b) = (try trained(), try trained())
        XCTAssertEqual(a.weights, b.weights, "same seed, same weights")
        XCTAssertEqual(a.history, b.history)
        XCTAssertTrue(a.history.allSatisfy(\.isFinite), "\(a.history)")

        // A fixed batch: its loss (with the consistency term) falls over a few Adam steps.
        let detector = try ParameterInit.withSeed(6) { try M2TRDetector(card: card, config: Self.tinyConfig) }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("m2tr-fixed-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let trainer = try SelfBlendTrainer(recipe: recipe, detector: detector, train: train, validation: validation, output: out)
        trainer.beginEpoch(0)
        let (input, targets) = trainer.batch([0, 1], epoch: 0, firstPosition: 0)
        let optimizer = Adam(detector.module.trainableParameters(), learningRate: 3e-3)
        var losses: [Float] = []
        for _ in 0..<8 {
            optimizer.zeroGrad()
            let loss = trainer.stepLoss(detector.trainingLogits(input), targets: targets) + (try XCTUnwrap(detector.takeAuxiliaryLoss())) * 0.5
            losses.append(loss.scalars[0])
            loss.backward()
            optimizer.step()
        }
        XCTAssertLessThan(losses.last!, losses.first! * 0.8, "\(losses)")
        XCTAssertNil(detector.takeAuxiliaryLoss(), "the term is handed over once, so no step's graph outlives it")
        // The recipe takes the term at every step.
        _ = trainer.loss(epoch: 0, step: 0)
        XCTAssertNil(detector.takeAuxiliaryLoss(), "the recipe left the term (and its graph) with the detector")
        XCTAssertNotNil(detector.network.filter.weightImag.grad, "the frequency filter learns")
        XCTAssertNotNil(detector.network.fusion.attention.inProjWeight.grad, "the fusion learns")
    }
}
