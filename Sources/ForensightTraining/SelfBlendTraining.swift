import Foundation
import ForensightTensor
import ForensightNN
import ForensightMedia
import ForensightData
import ForensightDetect
import ForensightEvaluation
import ForensightOptim

/// Trains a face-crop detector (any `TrainableDetector`: the EfficientNet-Lite `DeepfakeDetector` or another registered
/// architecture) on real faces and their self-blended fakes (Shiohara & Yamasaki, CVPR 2022): the self-blend recipe
/// that `TrainingLoop` runs.
///
/// Each step takes `realsPerStep` real crops, makes one self-blend of each, augments all of them the same way
/// (`FaceAugmentation`) and computes the binary cross-entropy (real 0, fake 1), plus the consistency term when the
/// recipe has one. The loop takes AdamW steps with a linear warm-up and cosine decay of the learning rate, validates
/// after every epoch, writes `last.safetensors`, `optimizer.safetensors` and `state.json`, and copies the weights to
/// `best.safetensors` when the validation score improved. Every random draw comes from a generator seeded by
/// (seed, epoch, sample), so a run is reproducible and a resumed run continues exactly as an uninterrupted one would.
public final class SelfBlendTrainer: TrainingRecipe {
    public let recipe: SelfBlendRecipe
    public let detector: any TrainableDetector
    public let output: String
    let train: [TrainingFace]
    let validation: ValidationSet
    let blend: SelfBlend, augment = FaceAugmentation(), view = BenignView()
    /// The fakes' maker when the recipe's `fakes` is `.generatorTrace`.
    let simulator: GeneratorTraceSimulator?
    /// The training fakes when the recipe's `fakes` is `.dataset` (empty otherwise).
    let datasetFakes: [TrainingFace]
    /// The order of the current epoch's faces (`beginEpoch`).
    private var order: [Int] = []
    /// The training faces' people (`personKey`) numbered from 0 in sorted order, for an `IdentityAwareDetector`.
    let identityNumbers: [String: Int]
    /// The frozen-backbone features steps read when the recipe has `featureCacheViews` (`prepareFeatureCache`).
    var featureCache: FeatureCache?

    /// - Parameters:
    ///   - detector: the network to train, already holding its initial weights.
    ///   - train: real faces to learn from, and with `.dataset` fakes the fake faces drawn beside them.
    ///   - validation: held-out real faces and, optionally, fakes.
    ///   - output: the run folder (created).
    ///   - simulator: the trace simulator, required when the recipe's fakes are `.generatorTrace`.
    public init(recipe: SelfBlendRecipe, detector: any TrainableDetector, train: [TrainingFace], validation: [TrainingFace], output: String,
                simulator: GeneratorTraceSimulator? = nil) throws {
        let reals = train.filter { !$0.sample.isFake }
        guard reals.count >= recipe.realsPerStep else {
            throw TrainingError("need at least \(recipe.realsPerStep) real training faces, found \(reals.count)")
        }
        guard validation.contains(where: { !$0.sample.isFake }) else { throw TrainingError("no held-out real faces for validation") }
        guard !recipe.fakes.usesSimulator || simulator != nil else { throw TrainingError("generator-trace fakes need a trace simulator") }
        datasetFakes = recipe.fakes == .dataset ? train.filter(\.sample.isFake).map(\.withoutMesh) : []
        guard recipe.fakes != .dataset || !datasetFakes.isEmpty else { throw TrainingError("dataset fakes: no fake training faces") }
        (self.recipe, self.detector, self.output) = (recipe, detector, output)
        self.simulator = recipe.fakes.usesSimulator ? simulator : nil
        self.simulator?.highPassSigma = recipe.traceHighPassSigma
        let masked = reals.map { recipe.denseMask ? $0 : $0.withoutMesh }
        let faces = recipe.fillPadding ? masked.map { $0.fillingPadding() } : masked
        self.train = faces
        identityNumbers = Dictionary(uniqueKeysWithValues: Set(faces.compactMap { Self.personKey($0.sample) }).sorted().enumerated().map { ($1, $0) })
        try detector.setInputSize(recipe.inputSize)
        blend = recipe.selfBlend
        self.validation = ValidationSet(validation.map { recipe.denseMask ? $0 : $0.withoutMesh }, framesPerVideo: recipe.validationFramesPerVideo,
                                        seed: recipe.seed, blend: recipe.selfBlend, simulator: self.simulator,
                                        alsoSelfBlends: recipe.fakes == .selfBlendAndGeneratorTrace)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
    }

