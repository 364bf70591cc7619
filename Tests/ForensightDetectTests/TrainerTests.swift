import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightMedia
import ForensightFaces
import ForensightData
import ForensightDetect
import ForensightTraining
import ForensightOptim

/// The self-blending trainer: reproducible for a seed, resumable to the same weights, and its data split.
final class TrainerTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-train-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func face(_ seed: UInt64, label: Int = 0, video: String, dataset: String = "synthetic") -> TrainingFace {
        var random = SeededRandom(seed: seed)
        let pixels = (0..<(96 * 96 * 3)).map { i in UInt8(truncatingIfNeeded: (i / 3 % 96) * 2 + Int(random.next() % 40)) }
        let landmarks = FaceCropper(size: 96).targetPoints
        let sample = Sample(id: "\(video)#\(seed)", path: "\(video).png", label: label, dataset: dataset, videoID: video, frameIndex: Int(seed))
        return TrainingFace(image: RGBImage(width: 96, height: 96, pixels: pixels), landmarks: landmarks, sample: sample)
    }

    var recipe: SelfBlendRecipe {
        var r = SelfBlendRecipe()
        (r.seed, r.epochs, r.realsPerStep, r.inputSize, r.stepsPerEpoch, r.warmupSteps, r.frozenBlocks) = (3, 2, 2, 32, 2, 1, 12)
        return r
    }

    func train(_ out: String, recipe r: SelfBlendRecipe? = nil, stopAfter: Int? = nil, resume: Bool = false) throws -> (DeepfakeDetector, [EpochRecord<ValidationResult>]) {
        let r = r ?? recipe
        ParameterInit.seed(11)      // the same initial weights for every run
        let detector = try DeepfakeDetector(card: DetectorCard(id: "t", architecture: "efficientnet-lite0"))
        // Two datasets of different sizes: epochs draw an equal share from each.
        let trainFaces = (0..<6).map { face(UInt64($0), video: "v\($0 % 3)") } + (6..<8).map { face(UInt64($0), video: "p\($0)", dataset: "photos") }
        let validation = (10..<14).map { face(UInt64($0), video: "r\($0 % 2)") } + (20..<22).map { face(UInt64($0), label: 1, video: "f") }
        let trainer = try SelfBlendTrainer(recipe: r, detector: detector, train: trainFaces, validation: validation, output: out)
        return (detector, try trainer.run(resume: resume, stopAfter: stopAfter))
    }

    func weights(_ d: DeepfakeDetector) -> [Float] { d.network.stateDict().flatMap { $0.1.scalars } }

    func testSameSeedSameWeightsAndResumeMatchesAnUninterruptedRun() throws {
        let a = dir.appendingPathComponent("a").path, b = dir.appendingPathComponent("b").path
        let (full, history) = try train(a)
        XCTAssertEqual(history.map(\.epoch), [1, 2])
        XCTAssertTrue(history.allSatisfy { $0.meanLoss.isFinite && (0...1).contains($0.validation.aucSelfBlend) })
        for file in ["best.safetensors", "last.safetensors", "optimizer.safetensors", "state.json", "history.jsonl"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: a + "/" + file), file)
        }
        // Training moved the trainable weights and left the frozen stem alone.
        ParameterInit.seed(11)
        let initial = try DeepfakeDetector(card: DetectorCard(id: "t", architecture: "efficientnet-lite0"))
        XCTAssertNotEqual(initial.network.fc.weight.scalars, full.network.fc.weight.scalars, "the head did not move")
        let stem = { (d: DeepfakeDetector) in d.network.stateDict().filter { $0.0.hasPrefix("_conv_stem") }.flatMap { $0.1.scalars } }
        XCTAssertFalse(stem(full).isEmpty)
        XCTAssertEqual(stem(initial), stem(full), "a frozen layer moved")
        // The same run again gives the same weights.
        let (again, _) = try train(dir.appendingPathComponent("c").path)
        XCTAssertEqual(weights(again), weights(full))
        // One epoch, then "interrupted": a resumed run finishes with the weights of the uninterrupted one.
        let (_, first) = try train(b, stopAfter: 1)
        XCTAssertEqual(first.count, 1)
        var other = recipe
        other.learningRate *= 2
        XCTAssertThrowsError(try train(b, recipe: other, resume: true)) { XCTAssertTrue("\($0)".contains("different recipe")) }
        let (resumed, resumedHistory) = try train(b, resume: true)
        XCTAssertEqual(resumedHistory.map(\.epoch), [1, 2])
        XCTAssertEqual(weights(resumed), weights(full))
    }

    func testAdamStateRoundTrip() throws {
        let p = Tensor([1, -2, 3], shape: [3], requiresGrad: true)
        let opt = AdamW([p], learningRate: 0.1)
        for _ in 0..<3 { p.grad = Tensor([0.5, -1, 2], shape: [3]); opt.step() }
        let copy = Tensor(p.scalars, shape: [3], requiresGrad: true)
        let restored = AdamW([copy], learningRate: 0.1)
        try restored.loadState(opt.stateTensors())
        p.grad = Tensor([1, 1, -1], shape: [3]); opt.step()
        copy.grad = Tensor([1, 1, -1], shape: [3]); restored.step()
        XCTAssertEqual(copy.scalars, p.scalars)
    }

    func testFillingPaddingReplacesTheBlackBorderAndKeepsTheContent() {
        // A 64×64 crop whose content is the rectangle x 16…47, y 20…55; the rest is alignment padding (black).
        var random = SeededRandom(seed: 5)
        var image = RGBImage(width: 64, height: 64)
        for y in 20...55 { for x in 16...47 { for c in 0..<3 { image.pixels[3 * (y * 64 + x) + c] = UInt8(40 + random.next() % 200) } } }
        let landmarks = [Point(x: 30, y: 30), Point(x: 40, y: 30)]
        let sample = Sample(id: "p", path: "p.png", label: 0, dataset: "photos")
        let filled = TrainingFace(image: image, landmarks: landmarks, sample: sample).fillingPadding()
        XCTAssertEqual(filled.landmarks, landmarks)
        XCTAssertEqual(filled.image.width, 64)
        for i in 0..<filled.image.pixelCount {
            let sum = (0..<3).map { Int(filled.image.pixels[3 * i + $0]) }.reduce(0, +)
            XCTAssertGreaterThan(sum, 6, "pixel \(i % 64), \(i / 64) is still padding")
            if sum <= 6 { break }
        }
        for y in 21...54 { for x in 17...46 { XCTAssertEqual(filled.image.pixels[3 * (y * 64 + x)], image.pixels[3 * (y * 64 + x)]) } }
        // Replicated, not invented: the far corner repeats the content's nearest pixel.
        XCTAssertEqual(filled.image.pixels[3 * (63 * 64 + 63)], image.pixels[3 * (54 * 64 + 46)])
        // A crop without padding comes back as it was.
        let plain = face(1, video: "v")
        XCTAssertEqual(plain.fillingPadding().image.pixels, plain.image.pixels)
    }

    func testPairedAugmentationLeavesTheOutsideOfTheBlendAlike() throws {
        func pairs(paired: Bool) throws -> [(real: RGBImage, fake: RGBImage)] {
            var r = recipe
            r.pairedAugmentation = paired
            let detector = try DeepfakeDetector(card: DetectorCard(id: "t", architecture: "efficientnet-lite0"))
            let faces = (0..<4).map { face(UInt64($0), video: "v\($0)") }
            let trainer = try SelfBlendTrainer(recipe: r, detector: detector, train: faces, validation: [face(9, video: "r")],
                                               output: dir.appendingPathComponent("p\(paired)").path)
            return (0..<16).map { i -> (real: RGBImage, fake: RGBImage) in
                var random = SeededRandom(seed: UInt64(100 + i))
                return trainer.trainingPair(faces[i % 4], using: &random)
            }
        }
        /// Mean absolute difference over the top-left 12×12 corner, far from the face mask.
        func cornerDifference(_ a: RGBImage, _ b: RGBImage) -> Double {
            var total = 0
            for y in 0..<12 { for x in 0..<12 { for c in 0..<3 {
                total += abs(Int(a.pixels[3 * (y * a.width + x) + c]) - Int(b.pixels[3 * (y * b.width + x) + c]))
            } } }
            return Double(total) / Double(12 * 12 * 3)
        }
        let together = try pairs(paired: true), apart = try pairs(paired: false)
        // Same draws: same flip, crop and so size; where the original face is the blend's target the corner is
        // untouched by the blend, and the same augmentation keeps it identical.
        XCTAssertTrue(together.allSatisfy { $0.real.width == $0.fake.width && $0.real.height == $0.fake.height })
        XCTAssertGreaterThanOrEqual(together.filter { cornerDifference($0.real, $0.fake) < 0.5 }.count, 3)
        // Independent draws: crops differ in size somewhere, and no corner survives exactly.
        XCTAssertTrue(apart.contains { $0.real.width != $0.fake.width })
        XCTAssertEqual(apart.filter { $0.real.width == $0.fake.width && cornerDifference($0.real, $0.fake) < 0.5 }.count, 0)
    }
}

