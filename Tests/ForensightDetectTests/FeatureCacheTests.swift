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

/// The feature cache for frozen backbones (`train --feature-cache`) on the tiny ForgeLens of `ForgeLensDetectorTests`:
/// cached fp16 features give the whole network's logits, a stale cache is refused, a partly written one resumes, and
/// training from it is deterministic and resumes exactly.
final class FeatureCacheTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("feature-cache-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func face(_ seed: UInt64, video: String) -> TrainingFace {
        var random = SeededRandom(seed: seed)
        let pixels = (0..<(64 * 64 * 3)).map { i in UInt8(truncatingIfNeeded: (i / 3 % 64) * 3 + Int(random.next() % 40)) }
        let sample = Sample(id: "\(video)#\(seed)", path: "\(video).png", label: 0, dataset: "synthetic", videoID: video, frameIndex: Int(seed))
        return TrainingFace(image: RGBImage(width: 64, height: 64, pixels: pixels), landmarks: FaceCropper(size: 64).targetPoints, sample: sample)
    }

    var recipe: SelfBlendRecipe {
        var recipe = SelfBlendRecipe()
        (recipe.epochs, recipe.realsPerStep, recipe.inputSize, recipe.stepsPerEpoch, recipe.warmupSteps, recipe.frozenBlocks) = (2, 2, 32, 3, 1, 0)
        (recipe.architecture, recipe.learningRate, recipe.featureCacheViews) = (ForgeLensDetector.architecture, 2e-3, 2)
        return recipe
    }

    func detector(_ seed: UInt64 = 5) throws -> ForgeLensDetector {
        var card = DetectorCard(id: "tiny-forgelens", architecture: ForgeLensDetector.architecture)
        card.inputSize = 32
        return try ParameterInit.withSeed(seed) {
            try ForgeLensDetector(card: card, backbone: ForgeLensDetectorTests.tinyBackbone, layers: [0, 2], config: ForgeLensDetectorTests.tinyConfig)
        }
    }

    func trainer(_ recipe: SelfBlendRecipe, detector: ForgeLensDetector? = nil, out: String = "run") throws -> SelfBlendTrainer {
        let train = (0..<6).map { face(UInt64($0), video: "v\($0 % 3)") }
        let validation = (10..<14).map { face(UInt64($0), video: "r\($0 % 2)") }
        return try SelfBlendTrainer(recipe: recipe, detector: try detector ?? self.detector(), train: train, validation: validation,
                                    output: dir.appendingPathComponent(out).path)
    }

    var cachePath: String { dir.appendingPathComponent("features").path }

    /// The head on the frozen part's exact outputs is the whole network (one code path), and on the cached fp16
    /// features within fp16 tolerance: each stored value within 2⁻¹¹ of its own magnitude (half precision's unit
    /// roundoff) plus 2⁻²⁴ (its subnormal step), each logit within 2e-3 · max(1, |logit|).
    func testCachedHalfFeaturesGiveTheWholeNetworksLogits() throws {
        let model = try detector()
        let trainer = try self.trainer(recipe, detector: model)
        let report = try trainer.prepareFeatureCache(at: cachePath)
        XCTAssertEqual(report.manifest.shapes, [[8, 16, 16], [8, 8, 8]])
        XCTAssertEqual(report.bytes, 6 * 2 * 2 * (8 * 16 * 16 + 8 * 8 * 8) * 2)
        model.network.eval()
        let cache = try FeatureCache(directory: cachePath, wanted: report.manifest)
        var worst: Float = 0
        for (f, v) in [(0, 0), (3, 1), (5, 0)] {
            let (real, fake) = trainer.cachedPair(face: f, view: v)
            let input = model.inputTensor([real, fake])
            let whole = withoutGrad { model.trainingLogits(input) }.scalars
            let exact = withoutGrad { model.frozenFeatures(input) }
            XCTAssertEqual(withoutGrad { model.trainingLogits(fromFrozen: exact) }.scalars, whole, "head(backbone(x)) is the network")
            let stored = try cache.features([FeatureCache.Item(face: f, view: v, fake: false), FeatureCache.Item(face: f, view: v, fake: true)])
            for (a, b) in zip(stored, exact) {
                XCTAssertEqual(a.shape, b.shape)
                for i in 0..<a.count { XCTAssertLessThanOrEqual(abs(a.data[i] - b.data[i]), abs(b.data[i]) / 2048 + 1.0 / 16_777_216) }
            }
            let cached = withoutGrad { model.trainingLogits(fromFrozen: stored) }.scalars
            for (c, w) in zip(cached, whole) {
                XCTAssertEqual(c, w, accuracy: 2e-3 * max(1, abs(w)))
                worst = max(worst, abs(c - w))
            }
        }
        print("feature cache: largest logit difference from fp16 features \(worst)")
    }

    /// A cache made for another recipe, other backbone weights or another view count is refused with a line naming
    /// the folder and the reason; `rebuild` replaces it.
    func testAStaleCacheIsRefusedUnlessRebuilt() throws {
        try trainer(recipe).prepareFeatureCache(at: cachePath)
        var seeded = recipe
        seeded.seed = 1
        XCTAssertThrowsError(try trainer(seeded).prepareFeatureCache(at: cachePath)) {
            XCTAssertTrue("\($0)".contains(cachePath) && "\($0)".contains("another recipe") && "\($0)".contains("--rebuild-feature-cache"), "\($0)")
        }
        let other = try detector()
        (other.network.tokens as! EfficientNetLiteTokens).trunk.blocks[0].projectConv.weight.data[0] += 0.5
        XCTAssertThrowsError(try trainer(recipe, detector: other).prepareFeatureCache(at: cachePath)) {
            XCTAssertTrue("\($0)".contains("another backbone"), "\($0)")
        }
        var views = recipe
        views.featureCacheViews = 3
        XCTAssertThrowsError(try trainer(views).prepareFeatureCache(at: cachePath)) { XCTAssertTrue("\($0)".contains("views"), "\($0)") }
        // Fields that do not change the pairs (epochs, learning rate) keep the cache.
        var longer = recipe
        (longer.epochs, longer.learningRate) = (9, 1e-4)
        XCTAssertEqual(try trainer(longer).prepareFeatureCache(at: cachePath).builtShards, 0)
        let rebuilt = try trainer(seeded).prepareFeatureCache(at: cachePath, rebuild: true)
        XCTAssertEqual(rebuilt.builtShards, 1)
        XCTAssertTrue(rebuilt.manifest.complete)
        XCTAssertEqual(try trainer(seeded).prepareFeatureCache(at: cachePath).builtShards, 0, "the rebuilt cache serves its recipe")
    }

    /// A build killed part-way (one shard missing, one half-written, a temporary file left, the manifest not complete)
    /// writes only what is missing, and the result equals an uninterrupted build byte for byte.
    func testAPartlyWrittenCacheResumes() throws {
        let first = try trainer(recipe).prepareFeatureCache(at: cachePath, facesPerShard: 2)
        XCTAssertEqual([first.builtShards, first.reusedShards], [3, 0])
        let cache = try FeatureCache(directory: cachePath, wanted: first.manifest)
        let whole = try (0..<3).map { try Data(contentsOf: URL(fileURLWithPath: cache.shardPath($0))) }
        try FileManager.default.removeItem(atPath: cache.shardPath(1))
        try whole[2].prefix(whole[2].count / 2).write(to: URL(fileURLWithPath: cache.shardPath(2)))
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: cache.shardPath(1) + ".tmp"))
        var manifest = first.manifest
        manifest.complete = false
        try JSONEncoder().encode(manifest).write(to: URL(fileURLWithPath: cachePath + "/manifest.json"))
        XCTAssertEqual(cache.missingShards, [1, 2])
        var progress: [Int] = []
        let resumed = try trainer(recipe).prepareFeatureCache(at: cachePath, facesPerShard: 2) { done, _ in progress.append(done) }
        XCTAssertEqual([resumed.builtShards, resumed.reusedShards], [2, 1])
        XCTAssertEqual(progress, [2, 4, 6], "counting from the faces already cached")
        XCTAssertTrue(resumed.manifest.complete)
        XCTAssertEqual(try (0..<3).map { try Data(contentsOf: URL(fileURLWithPath: cache.shardPath($0))) }, whole)
    }

    /// Training from the cache: the run refuses to start without it, the same seed gives the same weights, an
    /// interrupted run resumed from its checkpoint ends with the uninterrupted run's weights, and the backbone stays.
    func testTrainingFromTheCacheIsDeterministicAndResumesExactly() throws {
        XCTAssertThrowsError(try trainer(recipe).run(resume: false)) { XCTAssertTrue("\($0)".contains("prepareFeatureCache"), "\($0)") }
        func weights(out: String, stopAfter: Int? = nil, resume: Bool = false) throws -> (weights: [Float], history: [Double], trunk: [Float]) {
            let model = try detector()
            let trainer = try self.trainer(recipe, detector: model, out: out)
            try trainer.prepareFeatureCache(at: cachePath)
            let history = try trainer.run(resume: resume, stopAfter: stopAfter)
            return (model.network.stateDict().flatMap { $0.1.scalars }, history.map(\.meanLoss), (model.network.tokens as! EfficientNetLiteTokens).trunk.stateDict().flatMap { $0.1.scalars })
        }
        let trunk = (try detector().network.tokens as! EfficientNetLiteTokens).trunk.stateDict().flatMap { $0.1.scalars }
        let (a, b) = (try weights(out: "a"), try weights(out: "b"))
        XCTAssertEqual(a.weights, b.weights, "same seed, same weights")
        XCTAssertEqual(a.history.count, 2)
        XCTAssertTrue(a.history.allSatisfy(\.isFinite), "\(a.history)")
        XCTAssertEqual(a.trunk, trunk, "the frozen backbone stays as loaded")
        _ = try weights(out: "c", stopAfter: 1)
        let resumed = try weights(out: "c", resume: true)
        XCTAssertEqual(resumed.weights, a.weights, "resumed from epoch 1 = uninterrupted")
        XCTAssertEqual(resumed.history, a.history)
        // The same recipe without the cache trains differently (fresh pairs each step) but is still a valid run.
        var fresh = recipe
        fresh.featureCacheViews = 0
        XCTAssertThrowsError(try trainer(fresh).prepareFeatureCache(at: cachePath)) { XCTAssertTrue("\($0)".contains("--cache-views"), "\($0)") }
    }
}

