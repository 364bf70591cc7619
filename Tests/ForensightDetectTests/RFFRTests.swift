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

/// RFFR: the inpainter's training (stage 1), the detector's file and input, its self-blend training (stage 2), and the
/// two `train` commands followed by `detect`.
final class RFFRTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-rffr-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// A smooth gradient with a little noise: something an inpainter can learn to continue.
    func photo(_ seed: UInt64, side: Int = 64) -> RGBImage {
        var random = SeededRandom(seed: seed)
        let pixels = (0..<(side * side * 3)).map { i -> UInt8 in
            let (x, y, c) = (i / 3 % side, i / 3 / side, i % 3)
            return UInt8(truncatingIfNeeded: 40 + x * 2 + y + c * 30 + Int(random.next() % 12))
        }
        return RGBImage(width: side, height: side, pixels: pixels)
    }

    func face(_ seed: UInt64, video: String, label: Int = 0) -> TrainingFace {
        TrainingFace(image: photo(seed, side: 64), landmarks: FaceCropper(size: 64).targetPoints,
                     sample: Sample(id: "\(video)#\(seed)", path: "\(video).png", label: label, dataset: "synthetic", videoID: video, frameIndex: Int(seed)))
    }

    static let tiny = BlockInpainterConfig(workingSize: 32, blockSize: 8, passes: 4, width: 4, maskSeed: 1)

    func testInpainterTrainingLearnsIsDeterministicAndResumesExactly() throws {
        var recipe = InpainterRecipe()
        (recipe.seed, recipe.epochs, recipe.stepsPerEpoch, recipe.cropsPerStep, recipe.validationCrops, recipe.inpainter) = (2, 2, 8, 3, 3, Self.tiny)
        recipe.learningRate = 3e-3
        let train = (0..<6).map { photo(UInt64($0), side: 40) }, validation = (10..<13).map { photo(UInt64($0), side: 40) }
        func run(_ out: String, stopAfter: Int? = nil, resume: Bool = false) throws -> (InpainterTrainer, [EpochRecord<InpainterValidation>]) {
            let trainer = try InpainterTrainer(recipe: recipe, train: train, validation: validation)
            return (trainer, try TrainingLoop(recipe: trainer, output: out).run(resume: resume, stopAfter: stopAfter))
        }
        let before = try InpainterTrainer(recipe: recipe, train: train, validation: validation).validate().score
        let a = dir.appendingPathComponent("a").path
        let (full, history) = try run(a)
        XCTAssertEqual(history.map(\.epoch), [1, 2])
        XCTAssertGreaterThan(history.last!.validation.psnr, before, "training did not improve the restorations")
        XCTAssertEqual(try BlockInpainter(path: a + "/best.safetensors").config, Self.tiny)
        func weights(_ t: InpainterTrainer) -> [Float] { t.inpainter.stateDict().flatMap { $0.1.scalars } }
        let (again, _) = try run(dir.appendingPathComponent("c").path)
        XCTAssertEqual(weights(again), weights(full))
        let b = dir.appendingPathComponent("b").path
        _ = try run(b, stopAfter: 1)
        let (resumed, _) = try run(b, resume: true)
        XCTAssertEqual(weights(resumed), weights(full))
        // The loss counts hidden pixels only: a perfect restoration of them costs nothing, whatever the rest.
        let probe = try InpainterTrainer(recipe: recipe, train: train, validation: validation)
        let (images, masks) = probe.batch(epoch: 0, step: 0)
        var off = images.scalars
        for i in off.indices where masks[i / (3 * 32 * 32)][i % (32 * 32)] == 0 { off[i] += 0.5 }
        XCTAssertEqual(InpainterTrainer.maskedL1(Tensor(off, shape: images.shape), images, masks: masks).item, 0)
    }

    func detector(seed: UInt64 = 11, inputSize: Int = 32) throws -> RFFRDetector {
        var card = DetectorCard(id: "rffr", architecture: RFFRDetector.architecture)
        card.inputSize = inputSize
        return try ParameterInit.withSeed(seed) { try RFFRDetector(card: card, inpainter: BlockInpainter(Self.tiny)) }
    }

    func testDetectorInputFileAndRegistry() throws {
        let d = try detector()
        let input = d.inputTensor([photo(1), photo(2)])
        XCTAssertEqual(input.shape, [2, 6, 32, 32])
        // Channels 3–5 are the amplified residual of the 32-px working image (here the same size as the input).
        let px = photo(1).resized(width: 32, height: 32, method: .area).pixels
        let working = Tensor((0..<(3 * 1024)).map { Float(px[3 * ($0 % 1024) + $0 / 1024]) / 127.5 - 1 }, shape: [1, 3, 32, 32])
        let cue = d.network.inpainter.amplifiedResidual(working).scalars
        let worst = zip(input.scalars[(3 * 1024)..<(6 * 1024)], cue).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst, 1e-5)
        d.network.eval()
        // In evaluation the crop branch runs compiled (folded BatchNorm): the module's logits within float rounding.
        let module = withoutGrad { d.network(input) }.scalars, compiled = d.logits(input)
        for (a, b) in zip(module, compiled) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(a))) }
        d.card.flipAverage = true
        let path = dir.appendingPathComponent("rffr.safetensors").path
        try d.save(to: path, dtype: .f32)
        let loaded = try XCTUnwrap(try DetectorRegistry.load(path: path) as? RFFRDetector)
        XCTAssertEqual(loaded.faceLogits([photo(3), photo(4)]), d.faceLogits([photo(3), photo(4)]))
        XCTAssertEqual(loaded.network.inpainter.config, Self.tiny)
        XCTAssertTrue(DetectorRegistry.trainableArchitectures.contains(RFFRDetector.architecture))
        // A file without the inpainter's configuration is refused with one line naming it.
        let broken = dir.appendingPathComponent("broken.safetensors").path
        try d.network.save(safetensors: broken, metadata: ["forensight.card": d.card.json])
        XCTAssertThrowsError(try DetectorRegistry.load(path: broken)) { XCTAssertTrue("\($0)".contains(broken), "\($0)") }
    }

    func testStageTwoIsDeterministicResumesExactlyAndLeavesTheInpainterFrozen() throws {
        var recipe = SelfBlendRecipe()
        (recipe.seed, recipe.epochs, recipe.realsPerStep, recipe.inputSize, recipe.stepsPerEpoch, recipe.warmupSteps, recipe.frozenBlocks) = (3, 2, 2, 32, 2, 1, 12)
        (recipe.architecture, recipe.inpainterSHA256) = (RFFRDetector.architecture, "test")
        let train = (0..<4).map { face(UInt64($0), video: "v\($0)") }, validation = (10..<13).map { face(UInt64($0), video: "r\($0)") }
        func run(_ name: String, stopAfter: Int? = nil, resume: Bool = false) throws -> RFFRDetector {
            let d = try detector()
            let trainer = try SelfBlendTrainer(recipe: recipe, detector: d, train: train, validation: validation, output: dir.appendingPathComponent(name).path)
            _ = try trainer.run(resume: resume, stopAfter: stopAfter)
            return d
        }
        func weights(_ d: RFFRDetector) -> [Float] { d.network.stateDict().flatMap { $0.1.scalars } }
        let initial = try detector()
        let full = try run("a")
        XCTAssertNotEqual(initial.network.head.weight.scalars, full.network.head.weight.scalars, "the head did not move")
        XCTAssertNotEqual(initial.network.residual.convs[0].weight.scalars, full.network.residual.convs[0].weight.scalars)
        let inpainter = { (d: RFFRDetector) in d.network.inpainter.stateDict().flatMap { $0.1.scalars } }
        XCTAssertEqual(inpainter(full), inpainter(initial), "the frozen inpainter moved")
        XCTAssertEqual(weights(try run("c")), weights(full))
        _ = try run("b", stopAfter: 1)
        XCTAssertEqual(weights(try run("b", resume: true)), weights(full))
        // With a trace simulator, half the fakes are its reconstructions.
        recipe.fakes = .selfBlendAndGeneratorTrace
        recipe.epochs = 1
        let simulator = ParameterInit.withSeed(5) { GeneratorTraceSimulator([TraceAutoencoderConfig(upsampling: .nearest, width: 4, stages: 2)]) }
        simulator.eval()
        let mixed = try SelfBlendTrainer(recipe: recipe, detector: try detector(), train: train, validation: validation,
                                         output: dir.appendingPathComponent("mixed").path, simulator: simulator)
        XCTAssertEqual(try mixed.run(resume: false).count, 1)
        let choice = try SelfBlendTrainer.calibrate(full, validation: validation, recipe: recipe, simulator: simulator)
        XCTAssertEqual(choice.realUnits, 3)
    }
}

