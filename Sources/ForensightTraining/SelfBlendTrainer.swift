import Foundation
import ForensightTensor
import ForensightNN
import ForensightMedia
import ForensightData
import ForensightDetect
import ForensightEvaluation

/// Where a face-forgery run's fakes come from.
public enum FakeSource: String, Codable, Sendable {
    /// Self-blends of the real face (`SelfBlend`): the face-swap detector.
    case selfBlend = "self-blend"
    /// The trace simulator's reconstructions of the real face (`GeneratorTraceSimulator`): the synthesis detector.
    case generatorTrace = "generator-trace"
    /// Half self-blends, half the trace simulator's pairs, drawn per face (RFFR with `--simulator`).
    case selfBlendAndGeneratorTrace = "self-blend+generator-trace"
    /// The datasets' own fake faces, a seeded draw beside each real (the in-domain protocol of `PairFolds`).
    case dataset

    /// Whether a trace simulator makes some of the fakes.
    public var usesSimulator: Bool { self == .generatorTrace || self == .selfBlendAndGeneratorTrace }
}

/// The recipe of `forensight train --detector sbi` and `--detector synthesis` (saved with every checkpoint; a resume
/// must use the same one). The two differ only in `fakes`.
public struct SelfBlendRecipe: Codable, Sendable, Equatable {
    public var seed: UInt64 = 0
    public var epochs = 5
    /// Reals per step; each brings its self-blended fake, so a step sees twice as many images.
    public var realsPerStep = 8
    public var learningRate: Float = 2e-4
    public var weightDecay: Float = 0.01
    public var warmupSteps = 100
    /// Stem and MBConv blocks kept at their ImageNet weights (their backward pass is skipped).
    public var frozenBlocks = 3
    public var inputSize = 224
    /// Validation face crops per video (evenly spaced among those cached).
    public var validationFramesPerVideo = 16
    /// Stop an epoch after this many steps (0 = a full pass over the real faces).
    public var stepsPerEpoch = 0
    /// Draw an equal share of each epoch from each dataset (so a small in-domain set is not drowned by a large one).
    public var balanceDatasets = true
    /// Give a real face and its self-blend the same augmentation draws (flip, colour, frequency, noise, JPEG, crop),
    /// as the SBI authors do, so the blend is the only thing that tells the pair apart.
    public var pairedAugmentation = true
    /// Replace the black padding that alignment leaves around tight photo crops (e.g. UTKFace) with replicated
    /// edge pixels before blending, so a padded border is not a cue (`TrainingFace.fillingPadding`).
    public var fillPadding = true
    /// Self-blends confined to the lower face or the eyes beside whole-face ones (`SelfBlend.withPartialRegions`).
    public var partialBlends = true
    /// Blending masks from FaceMesh's dense landmarks (`DenseFaceHull`) for faces that have a mesh; the five-point
    /// outline (`FaceHull`) otherwise.
    public var denseMask = false
    /// Weight of the consistency term: half the step's reals and half its fakes get a second view (`BenignView`:
    /// resize, JPEG, crop, decoder noise), and the squared difference of the two views' logits, averaged, is added
    /// to the loss with this weight. 0 = off (no extra images).
    public var consistencyWeight: Float = 0
    /// Where the fakes come from (self-blends unless set).
    public var fakes = FakeSource.selfBlend
    /// SHA-256 of the trace simulator file when `fakes` is `.generatorTrace` (a resume must use the same simulator).
    public var simulatorSHA256: String?
    /// Generator-trace fakes keep only the reconstruction's high frequencies above a blur of this σ (0 = off;
    /// `GeneratorTraceSimulator.highPassSigma`).
    public var traceHighPassSigma: Float = 0
    /// The detector's network (a `DetectorCard.architecture`: `efficientnet-lite0` or `efficientnet-lite2`).
    public var architecture = "efficientnet-lite0"
    /// SHA-256 of the RFFR inpainter file (`rffr-efficientnet-lite0` only; a resume must use the same inpainter).
    public var inpainterSHA256: String?
    /// Weight of a detector's own extra training term (`AuxiliaryLossDetector.takeAuxiliaryLoss()`, e.g. M2TR's branch
    /// consistency), added to the loss of every step; 0 = off. Ignored by detectors without one.
    public var branchConsistencyWeight: Float = 0
    /// Augmented (real, fake) pairs per training face whose frozen-backbone features are computed once and cached
    /// (`train --feature-cache`, `--cache-views`); steps then draw from them and run only the trainable head. 0 = off:
    /// every step draws fresh pairs and runs the whole network. Only for a `FrozenBackboneDetector`.
    public var featureCacheViews = 0