extension FeatureCacheTests {
    /// `train --feature-cache` through the command line on a few UTKFace photos (skipped without them or the weights):
    /// a first run builds the cache and trains from it, a run with --resume reuses it, a run with another seed is refused,
    /// and an architecture without a frozen backbone is a usage error; `train --help` teaches the options.
    func testTrainWithAFeatureCacheThroughTheCommandLine() throws {
        let help = try CLIRunner.run(["train", "--help"])
        XCTAssertTrue(help.stdout.contains("--feature-cache") && help.stdout.contains("--cache-views") && help.stdout.contains("--rebuild-feature-cache"))
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
        let run = dir.appendingPathComponent("run").path
        let common = ["train", "--detector", "sbi", "--architecture", "forgelens-efficientnet-lite0", "--data", data.path,
                      "--cache", dir.appendingPathComponent("cache").path, "--input-size", "64", "--steps-per-epoch", "2", "--reals-per-step", "2",
                      "--val-fraction", "0.25", "--test-fraction", "0.1", "--feature-cache", cachePath, "--cache-views", "2", "--out", run]
        let first = try CLIRunner.run(common + ["--epochs", "1"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stderr.contains("feature cache:") && first.stderr.contains("shards built"), first.stderr)
        let manifest = try JSONDecoder().decode(FeatureCacheManifest.self, from: Data(contentsOf: URL(fileURLWithPath: cachePath + "/manifest.json")))
        XCTAssertTrue(manifest.complete)
        XCTAssertEqual(manifest.views, 2)
        XCTAssertEqual(manifest.shapes, [[80, 4, 4], [112, 4, 4], [192, 2, 2]], "Lite0 blocks 7, 10, 14 at 64 px")
        let resumed = try CLIRunner.run(common + ["--epochs", "1", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("feature cache: reusing"), resumed.stderr)
        let refused = try CLIRunner.run(common + ["--epochs", "1", "--seed", "7", "--out", dir.appendingPathComponent("run3").path])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("another recipe"), refused.stderr)
        let lite = try CLIRunner.run(["train", "--architecture", "efficientnet-lite0", "--data", data.path, "--out", run, "--feature-cache", cachePath])
        XCTAssertNotEqual(lite.status, 0)
        XCTAssertTrue(lite.stderr.contains("no frozen backbone"), lite.stderr)
    }
}