/// The consistency term (`--consistency-weight`): second views of half the reals and fakes, and a loss that pulls
/// their logits together.
extension TrainerTests {
    func trainer(consistency: Float) throws -> SelfBlendTrainer {
        var r = recipe
        (r.realsPerStep, r.consistencyWeight) = (4, consistency)
        let detector = try DeepfakeDetector(card: DetectorCard(id: "t", architecture: "efficientnet-lite0"))
        let faces = (0..<8).map { face(UInt64($0), video: "v\($0)") }
        return try SelfBlendTrainer(recipe: r, detector: detector, train: faces, validation: [face(9, video: "r")],
                                    output: dir.appendingPathComponent("c\(consistency)").path)
    }

    func testViewsAreAddedWithoutChangingTheRealsAndFakes() throws {
        let plain = try trainer(consistency: 0), with = try trainer(consistency: 0.5)
        XCTAssertEqual(plain.consistencyPairs, 0); XCTAssertEqual(with.consistencyPairs, 2)
        let (a, ta) = plain.batch([0, 1, 2, 3], epoch: 0, firstPosition: 0)
        let (b, tb) = with.batch([0, 1, 2, 3], epoch: 0, firstPosition: 0)
        XCTAssertEqual(a.shape[0], 8); XCTAssertEqual(b.shape[0], 12)
        XCTAssertEqual(ta.scalars, tb.scalars)
        XCTAssertEqual(b.slice(axis: 0, 0..<8).scalars, a.scalars, "the views changed the reals or fakes")
        // Each view is its face edited, not a copy and not another face.
        let row = a.shape[1...].reduce(1, *)
        func rows(_ t: Tensor, _ i: Int) -> ArraySlice<Float> { t.scalars[(i * row)..<((i + 1) * row)] }
        for (view, source) in [(8, 0), (9, 1), (10, 4), (11, 5)] {
            let d = zip(rows(b, view), rows(b, source)).map { abs($0 - $1) }.reduce(0, +) / Float(row)
            let other = zip(rows(b, view), rows(b, (source + 2) % 8)).map { abs($0 - $1) }.reduce(0, +) / Float(row)
            XCTAssertGreaterThan(d, 0, "view \(view) is an exact copy")
            XCTAssertLessThan(d, other, "view \(view) is closer to another face than to its own")
        }
    }

