import Foundation
import ForensightTensor
import ForensightNN
import ForensightMedia
import ForensightData
import ForensightDetect
import ForensightEvaluation
import ForensightOptim

/// Trains a `DeepfakeDetector` on real faces and their self-blended fakes (Shiohara & Yamasaki, CVPR 2022).
///
/// Each step takes `realsPerStep` real crops, makes one self-blend of each, augments all of them the same way
/// (`FaceAugmentation`) and takes one AdamW step on the binary cross-entropy (real 0, fake 1), with a linear warm-up
/// and cosine decay of the learning rate. After every epoch it validates, writes `last.safetensors`,
/// `optimizer.safetensors` and `state.json`, and copies the weights to `best.safetensors` when the validation score
/// improved. Every random draw comes from a generator seeded by (seed, epoch, sample), so a run is reproducible and a
/// resumed run continues exactly as an uninterrupted one would.
public final class SelfBlendTrainer {
    public let recipe: SelfBlendRecipe
    public let detector: DeepfakeDetector
    public let output: String
    let train: [TrainingFace]
    let validation: ValidationSet
    let optimizer: Adam
    let blend: SelfBlend, augment = FaceAugmentation(), view = BenignView()

    /// - Parameters:
    ///   - detector: the network to train, already holding its initial weights.
    ///   - train: real faces to learn from.
    ///   - validation: held-out real faces and, optionally, fakes.
    ///   - output: the run folder (created).
    public init(recipe: SelfBlendRecipe, detector: DeepfakeDetector, train: [TrainingFace], validation: [TrainingFace], output: String) throws {
        let reals = train.filter { !$0.sample.isFake }
        guard reals.count >= recipe.realsPerStep else {
            throw TrainingError("need at least \(recipe.realsPerStep) real training faces, found \(reals.count)")
        }
        guard validation.contains(where: { !$0.sample.isFake }) else { throw TrainingError("no held-out real faces for validation") }
        (self.recipe, self.detector, self.output) = (recipe, detector, output)
        let masked = reals.map { recipe.denseMask ? $0 : $0.withoutMesh }
        self.train = recipe.fillPadding ? masked.map { $0.fillingPadding() } : masked
        detector.card.inputSize = recipe.inputSize
        blend = recipe.selfBlend
        self.validation = ValidationSet(validation.map { recipe.denseMask ? $0 : $0.withoutMesh }, framesPerVideo: recipe.validationFramesPerVideo, seed: recipe.seed, blend: recipe.selfBlend)
        detector.network.train()
        detector.network.freezeStem(blocks: recipe.frozenBlocks)
        optimizer = AdamW(detector.network.trainableParameters(), learningRate: recipe.learningRate, weightDecay: recipe.weightDecay)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
    }

    /// Steps per epoch.
    public var stepsPerEpoch: Int {
        let full = train.count / recipe.realsPerStep
        return recipe.stepsPerEpoch > 0 ? min(recipe.stepsPerEpoch, full) : full
    }

