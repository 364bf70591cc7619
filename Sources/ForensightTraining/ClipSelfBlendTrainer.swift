import Foundation
import ForensightTensor
import ForensightNN
import ForensightMedia
import ForensightData
import ForensightDetect
import ForensightEvaluation

/// Trains a clip detector (`ClipTrainableDetector`, e.g. DFD-FCG) on real clips and their self-blended clips: the
/// self-blend recipe (`SelfBlendTrainer`) with a clip of T frames of one face where the crop recipe has one crop.
///
/// - Clips (`clips(_:length:)`): a training video's cached crops (one face per frame, the largest), in frame order,
///   cut into non-overlapping windows of T consecutive cached frames (with `--train-frames 64`, 64 frames sampled
///   evenly over the video; a trailing part shorter than T is dropped, a video with fewer than T crops gives one
///   clip padded by repeating its last crop); a photo gives one clip of T copies of itself.
/// - Fakes: every frame of a real clip is self-blended with the same draws (one seed per clip), so the blend's
///   parameters (mask shape, deformation, colour and blur) stay the same through the clip while its mask follows
///   each frame's landmarks. Only self-blends (`fakes == .selfBlend`).
/// - Augmentation: the real clip and its fake get the same `FaceAugmentation` draws on every frame (one seed per
///   clip), and each frame's five landmarks follow the flip and crop into the detector's guidance term.
/// - Loss: binary cross-entropy of the clip logits (k real clips 0, their k fakes 1) plus the detector's own term
///   (`takeAuxiliaryLoss()`, already weighted by the detector: DFD-FCG's guidance × 0.15). No consistency views; the
///   epoch is a seeded shuffle of all clips (no per-dataset balancing).
/// - Validation (`ClipValidationSet`): per held-out video up to ⌊validationFramesPerVideo / T⌋ (at least 1) evenly
///   spaced windows of T consecutive cached crops; each real window and its self-blended window (seeded, not
///   augmented), and the dataset's fake windows; AUCs of the clip probabilities as `ValidationSet` reports them for
///   crops, without the video-level AUC.
public final class ClipSelfBlendTrainer: TrainingRecipe {
    public let recipe: SelfBlendRecipe
    public let detector: any ClipTrainableDetector
    public let output: String
    let train: [TrainingFace]
    /// The training clips, as indices into `train`.
    public let clips: [[Int]]
    let validation: ClipValidationSet
    let blend: SelfBlend, augment = FaceAugmentation()
    private var order: [Int] = []

    /// - Parameters: as `SelfBlendTrainer`'s; `train` and `validation` are face-frames whose clips are cut here.
    public init(recipe: SelfBlendRecipe, detector: any ClipTrainableDetector, train: [TrainingFace], validation: [TrainingFace],
                output: String) throws {
        guard recipe.fakes == .selfBlend else { throw TrainingError("\(recipe.architecture) trains on self-blended clips only") }
        let reals = train.filter { !$0.sample.isFake }.map { recipe.denseMask ? $0 : $0.withoutMesh }
        let filled = recipe.fillPadding ? reals.map { $0.fillingPadding() } : reals
        self.train = filled
        clips = Self.clips(filled, length: detector.clipLength)
        guard clips.count >= recipe.realsPerStep else {
            throw TrainingError("need at least \(recipe.realsPerStep) real training clips of \(detector.clipLength) frames, found \(clips.count)")
        }
        guard validation.contains(where: { !$0.sample.isFake }) else { throw TrainingError("no held-out real faces for validation") }
        (self.recipe, self.detector, self.output) = (recipe, detector, output)
        try detector.setInputSize(recipe.inputSize)
        blend = recipe.selfBlend
        self.validation = ClipValidationSet(validation.map { recipe.denseMask ? $0 : $0.withoutMesh }, length: detector.clipLength,
                                            clipsPerVideo: max(1, recipe.validationFramesPerVideo / detector.clipLength),
                                            seed: recipe.seed, blend: recipe.selfBlend)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
    }

