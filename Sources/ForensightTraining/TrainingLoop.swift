import Foundation
import ForensightTensor
import ForensightNN
import ForensightOptim

/// How a recipe's parameters are optimized: AdamW with a linear warm-up and cosine decay, gradients clipped by norm.
public struct Optimization: Sendable, Equatable {
    public var epochs: Int
    public var stepsPerEpoch: Int
    public var learningRate: Float
    public var weightDecay: Float
    public var warmupSteps: Int
    public var maxGradNorm: Float

    public init(epochs: Int, stepsPerEpoch: Int, learningRate: Float, weightDecay: Float, warmupSteps: Int, maxGradNorm: Float = 10) {
        (self.epochs, self.stepsPerEpoch, self.learningRate) = (epochs, stepsPerEpoch, learningRate)
        (self.weightDecay, self.warmupSteps, self.maxGradNorm) = (weightDecay, warmupSteps, maxGradNorm)
    }
}

/// One way to train a model: what a step computes, how an epoch begins, how the model is validated and saved.
/// `TrainingLoop` runs any recipe, so a detector with several losses or stages is a recipe, not a fork of the loop.
public protocol TrainingRecipe: AnyObject {
    /// The recipe's settings, saved in `state.json` (a resume must use equal ones).
    associatedtype Config: Codable & Equatable & Sendable
    /// What one validation reports (one line of `history.jsonl` holds it).
    associatedtype Validation: Codable & Sendable & Equatable

    var config: Config { get }
    var optimization: Optimization { get }
    /// Samples a step sees (throughput in the history).
    var samplesPerStep: Int { get }
    /// The parameters the optimizer updates (after `beginEpoch` has set modes and frozen layers).
    func trainableParameters() -> [Tensor]
    /// Sets training mode, frozen layers and per-epoch random streams.
    func beginEpoch(_ epoch: Int)
    /// The loss of step `step` of `epoch` (its batch drawn from the recipe's seeded streams), ready for `backward()`.
    func loss(epoch: Int, step: Int) -> Tensor
    /// Validates the model; `score` chooses the best epoch (higher is better).
    func validate() throws -> (score: Double, result: Validation)
    func saveWeights(to path: String) throws
    func loadWeights(from path: String) throws
}

/// One line of the training history (`history.jsonl`).
public struct EpochRecord<Validation: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    public var epoch: Int
    public var steps: Int
    public var meanLoss: Double
    public var imagesPerSecond: Double
    public var seconds: Double
    public var validation: Validation

    enum CodingKeys: String, CodingKey {
        case epoch, steps, meanLoss = "mean_loss", imagesPerSecond = "images_per_second", seconds, validation
    }
}

/// What a training run reports while it runs.
public enum TrainingEvent<Validation: Codable & Sendable & Equatable> {
    case step(epoch: Int, step: Int, of: Int, loss: Double, learningRate: Float)
    case validating(epoch: Int)
    case epochDone(EpochRecord<Validation>, isBest: Bool)
}

/// Saved between epochs in `<out>/state.json`.
struct TrainingState<Config: Codable & Equatable>: Codable {
    var recipe: Config
    var epochsDone: Int
    var globalStep: Int
    var bestScore: Double?
    var bestEpoch: Int?
    enum CodingKeys: String, CodingKey { case recipe, epochsDone = "epochs_done", globalStep = "global_step", bestScore = "best_score", bestEpoch = "best_epoch" }
}

/// Runs a `TrainingRecipe`: AdamW steps on its loss, after every epoch a validation, `last.safetensors`,
/// `optimizer.safetensors`, `state.json` and `history.jsonl`, and `best.safetensors` when the score improved.
/// A killed run resumes from its last finished epoch exactly as an uninterrupted one would continue: the recipe's
/// random streams depend only on (seed, epoch, step), and the optimizer state is saved with the weights.
public final class TrainingLoop<Recipe: TrainingRecipe> {
    public let recipe: Recipe
    public let output: String
    let optimizer: Adam

    /// - Parameter output: the run folder (created).
    public init(recipe: Recipe, output: String) throws {
        (self.recipe, self.output) = (recipe, output)
        recipe.beginEpoch(0)
        let o = recipe.optimization
        optimizer = AdamW(recipe.trainableParameters(), learningRate: o.learningRate, weightDecay: o.weightDecay)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
    }