    public init() {}

    /// The self-blend this recipe draws its fakes with.
    public var selfBlend: SelfBlend { partialBlends ? .withPartialRegions : SelfBlend() }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        seed = try c.decode(UInt64.self, forKey: .seed)
        epochs = try c.decode(Int.self, forKey: .epochs)
        realsPerStep = try c.decode(Int.self, forKey: .realsPerStep)
        learningRate = try c.decode(Float.self, forKey: .learningRate)
        weightDecay = try c.decode(Float.self, forKey: .weightDecay)
        warmupSteps = try c.decode(Int.self, forKey: .warmupSteps)
        frozenBlocks = try c.decode(Int.self, forKey: .frozenBlocks)
        inputSize = try c.decode(Int.self, forKey: .inputSize)
        validationFramesPerVideo = try c.decode(Int.self, forKey: .validationFramesPerVideo)
        stepsPerEpoch = try c.decode(Int.self, forKey: .stepsPerEpoch)
        balanceDatasets = try c.decode(Bool.self, forKey: .balanceDatasets)
        // Runs saved before these options existed used neither.
        pairedAugmentation = try c.decodeIfPresent(Bool.self, forKey: .pairedAugmentation) ?? false
        fillPadding = try c.decodeIfPresent(Bool.self, forKey: .fillPadding) ?? false
        partialBlends = try c.decodeIfPresent(Bool.self, forKey: .partialBlends) ?? false
        denseMask = try c.decodeIfPresent(Bool.self, forKey: .denseMask) ?? false
        consistencyWeight = try c.decodeIfPresent(Float.self, forKey: .consistencyWeight) ?? 0
        fakes = try c.decodeIfPresent(FakeSource.self, forKey: .fakes) ?? .selfBlend
        simulatorSHA256 = try c.decodeIfPresent(String.self, forKey: .simulatorSHA256)
        traceHighPassSigma = try c.decodeIfPresent(Float.self, forKey: .traceHighPassSigma) ?? 0
        architecture = try c.decodeIfPresent(String.self, forKey: .architecture) ?? "efficientnet-lite0"
        inpainterSHA256 = try c.decodeIfPresent(String.self, forKey: .inpainterSHA256)
        branchConsistencyWeight = try c.decodeIfPresent(Float.self, forKey: .branchConsistencyWeight) ?? 0
        featureCacheViews = try c.decodeIfPresent(Int.self, forKey: .featureCacheViews) ?? 0
    }

    enum CodingKeys: String, CodingKey {
        case seed, epochs, realsPerStep = "reals_per_step", learningRate = "learning_rate", weightDecay = "weight_decay"
        case warmupSteps = "warmup_steps", frozenBlocks = "frozen_blocks", inputSize = "input_size"
        case validationFramesPerVideo = "validation_frames_per_video", stepsPerEpoch = "steps_per_epoch"
        case balanceDatasets = "balance_datasets", pairedAugmentation = "paired_augmentation", fillPadding = "fill_padding"
        case partialBlends = "partial_blends", denseMask = "dense_mask", consistencyWeight = "consistency_weight"
        case fakes, simulatorSHA256 = "simulator_sha256", traceHighPassSigma = "trace_high_pass_sigma"
        case architecture, inpainterSHA256 = "inpainter_sha256", branchConsistencyWeight = "branch_consistency_weight"
        case featureCacheViews = "feature_cache_views"
    }
}

/// Validation numbers after one epoch.
public struct ValidationResult: Codable, Sendable, Equatable {
    /// Frame-level AUC: held-out reals against their self-blends.
    public var aucSelfBlend: Double
    /// Frame-level AUC: held-out reals against the dataset's fakes (nil without fakes).
    public var aucFakes: Double?
    /// Video-level AUC (max-mean rule): held-out real videos against fake videos (nil without fakes).
    public var videoAUCFakes: Double?
    /// The model-selection score: frame-level AUC of reals against self-blends and fakes together.
    public var score: Double

    enum CodingKeys: String, CodingKey {
        case aucSelfBlend = "auc_self_blend", aucFakes = "auc_fakes", videoAUCFakes = "video_auc_fakes", score
    }
}
