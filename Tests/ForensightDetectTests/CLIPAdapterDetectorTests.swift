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

/// The CLIP adapter detector in the zoo: its registry line, its parts in the card, a file round trip, and training
/// through the self-blend recipe with identities (deterministic for a seed, lowering the loss on a fixed batch, only
/// the trunk's normalisation parameters moving in the backbone).
final class CLIPAdapterDetectorTests: XCTestCase {
    static let tinyConfig = CLIPAdapterConfig(width: 16, heads: 4, feedForward: 32, dropout: 0.1, adapterChannels: 8, frequencyCutoff: 0.125,
                                              arcScale: 16, arcMargin: 0.3, identityHidden: 8, identitySlots: 16, reversal: 1, parts: .all)

    func face(_ seed: UInt64, video: String, person: String?) -> TrainingFace {
        var random = SeededRandom(seed: seed)
        let pixels = (0..<(64 * 64 * 3)).map { i in UInt8(truncatingIfNeeded: (i / 3 % 64) * 3 + Int(random.next() % 40)) }
        let sample = Sample(id: "\(video)#\(seed)", path: "\(video).png", label: 0, dataset: "synthetic", videoID: video, identity: person, frameIndex: Int(seed))
        return TrainingFace(image: RGBImage(width: 64, height: 64, pixels: pixels), landmarks: FaceCropper(size: 64).targetPoints, sample: sample)
    }

    func card(_ parts: String? = nil, identityWeight: Float = 0.1) -> DetectorCard {
        var card = DetectorCard(id: "tiny-adapter", architecture: CLIPAdapterDetector.architecture)
        card.inputSize = 32
        if let parts { card.adapter = AdapterSpec(parts: parts.split(separator: ",").map(String.init), identityWeight: identityWeight) }
        return card
    }

    func make(_ seed: UInt64, card: DetectorCard) throws -> CLIPAdapterDetector {
        try ParameterInit.withSeed(seed) { try CLIPAdapterDetector(card: card, backbone: ForgeLensDetectorTests.tinyBackbone, layer: 2, config: Self.tinyConfig) }
    }

    func testTheAdapterIsARegisteredTrainableDetector() throws {
        XCTAssertTrue(DetectorRegistry.trainableArchitectures.contains("clip-adapter-efficientnet-lite0"))
        let made = try ParameterInit.withSeed(3) { try DetectorRegistry.makeTrainable(card: DetectorCard(id: "a", architecture: CLIPAdapterDetector.architecture)) }
        let detector = try XCTUnwrap(made as? CLIPAdapterDetector)
        XCTAssertEqual(detector.card.adapter, AdapterSpec(parts: ["norms", "freq", "boundary", "identity", "arcmargin", "slerp"], identityWeight: 0.1))
        XCTAssertEqual(made.card.inputSize, 224)
        XCTAssertEqual(made.card.mean, [127, 127, 127])
        XCTAssertEqual(made.pretrainedWeightsName, "efficientnet_lite0.safetensors")
        XCTAssertEqual(CLIPAdapterDetector.learningRate, 1e-4)
        let lite0 = EfficientNetLite(.lite0)
        XCTAssertNoThrow(try made.loadPretrained(Dictionary(uniqueKeysWithValues: lite0.stateDict())))
        let trunk = try XCTUnwrap(detector.network.tokens as? EfficientNetLiteTokens).trunk
        XCTAssertEqual(trunk.blocks.count, 11)
        XCTAssertEqual(trunk.blocks[10].projectConv.weight.scalars, lite0.blocks[10].projectConv.weight.scalars)
        XCTAssertTrue(trunk.namedParameters().allSatisfy { $0.1.requiresGrad == ($0.0.contains("bn")) }, "only BatchNorm γ, β train")
        print("clip-adapter-efficientnet-lite0 trainable parameters: \(made.module.parameterCount(trainableOnly: true))")
        XCTAssertThrowsError(try DetectorRegistry.makeTrainable(card: card("freq,bogus"))) { XCTAssertTrue("\($0)".contains("unknown adapter part"), "\($0)") }
        // Ablations: fewer parts, fewer parameters; without norms the backbone is wholly frozen.
        var counts: [Int] = []
        for parts in ["norms,freq,boundary,identity,arcmargin,slerp", "freq,boundary,identity,arcmargin,slerp", "boundary,identity,arcmargin", "arcmargin", ""] {
            counts.append(try make(1, card: card(parts)).module.parameterCount(trainableOnly: true))
        }
        XCTAssertEqual(counts, counts.sorted(by: >))
        XCTAssertEqual(Set(counts).count, counts.count, "\(counts)")
    }