    /// Runs the remaining epochs (all of them, or those after the checkpoint in `output` when `resume` is set) and
    /// returns the whole history. `stopAfter` ends the run early after that epoch, as an interruption would.
    public func run(resume: Bool, stopAfter: Int? = nil, report: (TrainingEvent) -> Void = { _ in }) throws -> [EpochRecord] {
        var state = TrainingState(recipe: recipe, epochsDone: 0, globalStep: 0, bestScore: nil, bestEpoch: nil)
        var history: [EpochRecord] = []
        let statePath = output + "/state.json"
        if resume, FileManager.default.fileExists(atPath: statePath) {
            state = try JSONDecoder().decode(TrainingState.self, from: Data(contentsOf: URL(fileURLWithPath: statePath)))
            guard state.recipe == recipe else {
                throw TrainingError("\(output) holds a run with a different recipe; use the same options to resume, or another --out")
            }
            _ = try detector.network.load(safetensors: output + "/last.safetensors")
            try optimizer.loadState(Safetensors.read(path: output + "/optimizer.safetensors"))
            history = try readHistory()
        }
        let schedule = CosineWithWarmup(base: recipe.learningRate, warmupSteps: min(recipe.warmupSteps, recipe.epochs * stepsPerEpoch - 1),
                                        totalSteps: recipe.epochs * stepsPerEpoch)
        for epoch in state.epochsDone..<min(recipe.epochs, stopAfter ?? recipe.epochs) {
            let started = Date()
            detector.network.train()
            detector.network.freezeStem(blocks: recipe.frozenBlocks)
            detector.network.dropout.reseed(mix(recipe.seed, 0xD5, UInt64(epoch)))
            let order = epochOrder(epoch)
            var lossSum = 0.0
            for step in 0..<stepsPerEpoch {
                let members = Array(order[(step * recipe.realsPerStep)..<((step + 1) * recipe.realsPerStep)])
                let (input, targets) = batch(members, epoch: epoch, firstPosition: step * recipe.realsPerStep)
                optimizer.learningRate = schedule.learningRate(at: state.globalStep)
                optimizer.zeroGrad()
                let loss = stepLoss(detector.network(input), targets: targets)
                loss.backward()
                clipGradientNorm(optimizer.parameters, maxNorm: 10)
                optimizer.step()
                state.globalStep += 1
                lossSum += Double(loss.item)
                report(.step(epoch: epoch + 1, step: step + 1, of: stepsPerEpoch, loss: lossSum / Double(step + 1),
                             learningRate: optimizer.learningRate))
            }
            let trainSeconds = Date().timeIntervalSince(started)
            report(.validating(epoch: epoch + 1))
            let result = try validation.evaluate(detector)
            let record = EpochRecord(epoch: epoch + 1, steps: stepsPerEpoch, meanLoss: lossSum / Double(max(stepsPerEpoch, 1)),
                                     imagesPerSecond: Double(stepsPerEpoch * (2 * recipe.realsPerStep + 2 * consistencyPairs)) / trainSeconds,
                                     seconds: Date().timeIntervalSince(started), validation: result)
            history.append(record)
            let isBest = state.bestScore.map { result.score > $0 } ?? true
            if isBest { (state.bestScore, state.bestEpoch) = (result.score, epoch + 1) }
            state.epochsDone = epoch + 1
            try checkpoint(state: state, history: history, isBest: isBest)
            report(.epochDone(record, isBest: isBest))
        }
        return history
    }

    /// The faces of one epoch, in order: a seeded shuffle of all of them, or with `balanceDatasets` an equal share
    /// from each dataset (smaller datasets repeat, larger ones contribute a random subset), shuffled together.
    func epochOrder(_ epoch: Int) -> [Int] {
        var shuffler = SeededRandom(seed: mix(recipe.seed, 0x5F, UInt64(epoch)))
        let groups = Dictionary(grouping: train.indices, by: { train[$0].sample.dataset }).sorted { $0.key < $1.key }.map(\.value)
        guard recipe.balanceDatasets, groups.count > 1 else { return Array(train.indices).shuffled(using: &shuffler) }
        let share = train.count / groups.count
        var order: [Int] = []
        for group in groups {
            var picked: [Int] = []
            while picked.count < share { picked += group.shuffled(using: &shuffler) }
            order += picked.prefix(share)
        }
        return order.shuffled(using: &shuffler)
    }

    /// Reals and fakes with a second view each in a step with k reals (0 without the consistency term).
    public var consistencyPairs: Int { recipe.consistencyWeight > 0 ? max(1, recipe.realsPerStep / 2) : 0 }

    /// Binary cross-entropy on the 2k reals and fakes, plus the consistency term: the weighted mean squared difference
    /// between the logits of the first h reals and h fakes and those of their second views (rows 2k..<2k+2h).
    public func stepLoss(_ logits: Tensor, targets: Tensor) -> Tensor {
        let k = recipe.realsPerStep, h = consistencyPairs
        let loss = Tensor.binaryCrossEntropyWithLogits(h > 0 ? logits.slice(axis: 0, 0..<(2 * k)) : logits, targets: targets)
        guard h > 0 else { return loss }
        let first = Tensor.concatenate([logits.slice(axis: 0, 0..<h), logits.slice(axis: 0, k..<(k + h))], axis: 0)
        let views = logits.slice(axis: 0, (2 * k)..<(2 * k + 2 * h))
        return loss + (first - views).squared().mean() * recipe.consistencyWeight
    }

