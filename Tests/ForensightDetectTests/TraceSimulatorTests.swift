import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightMedia
import ForensightFaces
import ForensightData
import ForensightDetect
import ForensightTraining

/// The generator-trace simulator: its pairs, its file, its training, and the synthesis recipe that uses it.
final class TraceSimulatorTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-tracesim-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// A smooth gradient with a little noise: something an autoencoder can learn to reproduce.
    func photo(_ seed: UInt64, side: Int = 64) -> RGBImage {
        var random = SeededRandom(seed: seed)
        let pixels = (0..<(side * side * 3)).map { i -> UInt8 in
            let (x, y, c) = (i / 3 % side, i / 3 / side, i % 3)
            return UInt8(truncatingIfNeeded: 40 + x * 2 + y + c * 30 + Int(random.next() % 12))
        }
        return RGBImage(width: side, height: side, pixels: pixels)
    }

    func small() -> GeneratorTraceSimulator {
        ParameterInit.withSeed(5) { GeneratorTraceSimulator(UpsamplingKind.allCases.map { TraceAutoencoderConfig(upsampling: $0, width: 4, stages: 2) }) }
    }

    func testPairsAreSameSizedDeterministicAndDifferOnlyByTheAutoencoder() {
        let simulator = small()
        simulator.eval()
        let real = photo(1, side: 50)
        var a = SeededRandom(seed: 9), b = SeededRandom(seed: 9)
        let first = simulator.pair(real, using: &a), second = simulator.pair(real, using: &b)
        XCTAssertEqual(first.real, second.real)
        XCTAssertEqual(first.fake, second.fake)
        for image in [first.real, first.fake] { XCTAssertEqual([image.width, image.height], [50, 50]) }
        XCTAssertNotEqual(first.real, first.fake)
        // At scale 1 the real twin is the photo itself, and sizes that are not multiples of 2^stages are padded and cut back.
        (simulator.scales, simulator.realDetailLoss) = (1...1, 0)
        var c = SeededRandom(seed: 3)
        let unscaled = simulator.pair(real, using: &c)
        XCTAssertEqual(unscaled.real, real)
        XCTAssertEqual([unscaled.fake.width, unscaled.fake.height], [50, 50])
    }

    func testSaveAndLoadGiveTheSameReconstructions() throws {
        let simulator = small()
        simulator.eval()
        let path = dir.appendingPathComponent("sim.safetensors").path
        try simulator.save(to: path)
        let loaded = try GeneratorTraceSimulator(path: path)
        XCTAssertEqual(loaded.autoencoders.map(\.config), simulator.autoencoders.map(\.config))
        for i in simulator.autoencoders.indices {
            XCTAssertEqual(loaded.reconstruct(photo(2), with: i), simulator.reconstruct(photo(2), with: i))
        }
        // A detector file is not a simulator: one error naming the file.
        let other = dir.appendingPathComponent("other.safetensors").path
        try Safetensors.write(["x": Tensor([1, 2])], to: other)
        XCTAssertThrowsError(try GeneratorTraceSimulator(path: other)) { XCTAssertTrue("\($0)".contains(other)) }
    }

    func testTrainingLowersTheReconstructionErrorAndResumesExactly() throws {
        var recipe = TraceSimulatorRecipe()
        (recipe.epochs, recipe.stepsPerEpoch, recipe.patchesPerStep, recipe.patchSize, recipe.validationCrops) = (2, 6, 2, 16, 3)
        recipe.autoencoders = [TraceAutoencoderConfig(upsampling: .transposed, width: 4, stages: 2),
                               TraceAutoencoderConfig(upsampling: .bilinear, width: 4, stages: 2)]
        let train = (0..<6).map { photo(UInt64($0), side: 40) }, validation = (10..<13).map { photo(UInt64($0), side: 40) }
        func run(_ out: String, stopAfter: Int? = nil, resume: Bool = false) throws -> (TraceSimulatorTrainer, [EpochRecord<TraceSimulatorValidation>]) {
            let trainer = try TraceSimulatorTrainer(recipe: recipe, train: train, validation: validation)
            return (trainer, try TrainingLoop(recipe: trainer, output: out).run(resume: resume, stopAfter: stopAfter))
        }
        let untrained = try TraceSimulatorTrainer(recipe: recipe, train: train, validation: validation)
        let before = try untrained.validate().score
        let a = dir.appendingPathComponent("a").path
        let (full, history) = try run(a)
        XCTAssertEqual(history.count, 2)
        XCTAssertGreaterThan(history.last!.validation.score, before, "training did not improve the reconstructions")
        XCTAssertEqual(history.last!.validation.psnr.count, 2)
        // The exported file is a simulator; an interrupted run resumes to the same weights.
        XCTAssertNoThrow(try GeneratorTraceSimulator(path: a + "/best.safetensors"))
        let b = dir.appendingPathComponent("b").path
        _ = try run(b, stopAfter: 1)
        let (resumed, _) = try run(b, resume: true)
        XCTAssertEqual(resumed.simulator.stateDict().flatMap { $0.1.scalars }, full.simulator.stateDict().flatMap { $0.1.scalars })
    }

    func testSynthesisRecipeTrainsOnSimulatedFakesAndNeedsTheSimulator() throws {
        var recipe = SelfBlendRecipe()
        (recipe.seed, recipe.epochs, recipe.realsPerStep, recipe.inputSize, recipe.stepsPerEpoch, recipe.warmupSteps, recipe.frozenBlocks) = (3, 1, 2, 32, 2, 1, 12)
        recipe.fakes = .generatorTrace
        func face(_ seed: UInt64, video: String) -> TrainingFace {
            TrainingFace(image: photo(seed, side: 64), landmarks: FaceCropper(size: 64).targetPoints,
                         sample: Sample(id: "\(video)#\(seed)", path: "\(video).png", label: 0, dataset: "synthetic", videoID: video, frameIndex: Int(seed)))
        }
        let train = (0..<4).map { face(UInt64($0), video: "v\($0)") }, validation = (10..<13).map { face(UInt64($0), video: "r\($0)") }
        let detector = try ParameterInit.withSeed(11) { try DeepfakeDetector(card: DetectorCard(id: "s", architecture: "efficientnet-lite0")) }
        let out = dir.appendingPathComponent("syn").path
        XCTAssertThrowsError(try SelfBlendTrainer(recipe: recipe, detector: detector, train: train, validation: validation, output: out)) {
            XCTAssertTrue("\($0)".contains("simulator"))
        }
        let simulator = small()
        simulator.eval()
        let trainer = try SelfBlendTrainer(recipe: recipe, detector: detector, train: train, validation: validation, output: out, simulator: simulator)
        // A training pair is the simulator's pair, augmented alike.
        var random = SeededRandom(seed: 4)
        let pair = trainer.trainingPair(train[0], using: &random)
        XCTAssertNotEqual(pair.real, pair.fake)
        let history = try trainer.run(resume: false)
        XCTAssertEqual(history.count, 1)
        XCTAssertTrue((0...1).contains(history[0].validation.aucSelfBlend))
        let state = try String(contentsOfFile: out + "/state.json", encoding: .utf8)
        XCTAssertTrue(state.contains("generator-trace"))
        let choice = try SelfBlendTrainer.calibrate(detector, validation: validation, recipe: recipe, simulator: simulator)
        XCTAssertEqual(choice.realUnits, 3)
        // Three real units allow ⌊0.02 · 3⌋ = 0 at or above the threshold (DecisionThreshold.capping).
        XCTAssertEqual(choice.realFlaggedRate, 0)
        XCTAssertGreaterThanOrEqual(choice.threshold, 0.5)
    }

    func testStackingDataHasEachRealItsSelfBlendAndTheSimulatorsPair() {
        func face(_ seed: UInt64, video: String, label: Int = 0) -> TrainingFace {
            TrainingFace(image: photo(seed, side: 64), landmarks: FaceCropper(size: 64).targetPoints,
                         sample: Sample(id: "\(video)#\(seed)", path: "\(video).png", label: label, dataset: "synthetic", videoID: video, frameIndex: Int(seed)))
        }
        // Three frames of one video (two kept per video), one photo, and a dataset fake that is left out.
        let faces = (0..<3).map { face(UInt64($0), video: "v") } + [face(7, video: "p"), face(9, video: "f", label: 1)]
        let simulator = small()
        simulator.eval()
        let blendOnly = StackingData.crops(faces, framesPerVideo: 2, seed: 1, blend: SelfBlend(), simulator: nil)
        XCTAssertEqual(blendOnly.labels, [0, 1, 0, 1, 0, 1])
        XCTAssertEqual(blendOnly.labels.filter { $0 == 0 }.count, 3)
        XCTAssertEqual(blendOnly.labels.filter { $0 == 1 }.count, 3)
        let both = StackingData.crops(faces, framesPerVideo: 2, seed: 1, blend: SelfBlend(), simulator: simulator)
        XCTAssertEqual(both.images.count, 12)
        XCTAssertEqual(Array(both.images.prefix(6)), blendOnly.images)
        XCTAssertEqual(both.labels.filter { $0 == 1 }.count, 6)
        // Every fake differs from the real before it.
        for i in stride(from: 0, to: 12, by: 2) {
            XCTAssertEqual(both.labels[i], 0)
            XCTAssertEqual(both.labels[i + 1], 1)
            XCTAssertNotEqual(both.images[i], both.images[i + 1])
        }
    }

    func testHighPassFakesTakeTheRealsLowFrequencies() {
        let base = photo(4), other = photo(8)
        // An image over itself is itself; a flat detail adds nothing to the base's blur.
        XCTAssertEqual(GeneratorTraceSimulator.highFrequencies(of: base, over: base, sigma: 1.5), base)
        let flat = RGBImage(width: 64, height: 64, fill: (90, 90, 90))
        XCTAssertEqual(GeneratorTraceSimulator.highFrequencies(of: flat, over: other, sigma: 1.5), Perturbation.gaussianBlur(sigma: 1.5).apply(to: other))
        // With the option on, a pair's fake differs from the plain reconstruction and stays the same size.
        let simulator = small()
        simulator.eval()
        (simulator.realDetailLoss, simulator.fakeSharpening) = (0, 0)
        var a = SeededRandom(seed: 2), b = SeededRandom(seed: 2)
        let plain = simulator.pair(photo(5, side: 48), using: &a)
        simulator.highPassSigma = 1.5
        let banded = simulator.pair(photo(5, side: 48), using: &b)
        XCTAssertEqual(plain.real, banded.real)
        XCTAssertNotEqual(plain.fake, banded.fake)
        XCTAssertEqual([banded.fake.width, banded.fake.height], [48, 48])
    }
}