    /// Steps per epoch.
    public var stepsPerEpoch: Int {
        let full = train.count / recipe.realsPerStep
        return recipe.stepsPerEpoch > 0 ? min(recipe.stepsPerEpoch, full) : full
    }

    /// Runs the remaining epochs with `TrainingLoop` (all of them, or those after the checkpoint in `output` when
    /// `resume` is set) and returns the whole history. `stopAfter` ends the run early after that epoch, as an
    /// interruption would.
    public func run(resume: Bool, stopAfter: Int? = nil, report: (TrainingEvent<ValidationResult>) -> Void = { _ in }) throws
        -> [EpochRecord<ValidationResult>] {
        guard recipe.featureCacheViews == 0 || featureCache != nil else {
            throw TrainingError("the recipe trains from a feature cache: call prepareFeatureCache(at:) before run")
        }
        return try TrainingLoop(recipe: self, output: output).run(resume: resume, stopAfter: stopAfter, report: report)
    }

    // MARK: TrainingRecipe

    public var config: SelfBlendRecipe { recipe }

    public var optimization: Optimization {
        Optimization(epochs: recipe.epochs, stepsPerEpoch: stepsPerEpoch, learningRate: recipe.learningRate, weightDecay: recipe.weightDecay,
                     warmupSteps: recipe.warmupSteps)
    }

    /// Reals, their fakes and the consistency views.
    public var samplesPerStep: Int { 2 * recipe.realsPerStep + 2 * consistencyPairs }

    public func trainableParameters() -> [Tensor] { detector.module.trainableParameters() }

    public func beginEpoch(_ epoch: Int) {
        detector.beginTrainingEpoch(frozenBlocks: recipe.frozenBlocks, dropoutSeed: mix(recipe.seed, 0xD5, UInt64(epoch)))
        order = epochOrder(epoch)
    }

    public func loss(epoch: Int, step: Int) -> Tensor {
        let members = Array(order[(step * recipe.realsPerStep)..<((step + 1) * recipe.realsPerStep)])
        if let aware = detector as? any IdentityAwareDetector {
            let (identities, labels) = batchIdentities(members)
            aware.setTrainingBatch(identities: identities, labels: labels)
        }
        // From the feature cache (the head alone), or the step's fresh pairs through the whole network.
        let forward: (logits: Tensor, targets: Tensor)
        if let featureCache {
            forward = cachedLogits(members, epoch: epoch, firstPosition: step * recipe.realsPerStep, cache: featureCache)
        } else {
            let (input, targets) = batch(members, epoch: epoch, firstPosition: step * recipe.realsPerStep)
            forward = (detector.trainingLogits(input), targets)
        }
        let loss = stepLoss(forward.logits, targets: forward.targets)
        // Always taken, so that a detector does not hold this step's graph into the next one when the weight is 0.
        let extra = (detector as? any AuxiliaryLossDetector)?.takeAuxiliaryLoss()
        // An identity-aware detector weighs its own terms (from its card).
        if detector is any IdentityAwareDetector, let extra { return loss + extra }
        guard recipe.branchConsistencyWeight > 0, let extra else { return loss }
        return loss + extra * recipe.branchConsistencyWeight
    }

    /// A sample's person for identity-invariant learning: the dataset and the manifest's `identity` (FF++'s target
    /// id, CelebA's person id from the file name); nil when the manifest has none (FairFace, UTKFace).
    static func personKey(_ sample: Sample) -> String? { sample.identity.map { sample.dataset + "/" + $0 } }

    /// Identity numbers and labels of the rows of `batch(members, …)`: the k reals, their k fakes (a self-blend, or
    /// the trace simulator's fake, keeps its source's identity; a dataset fake drawn beside it is unknown), then the
    /// views of the first h reals and h fakes.
    func batchIdentities(_ members: [Int]) -> (identities: [Int?], labels: [Float]) {
        let k = members.count, h = consistencyPairs
        let reals = members.map { Self.personKey(train[$0].sample).flatMap { identityNumbers[$0] } }
        let fakes = recipe.fakes == .dataset ? [Int?](repeating: nil, count: k) : reals
        let identities = reals + fakes + Array(reals.prefix(h)) + Array(fakes.prefix(h))
        let labels = [Float](repeating: 0, count: k) + [Float](repeating: 1, count: k) + [Float](repeating: 0, count: h) + [Float](repeating: 1, count: h)
        return (identities, labels)
    }