    /// Augmented reals and self-blends for one step: input [2k + 2h, 3, S, S] (k reals, their k fakes, then a second
    /// view of the first h reals and of the first h fakes, `consistencyPairs`) and targets [2k, 1].
    /// Randomness is drawn per (epoch, position in the epoch, face), so a face seen twice gets two different fakes;
    /// the views draw from a stream of their own, so the reals and fakes are those of a run without them.
    public func batch(_ members: [Int], epoch: Int, firstPosition: Int) -> (Tensor, Tensor) {
        let k = members.count, h = consistencyPairs
        var images = [RGBImage?](repeating: nil, count: 2 * k + 2 * h)
        let faces = members.map { train[$0] }, recipe = recipe, blend = blend, augment = augment, view = view
        images.withUnsafeMutableBufferPointer { slots in
            // Each iteration writes only its own slots (j, k + j and, for j < h, its two views).
            nonisolated(unsafe) let out = slots
            DispatchQueue.concurrentPerform(iterations: k) { j in
                var random = SeededRandom(seed: mix(recipe.seed, UInt64(epoch), UInt64(firstPosition + j), UInt64(members[j])))
                (out[j], out[k + j]) = Self.trainingPair(faces[j], recipe: recipe, blend: blend, augment: augment, using: &random)
                guard j < h else { return }
                var viewRandom = SeededRandom(seed: mix(recipe.seed, 0xC0, UInt64(epoch), UInt64(firstPosition + j)))
                out[2 * k + j] = view(out[j]!, using: &viewRandom)
                out[2 * k + h + j] = view(out[k + j]!, using: &viewRandom)
            }
        }
        let targets = Tensor((0..<(2 * k)).map { $0 < k ? 0 : 1 }, shape: [2 * k, 1])
        return (detector.inputTensor(images.map { $0! }), targets)
    }

    /// One training pair drawn from `random`: the augmented real face and its augmented self-blend. With the
    /// recipe's `pairedAugmentation` both get the same augmentation draws (the generator is copied, so it must be a
    /// value type like `SeededRandom`); without it, the fake's draws follow the real's.
    public func trainingPair(_ face: TrainingFace, using random: inout SeededRandom) -> (real: RGBImage, fake: RGBImage) {
        Self.trainingPair(face, recipe: recipe, blend: blend, augment: augment, using: &random)
    }

    static func trainingPair(_ face: TrainingFace, recipe: SelfBlendRecipe, blend: SelfBlend, augment: FaceAugmentation,
                             using random: inout SeededRandom) -> (real: RGBImage, fake: RGBImage) {
        let fake = blend(face.image, landmarks: face.landmarks, mesh: face.mesh, using: &random).image
        guard recipe.pairedAugmentation else {
            let real = augment(face.image, using: &random)
            return (real, augment(fake, using: &random))
        }
        var pairRandom = random
        return (augment(face.image, using: &random), augment(fake, using: &pairRandom))
    }

    func checkpoint(state: TrainingState, history: [EpochRecord], isBest: Bool) throws {
        try detector.save(to: output + "/last.safetensors.tmp")
        try Safetensors.write(optimizer.stateTensors(), to: output + "/optimizer.safetensors.tmp")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(state).write(to: URL(fileURLWithPath: output + "/state.json.tmp"))
        encoder.outputFormatting = [.sortedKeys]
        let lines = try history.map { String(decoding: try encoder.encode($0), as: UTF8.self) }.joined(separator: "\n") + "\n"
        try Data(lines.utf8).write(to: URL(fileURLWithPath: output + "/history.jsonl.tmp"))
        if isBest { try detector.save(to: output + "/best.safetensors.tmp") }
        // Renames last, so an interrupted checkpoint leaves the previous complete one (state.json goes last).
        for name in (isBest ? ["best.safetensors"] : []) + ["last.safetensors", "optimizer.safetensors", "history.jsonl", "state.json"] {
            _ = rename(output + "/" + name + ".tmp", output + "/" + name)
        }
    }

    func readHistory() throws -> [EpochRecord] {
        let path = output + "/history.jsonl"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { try JSONDecoder().decode(EpochRecord.self, from: Data($0.utf8)) }
    }
}

/// A stable 64-bit mix of a seed with stream coordinates.
func mix(_ values: UInt64...) -> UInt64 {
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15
    for v in values {
        h ^= v &+ 0x9E37_79B9_7F4A_7C15 &+ (h << 6) &+ (h >> 2)
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 31
    }
    return h
}
