import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightTraining

/// `TrainingLoop` runs any `TrainingRecipe`: here a toy regression that is not a detector at all.
final class TrainingLoopTests: XCTestCase {
    /// Fits y = 3x₀ − 2x₁ + 1 with one linear layer; every batch is drawn from (seed, epoch, step).
    final class Regression: TrainingRecipe {
        struct Config: Codable, Equatable, Sendable { var seed: UInt64 = 4; var epochs = 3 }
        let config: Config
        let model: Linear
        init(_ config: Config = Config()) {
            self.config = config
            model = ParameterInit.withSeed(config.seed) { Linear(2, 1) }
        }
        var optimization: Optimization {
            Optimization(epochs: config.epochs, stepsPerEpoch: 40, learningRate: 0.2, weightDecay: 0, warmupSteps: 2)
        }
        var samplesPerStep: Int { 16 }
        func trainableParameters() -> [Tensor] { model.trainableParameters() }
        func beginEpoch(_ epoch: Int) { model.train() }
        func batch(epoch: Int, step: Int) -> (Tensor, Tensor) {
            var random = SeededRandom(seed: config.seed &* 1000 &+ UInt64(epoch * 100 + step))
            let x = (0..<32).map { _ in random.nextFloat() * 2 - 1 }
            let y: [Float] = (0..<16).map { i -> Float in
                let (a, b) = (x[2 * i], x[2 * i + 1])
                return 3 * a - 2 * b + 1
            }
            return (Tensor(x, shape: [16, 2]), Tensor(y, shape: [16, 1]))
        }
        func loss(epoch: Int, step: Int) -> Tensor {
            let (x, y) = batch(epoch: epoch, step: step)
            return Tensor.mseLoss(model(x), y)
        }
        func validate() throws -> (score: Double, result: Double) {
            let (x, y) = batch(epoch: 99, step: 0)
            let mse = Double(withoutGrad { Tensor.mseLoss(model(x), y) }.item)
            return (-mse, mse)
        }
        func saveWeights(to path: String) throws { try Safetensors.write(Dictionary(uniqueKeysWithValues: model.stateDict()), to: path) }
        func loadWeights(from path: String) throws { _ = try model.load(safetensors: path) }
    }

    func testAnyRecipeTrainsCheckpointsAndResumes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-loop-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let full = Regression()
        let history = try TrainingLoop(recipe: full, output: dir + "/a").run(resume: false)
        XCTAssertEqual(history.map(\.epoch), [1, 2, 3])
        XCTAssertLessThan(history.last!.validation, 0.2 * history.first!.validation, "validation error did not fall")
        XCTAssertLessThan(history.last!.validation, 0.05)
        for file in ["best.safetensors", "last.safetensors", "optimizer.safetensors", "state.json", "history.jsonl"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/a/" + file), file)
        }
        // Interrupted after one epoch, then resumed by a fresh process's objects: the same weights as uninterrupted.
        _ = try TrainingLoop(recipe: Regression(), output: dir + "/b").run(resume: false, stopAfter: 1)
        let resumed = Regression()
        let rest = try TrainingLoop(recipe: resumed, output: dir + "/b").run(resume: true)
        XCTAssertEqual(rest.map(\.epoch), [1, 2, 3])
        XCTAssertEqual(resumed.model.weight.scalars, full.model.weight.scalars)
        XCTAssertEqual(resumed.model.bias!.scalars, full.model.bias!.scalars)
        // Another config cannot resume this run.
        XCTAssertThrowsError(try TrainingLoop(recipe: Regression(.init(seed: 5)), output: dir + "/b").run(resume: true)) {
            XCTAssertTrue("\($0)".contains("different recipe"))
        }
    }
}