    func testConsistencyLossAndItsGradientAgainstDirectSums() throws {
        let t = try trainer(consistency: 0.5)
        let values: [Float] = [0.3, -1.2, 2.0, 0.1, -0.4, 1.5, -2.2, 0.7, 0.9, -0.8, 1.1, -1.9]
        let targets = Tensor([0, 0, 0, 0, 1, 1, 1, 1], shape: [8, 1])
        func direct(_ z: [Float]) -> Double {
            var bce = 0.0
            for i in 0..<8 {
                let (x, y) = (Double(z[i]), i < 4 ? 0.0 : 1.0)
                bce += max(x, 0) - x * y + log(1 + exp(-abs(x)))
            }
            let pairs = [(0, 8), (1, 9), (4, 10), (5, 11)]
            let mse = pairs.map { pow(Double(z[$0.0] - z[$0.1]), 2) }.reduce(0, +) / 4
            return bce / 8 + 0.5 * mse
        }
        let logits = Tensor(values, shape: [12, 1], requiresGrad: true)
        let loss = t.stepLoss(logits, targets: targets)
        XCTAssertEqual(Double(loss.item), direct(values), accuracy: 1e-5)
        loss.backward()
        let grad = logits.grad!.scalars
        for i in 0..<12 {
            var up = values, down = values
            up[i] += 1e-2; down[i] -= 1e-2
            XCTAssertEqual(Double(grad[i]), (direct(up) - direct(down)) / 2e-2, accuracy: 1e-4, "d loss / d z\(i)")
        }
    }