extension RFFRTests {
    /// Both stages and `detect` through the command line, on a few UTKFace photos (skipped without them or the weights).
    func testTrainBothStagesThenDetect() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/datasets/utkface-real/images").standardized.path
        guard let all = try? FileManager.default.contentsOfDirectory(atPath: folder).sorted().filter({ $0.hasSuffix(".jpg") }), all.count >= 24 else {
            throw XCTSkip("../shared/datasets/utkface-real absent")
        }
        guard MTCNN.weightsPresent(), FileManager.default.fileExists(atPath: ModelLocations.weightsDirectory + "/efficientnet_lite0.safetensors") else {
            throw XCTSkip("MTCNN or EfficientNet-Lite0 weights absent (run scripts/setup/weights.sh)")
        }
        let names = Array(all.prefix(24))
        let data = dir.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: data.appendingPathComponent("real"), withIntermediateDirectories: true)
        for name in names { try FileManager.default.copyItem(atPath: folder + "/" + name, toPath: data.appendingPathComponent("real/" + name).path) }
        try (["path,label"] + names.map { "real/\($0),real" }).joined(separator: "\n").write(to: data.appendingPathComponent("labels.csv"), atomically: true, encoding: .utf8)
        let cache = dir.appendingPathComponent("cache").path
        let common = ["--data", data.path, "--cache", cache, "--epochs", "1", "--steps-per-epoch", "2", "--reals-per-step", "2",
                      "--val-fraction", "0.25", "--test-fraction", "0.1"]
        let inpainter = dir.appendingPathComponent("inpainter.safetensors").path, model = dir.appendingPathComponent("rffr.safetensors").path
        let stage1 = try CLIRunner.run(["train", "--detector", "rffr-inpainter", "--working-size", "32", "--block-size", "8", "--inpainter-width", "4",
                                        "--out", dir.appendingPathComponent("inp").path, "--export", inpainter] + common)
        XCTAssertEqual(stage1.status, 0, stage1.stderr)
        XCTAssertTrue(stage1.stderr.contains("validation PSNR"), stage1.stderr)
        let missing = try CLIRunner.run(["train", "--detector", "rffr", "--out", dir.appendingPathComponent("x").path] + common)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("--inpainter"), missing.stderr)
        let stage2 = try CLIRunner.run(["train", "--detector", "rffr", "--inpainter", inpainter, "--input-size", "64",
                                        "--out", dir.appendingPathComponent("rffr").path, "--export", model] + common)
        XCTAssertEqual(stage2.status, 0, stage2.stderr)
        let detected = try CLIRunner.run(["detect", "--model", model, "--json", data.appendingPathComponent("real/" + names[0]).path])
        XCTAssertEqual(detected.status, 0, detected.stderr)
        let record = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(detected.stdout.utf8)) as? [String: Any])
        XCTAssertTrue(["REAL", "FAKE"].contains(record["verdict"] as? String ?? ""), detected.stdout)
        // An inpainter file that is not one: one line naming it.
        let bad = try CLIRunner.run(["train", "--detector", "rffr", "--inpainter", model, "--out", dir.appendingPathComponent("y").path] + common)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains(model), bad.stderr)
    }
}