    /// Runs the remaining epochs (all of them, or those after the checkpoint in `output` when `resume` is set) and
    /// returns the whole history. `stopAfter` ends the run early after that epoch, as an interruption would.
    public func run(resume: Bool, stopAfter: Int? = nil, report: (TrainingEvent<Recipe.Validation>) -> Void = { _ in }) throws
        -> [EpochRecord<Recipe.Validation>] {
        let o = recipe.optimization
        var state = TrainingState(recipe: recipe.config, epochsDone: 0, globalStep: 0, bestScore: nil, bestEpoch: nil)
        var history: [EpochRecord<Recipe.Validation>] = []
        let statePath = output + "/state.json"
        if resume, FileManager.default.fileExists(atPath: statePath) {
            state = try JSONDecoder().decode(TrainingState<Recipe.Config>.self, from: Data(contentsOf: URL(fileURLWithPath: statePath)))
            guard state.recipe == recipe.config else {
                throw TrainingError("\(output) holds a run with a different recipe; use the same options to resume, or another --out")
            }
            try recipe.loadWeights(from: output + "/last.safetensors")
            try optimizer.loadState(Safetensors.read(path: output + "/optimizer.safetensors"))
            history = try readHistory()
        }
        let schedule = CosineWithWarmup(base: o.learningRate, warmupSteps: min(o.warmupSteps, o.epochs * o.stepsPerEpoch - 1),
                                        totalSteps: o.epochs * o.stepsPerEpoch)
        for epoch in state.epochsDone..<min(o.epochs, stopAfter ?? o.epochs) {
            let started = Date()
            recipe.beginEpoch(epoch)
            var lossSum = 0.0
            for step in 0..<o.stepsPerEpoch {
                optimizer.learningRate = schedule.learningRate(at: state.globalStep)
                optimizer.zeroGrad()
                let loss = recipe.loss(epoch: epoch, step: step)
                loss.backward()
                clipGradientNorm(optimizer.parameters, maxNorm: o.maxGradNorm)
                optimizer.step()
                state.globalStep += 1
                lossSum += Double(loss.item)
                report(.step(epoch: epoch + 1, step: step + 1, of: o.stepsPerEpoch, loss: lossSum / Double(step + 1),
                             learningRate: optimizer.learningRate))
            }
            let trainSeconds = Date().timeIntervalSince(started)
            report(.validating(epoch: epoch + 1))
            let (score, result) = try recipe.validate()
            let record = EpochRecord(epoch: epoch + 1, steps: o.stepsPerEpoch, meanLoss: lossSum / Double(max(o.stepsPerEpoch, 1)),
                                     imagesPerSecond: Double(o.stepsPerEpoch * recipe.samplesPerStep) / trainSeconds,
                                     seconds: Date().timeIntervalSince(started), validation: result)
            history.append(record)
            let isBest = state.bestScore.map { score > $0 } ?? true
            if isBest { (state.bestScore, state.bestEpoch) = (score, epoch + 1) }
            state.epochsDone = epoch + 1
            try checkpoint(state: state, history: history, isBest: isBest)
            report(.epochDone(record, isBest: isBest))
        }
        return history
    }

    func checkpoint(state: TrainingState<Recipe.Config>, history: [EpochRecord<Recipe.Validation>], isBest: Bool) throws {
        try recipe.saveWeights(to: output + "/last.safetensors.tmp")
        try Safetensors.write(optimizer.stateTensors(), to: output + "/optimizer.safetensors.tmp")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(state).write(to: URL(fileURLWithPath: output + "/state.json.tmp"))
        encoder.outputFormatting = [.sortedKeys]
        let lines = try history.map { String(decoding: try encoder.encode($0), as: UTF8.self) }.joined(separator: "\n") + "\n"
        try Data(lines.utf8).write(to: URL(fileURLWithPath: output + "/history.jsonl.tmp"))
        if isBest { try recipe.saveWeights(to: output + "/best.safetensors.tmp") }
        // Renames last, so an interrupted checkpoint leaves the previous complete one (state.json goes last).
        for name in (isBest ? ["best.safetensors"] : []) + ["last.safetensors", "optimizer.safetensors", "history.jsonl", "state.json"] {
            _ = rename(output + "/" + name + ".tmp", output + "/" + name)
        }
    }

    func readHistory() throws -> [EpochRecord<Recipe.Validation>] {
        let path = output + "/history.jsonl"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { try JSONDecoder().decode(EpochRecord<Recipe.Validation>.self, from: Data($0.utf8)) }
    }
}