    func testBenignViewsAreDeterministicSameSizedAndMild() {
        let image = face(5, video: "v").image
        var changed = 0
        for seed in 0..<12 as Range<UInt64> {
            var a = SeededRandom(seed: seed), b = SeededRandom(seed: seed)
            let view = BenignView()(image, using: &a)
            XCTAssertEqual(view, BenignView()(image, using: &b))
            XCTAssertEqual(view.width, image.width); XCTAssertEqual(view.height, image.height)
            let mean = zip(view.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.reduce(0, +) / view.pixels.count
            XCTAssertLessThan(mean, 40, "seed \(seed): not a mild edit")
            if view != image { changed += 1 }
        }
        XCTAssertGreaterThanOrEqual(changed, 11)
    }

    /// With `.dataset` fakes (the in-domain protocol), each real's fake is one of the training fakes, drawn by the
    /// seed: bright uniform fakes beside dark reals stay bright through the augmentation, where self-blends of the
    /// dark reals stay dark. A run without fakes is refused.
    func testDatasetFakesAreDrawnFromTheTrainingFakes() throws {
        var r = recipe
        r.fakes = .dataset
        let bright = (0..<3).map { k -> TrainingFace in
            var f = face(UInt64(30 + k), label: 1, video: "fake\(k)")
            f.image = RGBImage(width: 96, height: 96, pixels: [UInt8](repeating: 240, count: 96 * 96 * 3))
            return f
        }
        let reals = (0..<4).map { face(UInt64($0), video: "v\($0)") }
        func make(_ recipe: SelfBlendRecipe, _ name: String, fakes: [TrainingFace]) throws -> SelfBlendTrainer {
            let detector = try DeepfakeDetector(card: DetectorCard(id: "t", architecture: "efficientnet-lite0"))
            return try SelfBlendTrainer(recipe: recipe, detector: detector, train: reals + fakes, validation: [face(9, video: "r")],
                                        output: dir.appendingPathComponent(name).path)
        }
        let trainer = try make(r, "d", fakes: bright)
        XCTAssertEqual(trainer.stepsPerEpoch, 2, "steps count the reals only")
        let (a, targets) = trainer.batch([0, 1], epoch: 0, firstPosition: 0)
        let (b, _) = try make(r, "d2", fakes: bright).batch([0, 1], epoch: 0, firstPosition: 0)
        XCTAssertEqual(a.scalars, b.scalars, "the same seed drew other fakes or augmentations")
        XCTAssertEqual(targets.scalars, [0, 0, 1, 1])
        let row = a.shape[1...].reduce(1, *)
        func mean(_ t: Tensor, _ i: Int) -> Float { t.scalars[(i * row)..<((i + 1) * row)].reduce(0, +) / Float(row) }
        for i in 0..<2 { XCTAssertLessThan(mean(a, i), mean(a, 2 + i) - 0.5, "fake row \(2 + i) is not a bright dataset fake") }
        let (blends, _) = try make(recipe, "s", fakes: bright).batch([0, 1], epoch: 0, firstPosition: 0)
        for i in 0..<2 { XCTAssertLessThan(abs(mean(blends, i) - mean(blends, 2 + i)), 0.5, "a self-blend is as bright as a dataset fake") }
        XCTAssertThrowsError(try make(r, "none", fakes: []))
    }
}