    /// A saved file loads through the registry with the same parts, every tensor, and the same scores.
    func testFileRoundTripKeepsTheParts() throws {
        for parts in [nil, "freq,arcmargin"] {
            var c = card(parts)
            c.inputSize = 64
            let detector = try ParameterInit.withSeed(8) { try CLIPAdapterDetector(card: c) }
            detector.network.eval()
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("adapter-\(UUID()).safetensors").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            try detector.save(to: path, dtype: .f32)
            let loaded = try XCTUnwrap(try DetectorRegistry.load(path: path) as? CLIPAdapterDetector)
            XCTAssertEqual(loaded.parts, detector.parts)
            XCTAssertEqual(loaded.card.adapter, detector.card.adapter)
            XCTAssertEqual(loaded.network.stateDict().map(\.0), detector.network.stateDict().map(\.0))
            let faces = [face(1, video: "a", person: "p").image]
            XCTAssertEqual(loaded.faceLogits(faces, batchSize: 1), detector.faceLogits(faces, batchSize: 1))
            XCTAssertEqual(loaded.features(faces, batchSize: 1).first?.count, 128)
        }
    }

    /// Training steps of the self-blend recipe: the same seed gives the same weights twice; the identity and Slerp
    /// terms reach the loss; steps on one fixed batch lower its loss; the trunk's convolutions and statistics stay.
    func testSelfBlendTrainingIsDeterministicAndLearns() throws {
        var recipe = SelfBlendRecipe()
        (recipe.epochs, recipe.realsPerStep, recipe.inputSize, recipe.stepsPerEpoch, recipe.warmupSteps, recipe.frozenBlocks) = (1, 3, 32, 2, 1, 0)
        (recipe.architecture, recipe.learningRate) = (CLIPAdapterDetector.architecture, 2e-3)
        let train = (0..<6).map { face(UInt64($0), video: "v\($0 % 3)", person: $0 == 5 ? nil : "p\($0 % 3)") }
        let validation = (10..<14).map { face(UInt64($0), video: "r\($0 % 2)", person: "q") }
        func frozenState(_ d: CLIPAdapterDetector) -> [Float] {
            (d.network.tokens as! EfficientNetLiteTokens).trunk.stateDict()
                .filter { !($0.0.contains("_bn") && ($0.0.hasSuffix(".weight") || $0.0.hasSuffix(".bias"))) }.flatMap { $0.1.scalars }
        }
        func trained() throws -> (weights: [Float], history: [Double], frozenMoved: Bool) {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("adapter-train-\(UUID())").path
            defer { try? FileManager.default.removeItem(atPath: out) }
            let detector = try make(5, card: card())
            let before = frozenState(detector)
            let trainer = try SelfBlendTrainer(recipe: recipe, detector: detector, train: train, validation: validation, output: out)
            let history = try trainer.run(resume: false)
            return (detector.network.stateDict().flatMap { $0.1.scalars }, history.map(\.meanLoss), frozenState(detector) != before)
        }
        let (a, b) = (try trained(), try trained())
        XCTAssertEqual(a.weights, b.weights, "same seed, same weights")
        XCTAssertEqual(a.history, b.history)
        XCTAssertTrue(a.history.allSatisfy(\.isFinite), "\(a.history)")
        XCTAssertFalse(a.frozenMoved, "the trunk's convolutions and running statistics stay as loaded")

        // A fixed batch with identities: the detector's own terms are there, and the loss falls over AdamW steps.
        let detector = try make(6, card: card())
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("adapter-fixed-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let trainer = try SelfBlendTrainer(recipe: recipe, detector: detector, train: train, validation: validation, output: out)
        trainer.beginEpoch(0)
        let (input, targets) = trainer.batch([0, 1, 2], epoch: 0, firstPosition: 0)
        let optimizer = Adam(detector.module.trainableParameters(), learningRate: 3e-3, weightDecay: 0.01, decoupled: true)
        let gammaBefore = (detector.network.tokens as! EfficientNetLiteTokens).trunk.bn0.weight.scalars
        var losses: [Float] = []
        for _ in 0..<8 {
            optimizer.zeroGrad()
            detector.setTrainingBatch(identities: [0, 1, 2, 0, 1, 2], labels: [0, 0, 0, 1, 1, 1])
            let logits = detector.trainingLogits(input)
            let extra = try XCTUnwrap(detector.takeAuxiliaryLoss(), "Slerp and identity terms")
            XCTAssertNil(detector.takeAuxiliaryLoss(), "handed over once")
            let loss = trainer.stepLoss(logits, targets: targets) + extra
            losses.append(loss.scalars[0])
            loss.backward()
            optimizer.step()
        }
        XCTAssertLessThan(losses.last!, losses.first! * 0.8, "\(losses)")
        XCTAssertNotNil(detector.network.identity?.out.weight.grad, "the identity discriminator learns")
        XCTAssertNotEqual((detector.network.tokens as! EfficientNetLiteTokens).trunk.bn0.weight.scalars, gammaBefore, "norm tuning moves γ")
        // Without setTrainingBatch: plain logits, no extra term.
        _ = detector.trainingLogits(input)
        XCTAssertNil(detector.takeAuxiliaryLoss())
    }

    /// The recipe's side of `IdentityAwareDetector`: each row's identity number (the training faces' people numbered
    /// in sorted order; a self-blend keeps its source's; unknown stays nil) and label arrive before the logits, and
    /// the detector's own term joins the loss unweighted.
    func testTheRecipeHandsOverIdentitiesAndLabels() throws {
        var recipe = SelfBlendRecipe()
        (recipe.epochs, recipe.realsPerStep, recipe.inputSize, recipe.stepsPerEpoch, recipe.warmupSteps) = (1, 4, 32, 1, 1)
        let train = (0..<4).map { face(UInt64($0), video: "v\($0)", person: [Optional("b"), "a", nil, "b"][$0]) }
        let validation = (10..<12).map { face(UInt64($0), video: "r\($0)", person: nil) }
        let spy = IdentitySpyDetector(card: DetectorCard(id: "spy", architecture: "toy-tiny"))
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("adapter-spy-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let trainer = try SelfBlendTrainer(recipe: recipe, detector: spy, train: train, validation: validation, output: out)
        trainer.beginEpoch(0)
        let loss = trainer.loss(epoch: 0, step: 0)
        let (ids, labels) = try XCTUnwrap(spy.batches.first)
        XCTAssertEqual(labels, [0, 0, 0, 0, 1, 1, 1, 1])
        XCTAssertEqual(Array(ids[4...]), Array(ids[..<4]), "each fake keeps its source's identity")
        XCTAssertEqual(ids[..<4].map { $0.map(String.init) ?? "-" }.sorted(), ["-", "0", "1", "1"], "a → 0, b → 1, unknown → nil")
        XCTAssertEqual(loss.item - spy.lastBCE(labels: labels), 0.5, accuracy: 1e-5, "the detector's own term, unweighted")
    }
}

/// A toy `IdentityAwareDetector` that records what the recipe hands it and returns a constant term of 0.5.
final class IdentitySpyDetector: TrainableDetector, IdentityAwareDetector {
    let inner: TinyTrainableDetector
    var card: DetectorCard { get { inner.card } set { inner.card = newValue } }
    var weightsSHA256: String { inner.weightsSHA256 }
    private(set) var batches: [([Int?], [Float])] = []
    private var logits: Tensor?
    private var pending = false

    init(card: DetectorCard) { inner = TinyTrainableDetector(card: card) }

    var module: Module { inner.module }
    var pretrainedWeightsName: String? { nil }
    func inputTensor(_ faces: [RGBImage]) -> Tensor { inner.inputTensor(faces) }
    func trainingLogits(_ input: Tensor) -> Tensor { logits = inner.trainingLogits(input); return logits! }
    func beginTrainingEpoch(frozenBlocks: Int, dropoutSeed: UInt64) { inner.beginTrainingEpoch(frozenBlocks: frozenBlocks, dropoutSeed: dropoutSeed) }
    func loadPretrained(_ weights: [String: Tensor]) throws { try inner.loadPretrained(weights) }
    func faceLogits(_ faces: [RGBImage], batchSize: Int) -> [Float] { inner.faceLogits(faces, batchSize: batchSize) }
    func save(to path: String, dtype: SafetensorsDType) throws { try inner.save(to: path, dtype: dtype) }
    func setTrainingBatch(identities: [Int?], labels: [Float]) { batches.append((identities, labels)); pending = true }
    func takeAuxiliaryLoss() -> Tensor? { defer { pending = false }; return pending ? Tensor([0.5], shape: [1]) : nil }

    /// The binary cross-entropy of the last logits.
    func lastBCE(labels: [Float]) -> Float {
        Tensor.binaryCrossEntropyWithLogits(logits!, targets: Tensor(labels, shape: [labels.count, 1])).item
    }
}

extension CommandLineTests {
    /// `models architectures` lists the CLIP adapter as trainable; `train --adapter-parts` with an unknown part is a
    /// usage error naming the known ones.
    func testTrainTakesTheAdapterPartsAndRefusesUnknownOnes() throws {
        let listed = try run(["models", "architectures", "--json"])
        let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        XCTAssertTrue(rows.contains { $0["architecture"] as? String == "clip-adapter-efficientnet-lite0" && $0["trainable"] as? Bool == true })
        let refused = try run(["train", "--detector", "sbi", "--architecture", "clip-adapter-efficientnet-lite0", "--adapter-parts", "freq,bogus",
                               "--data", dir.path, "--out", dir.appendingPathComponent("run").path])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("--adapter-parts") && refused.stderr.contains("arcmargin"), refused.stderr)
        let help = try run(["train", "--help"])
        XCTAssertTrue(help.stdout.contains("--adapter-parts") && help.stdout.contains("--identity-weight"), help.stdout)
    }
}