    /// The clips of `faces` (see the type's documentation), by video key then frame: each T indices into `faces`.
    public static func clips(_ faces: [TrainingFace], length t: Int) -> [[Int]] {
        let byVideo = Dictionary(grouping: faces.indices, by: { faces[$0].sample.dataset + "/" + (faces[$0].sample.videoID ?? faces[$0].sample.id) })
        var out: [[Int]] = []
        for key in byVideo.keys.sorted() {
            let ordered = byVideo[key]!.sorted { (faces[$0].sample.frameIndex ?? 0, $0) < (faces[$1].sample.frameIndex ?? 0, $1) }
            if ordered.count < t {
                out.append(ordered + Array(repeating: ordered.last!, count: t - ordered.count))
                continue
            }
            for start in stride(from: 0, through: ordered.count - t, by: t) { out.append(Array(ordered[start..<(start + t)])) }
        }
        return out
    }

    /// Runs the remaining epochs with `TrainingLoop` and returns the whole history (as `SelfBlendTrainer.run`).
    public func run(resume: Bool, stopAfter: Int? = nil, report: (TrainingEvent<ValidationResult>) -> Void = { _ in }) throws
        -> [EpochRecord<ValidationResult>] {
        try TrainingLoop(recipe: self, output: output).run(resume: resume, stopAfter: stopAfter, report: report)
    }

    /// Steps per epoch: all clips in groups of `realsPerStep`, capped by the recipe's `stepsPerEpoch`.
    public var stepsPerEpoch: Int {
        let full = clips.count / recipe.realsPerStep
        return recipe.stepsPerEpoch > 0 ? min(recipe.stepsPerEpoch, full) : full
    }

    // MARK: TrainingRecipe

    public var config: SelfBlendRecipe { recipe }

    public var optimization: Optimization {
        Optimization(epochs: recipe.epochs, stepsPerEpoch: stepsPerEpoch, learningRate: recipe.learningRate, weightDecay: recipe.weightDecay,
                     warmupSteps: recipe.warmupSteps)
    }

    /// Frames a step sees: k real clips and k fake clips of T.
    public var samplesPerStep: Int { 2 * recipe.realsPerStep * detector.clipLength }

    public func trainableParameters() -> [Tensor] { detector.module.trainableParameters() }

    public func beginEpoch(_ epoch: Int) {
        detector.beginTrainingEpoch(frozenBlocks: recipe.frozenBlocks, dropoutSeed: mix(recipe.seed, 0xD5, UInt64(epoch)))
        var shuffler = SeededRandom(seed: mix(recipe.seed, 0x5F, UInt64(epoch)))
        order = Array(clips.indices).shuffled(using: &shuffler)
    }

    public func loss(epoch: Int, step: Int) -> Tensor {
        let k = recipe.realsPerStep
        let (input, targets, landmarks) = batch(Array(order[(step * k)..<((step + 1) * k)]), epoch: epoch, firstPosition: step * k)
        let loss = Tensor.binaryCrossEntropyWithLogits(detector.trainingClipLogits(input, landmarks: landmarks), targets: targets)
        guard let extra = detector.takeAuxiliaryLoss() else { return loss }
        return loss + extra
    }

    public func validate() throws -> (score: Double, result: ValidationResult) {
        let result = try validation.evaluate(detector)
        return (result.score, result)
    }

    public func saveWeights(to path: String) throws { try detector.save(to: path, dtype: .f32) }

    public func loadWeights(from path: String) throws { _ = try detector.module.load(safetensors: path) }