    public func validate() throws -> (score: Double, result: ValidationResult) {
        let result = try validation.evaluate(detector)
        return (result.score, result)
    }

    public func saveWeights(to path: String) throws { try detector.save(to: path, dtype: .f32) }

    public func loadWeights(from path: String) throws { _ = try detector.module.load(safetensors: path) }

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
        let faces = members.map { train[$0] }, recipe = recipe, blend = blend, augment = augment, view = view, simulator = simulator
        let fakes = datasetFakes
        images.withUnsafeMutableBufferPointer { slots in
            // Each iteration writes only its own slots (j, k + j and, for j < h, its two views).
            nonisolated(unsafe) let out = slots
            DispatchQueue.concurrentPerform(iterations: k) { j in
                var random = SeededRandom(seed: mix(recipe.seed, UInt64(epoch), UInt64(firstPosition + j), UInt64(members[j])))
                (out[j], out[k + j]) = Self.trainingPair(faces[j], recipe: recipe, blend: blend, simulator: simulator, datasetFakes: fakes,
                                                         augment: augment, using: &random)
                guard j < h else { return }
                var viewRandom = SeededRandom(seed: mix(recipe.seed, 0xC0, UInt64(epoch), UInt64(firstPosition + j)))
                out[2 * k + j] = view(out[j]!, using: &viewRandom)
                out[2 * k + h + j] = view(out[k + j]!, using: &viewRandom)
            }
        }
        let targets = Tensor((0..<(2 * k)).map { $0 < k ? 0 : 1 }, shape: [2 * k, 1])
        return (detector.inputTensor(images.map { $0! }), targets)
    }

    /// One training pair drawn from `random`: the augmented real face and its augmented fake (a self-blend, or the
    /// trace simulator's pair, whose real is resampled like its fake). With the
    /// recipe's `pairedAugmentation` both get the same augmentation draws (the generator is copied, so it must be a
    /// value type like `SeededRandom`); without it, the fake's draws follow the real's.
    public func trainingPair(_ face: TrainingFace, using random: inout SeededRandom) -> (real: RGBImage, fake: RGBImage) {
        Self.trainingPair(face, recipe: recipe, blend: blend, simulator: simulator, datasetFakes: datasetFakes, augment: augment, using: &random)
    }

    static func trainingPair(_ face: TrainingFace, recipe: SelfBlendRecipe, blend: SelfBlend, simulator: GeneratorTraceSimulator?,
                             datasetFakes: [TrainingFace] = [], augment: FaceAugmentation,
                             using random: inout SeededRandom) -> (real: RGBImage, fake: RGBImage) {
        let (real, fake): (RGBImage, RGBImage)
        if recipe.fakes == .dataset, !datasetFakes.isEmpty {
            // A seeded draw among the training fakes; the pair shares its augmentation draws like a self-blend's.
            let pick = min(datasetFakes.count - 1, Int(random.nextFloat() * Float(datasetFakes.count)))
            (real, fake) = (face.image, datasetFakes[pick].image)
        } else {
            (real, fake) = fakePair(face, blend: blend, simulator: simulator, alsoSelfBlends: recipe.fakes == .selfBlendAndGeneratorTrace,
                                    using: &random)
        }
        guard recipe.pairedAugmentation else {
            let augmentedReal = augment(real, using: &random)
            return (augmentedReal, augment(fake, using: &random))
        }
        var pairRandom = random
        return (augment(real, using: &random), augment(fake, using: &pairRandom))
    }

    /// A real face and its fake before augmentation: the face and its self-blend, or the simulator's pair (with
    /// `alsoSelfBlends`, one or the other with equal odds).
    static func fakePair(_ face: TrainingFace, blend: SelfBlend, simulator: GeneratorTraceSimulator?, alsoSelfBlends: Bool = false,
                         using random: inout SeededRandom) -> (real: RGBImage, fake: RGBImage) {
        if let simulator, !alsoSelfBlends || random.nextFloat() < 0.5 { return simulator.pair(face.image, using: &random) }
        return (face.image, blend(face.image, landmarks: face.landmarks, mesh: face.mesh, using: &random).image)
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