    /// One step's input [2k·T, 3, S, S] (k real clips, then their k fake clips, each clip's T frames in order), targets
    /// [2k, 1] and each frame's landmarks normalised to its augmented crop. Randomness per (epoch, position, clip).
    public func batch(_ members: [Int], epoch: Int, firstPosition: Int) -> (Tensor, Tensor, [[(x: Float, y: Float)]]) {
        let k = members.count, t = detector.clipLength
        var images = [RGBImage?](repeating: nil, count: 2 * k * t)
        var points = [[(x: Float, y: Float)]](repeating: [], count: 2 * k * t)
        let frames = members.map { clips[$0].map { train[$0] } }, recipe = recipe, blend = blend, augment = augment
        images.withUnsafeMutableBufferPointer { imageSlots in
            points.withUnsafeMutableBufferPointer { pointSlots in
                // Each iteration writes only its own clips' slots.
                nonisolated(unsafe) let outImages = imageSlots
                nonisolated(unsafe) let outPoints = pointSlots
                DispatchQueue.concurrentPerform(iterations: k) { j in
                    var random = SeededRandom(seed: mix(recipe.seed, UInt64(epoch), UInt64(firstPosition + j), UInt64(members[j])))
                    let (blendSeed, augmentSeed) = (random.next(), random.next())
                    for (f, face) in frames[j].enumerated() {
                        var blendRandom = SeededRandom(seed: blendSeed)
                        let fake = blend(face.image, landmarks: face.landmarks, mesh: face.mesh, using: &blendRandom).image
                        var realRandom = SeededRandom(seed: augmentSeed), fakeRandom = SeededRandom(seed: augmentSeed)
                        let (real, geometry) = augment.augmented(face.image, using: &realRandom)
                        outImages[j * t + f] = real
                        outImages[(k + j) * t + f] = augment.augmented(fake, using: &fakeRandom).image
                        let normalised = face.landmarks.map { geometry.normalised(x: $0.x, y: $0.y) }
                        (outPoints[j * t + f], outPoints[(k + j) * t + f]) = (normalised, normalised)
                    }
                }
            }
        }
        let targets = Tensor((0..<(2 * k)).map { $0 < k ? 0 : 1 }, shape: [2 * k, 1])
        return (detector.inputTensor(images.map { $0! }), targets, points)
    }
}

/// The fixed validation clips of a clip self-blend run (see `ClipSelfBlendTrainer`): real windows, their self-blended
/// windows and the dataset's fake windows.
struct ClipValidationSet {
    /// Each clip's frames and kind: 0 real, 1 self-blend, 2 dataset fake.
    var clips: [[RGBImage]] = [], kinds: [Int] = []
    /// Each clip's video (dataset/video id; a self-blended clip's is its real clip's, prefixed `fake/`).
    var units: [String] = []

    init(_ faces: [TrainingFace], length t: Int, clipsPerVideo: Int, seed: UInt64, blend: SelfBlend) {
        let windows = ClipSelfBlendTrainer.clips(faces, length: t)
        let byVideo = Dictionary(grouping: windows.indices, by: { faces[windows[$0][0]].sample.dataset + "/" + (faces[windows[$0][0]].sample.videoID ?? faces[windows[$0][0]].sample.id) })
        for video in byVideo.keys.sorted() {
            let members = byVideo[video]!
            let picked = members.count <= clipsPerVideo ? members : (0..<clipsPerVideo).map { members[$0 * members.count / clipsPerVideo] }
            for w in picked {
                let frames = windows[w].map { faces[$0] }
                if frames[0].sample.isFake { clips.append(frames.map(\.image)); kinds.append(2); units.append(video); continue }
                let blendSeed = mix(seed, 0xB1E4D, UInt64(windows[w][0]))
                clips.append(frames.map(\.image)); kinds.append(0); units.append(video)
                clips.append(frames.map { face in
                    var random = SeededRandom(seed: blendSeed)
                    return blend(face.image, landmarks: face.landmarks, mesh: face.mesh, using: &random).image
                })
                kinds.append(1); units.append("fake/" + video)
            }
        }
    }

    /// Scores every clip with `detector` (evaluation mode) and computes the clip-level AUCs.
    func evaluate(_ detector: any ClipTrainableDetector) throws -> ValidationResult {
        detector.module.eval()
        let scores = detector.clipLogits(clips).map { Double(detector.probability(logit: $0)) }
        func auc(_ positives: Set<Int>) throws -> Double? {
            let idx = kinds.indices.filter { kinds[$0] == 0 || positives.contains(kinds[$0]) }
            let labels = idx.map { kinds[$0] == 0 ? 0 : 1 }
            guard labels.contains(1), labels.contains(0) else { return nil }
            return try Metrics.auc(scores: idx.map { scores[$0] }, labels: labels)
        }
        return ValidationResult(aucSelfBlend: try auc([1]) ?? .nan, aucFakes: try auc([2]), videoAUCFakes: nil, score: try auc([1, 2]) ?? .nan)
    }
}
