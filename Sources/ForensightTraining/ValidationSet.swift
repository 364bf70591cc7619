import Foundation
import ForensightTensor
import ForensightMedia
import ForensightData
import ForensightDetect
import ForensightEvaluation

/// The fixed validation images of a self-blending run: held-out real crops, one self-blend of each (drawn once from
/// the seed), and the dataset's fakes, at most `framesPerVideo` evenly spaced crops per video.
struct ValidationSet {
    var images: [RGBImage] = []
    /// 0 real, 1 self-blend, 2 dataset fake.
    var kinds: [Int] = []
    var videoIDs: [String] = []
    var frames: [Int] = []
    var faces: [Int] = []

    /// With a `simulator`, the fakes are its reconstructions and each real is its resampled twin (`GeneratorTraceSimulator.pair`).
    /// With `alsoSelfBlends` as well, each real's fake is one or the other with equal odds.
    init(_ faces: [TrainingFace], framesPerVideo: Int, seed: UInt64, blend: SelfBlend = SelfBlend(), simulator: GeneratorTraceSimulator? = nil,
         alsoSelfBlends: Bool = false) {
        var byVideo: [String: [Int]] = [:]
        for (i, f) in faces.enumerated() { byVideo[f.sample.dataset + "/" + (f.sample.videoID ?? f.sample.id), default: []].append(i) }
        for video in byVideo.keys.sorted() {
            let members = byVideo[video]!
            let picked = members.count <= framesPerVideo ? members
                : (0..<framesPerVideo).map { members[$0 * members.count / framesPerVideo] }
            for (k, i) in picked.enumerated() {
                let face = faces[i]
                let frame = face.sample.frameIndex ?? 0
                if face.sample.isFake {
                    append(face.image, kind: 2, video: video, frame: frame, face: k)
                } else {
                    var random = SeededRandom(seed: mix(seed, 0xB1E4D, UInt64(i)))
                    let (real, fake) = SelfBlendTrainer.fakePair(face, blend: blend, simulator: simulator, alsoSelfBlends: alsoSelfBlends, using: &random)
                    append(real, kind: 0, video: video, frame: frame, face: k)
                    append(fake, kind: 1, video: "self-blend:" + video, frame: frame, face: k)
                }
            }
        }
    }

    mutating func append(_ image: RGBImage, kind: Int, video: String, frame: Int, face: Int) {
        images.append(image); kinds.append(kind); videoIDs.append(video); frames.append(frame); faces.append(face)
    }

    /// Scores every image with `detector` (evaluation mode) and computes the validation AUCs.
    func evaluate(_ detector: any TrainableDetector) throws -> ValidationResult {
        detector.module.eval()
        let scores = detector.probabilities(images).map(Double.init)
        func auc(_ positives: Set<Int>) throws -> Double? {
            let idx = kinds.indices.filter { kinds[$0] == 0 || positives.contains(kinds[$0]) }
            let labels = idx.map { kinds[$0] == 0 ? 0 : 1 }
            guard labels.contains(1) else { return nil }
            return try Metrics.auc(scores: idx.map { scores[$0] }, labels: labels)
        }
        var videoAUC: Double?
        let fakeIdx = kinds.indices.filter { kinds[$0] != 1 }
        if fakeIdx.contains(where: { kinds[$0] == 2 }) {
            let records = fakeIdx.map { FrameScore(videoID: videoIDs[$0], frameIndex: frames[$0], faceID: faces[$0], score: scores[$0],
                                                   label: kinds[$0] == 2 ? 1 : 0) }
            let videos = try VideoAggregation.maxOverFacesThenMean.aggregate(records)
            videoAUC = try Metrics.auc(scores: videos.scores, labels: videos.labels)
        }
        return ValidationResult(aucSelfBlend: try auc([1]) ?? .nan, aucFakes: try auc([2]), videoAUCFakes: videoAUC,
                                score: try auc([1, 2]) ?? .nan)
    }
}

/// What `ValidationSet.calibrate` chose, with the validation numbers behind it.
public struct CalibrationChoice: Sendable {
    /// The Platt scaling stored in the card: the fit, or the identity when the fit's slope was not positive.
    public var calibration: PlattScaling
    public var threshold: Float
    /// Expected calibration error (10 bins) of the validation face-frames, before and after calibration.
    public var eceBefore: Double, eceAfter: Double
    /// Share of validation real units (videos, photos) at or above the threshold.
    public var realFlaggedRate: Double
    /// Validation real and self-blend units.
    public var realUnits: Int, fakeUnits: Int
}

extension ValidationSet {
    /// Fits Platt scaling on the validation face-frames' logits (reals 0, self-blends 1; the detector's card decides
    /// test-time averaging), then places the threshold on the units `detect` reports (max-mean per video, a photo is
    /// one unit): the lowest calibrated P(fake), not below 0.5, at which at most `realFlagRate` of the real units are
    /// called FAKE. The card is not changed.
    func calibrate(_ detector: any TrainableDetector, realFlagRate: Double = 0.02) throws -> CalibrationChoice {
        detector.module.eval()
        let logits = detector.faceLogits(images, batchSize: 16).map(Double.init)
        let labels = kinds.map { $0 == 0 ? 0 : 1 }
        // A non-positive slope would reverse the detector's ranking (it happens when validation ranks reals above
        // self-blends, e.g. an untrained network): keep the plain sigmoid then.
        let fitted = try PlattScaling.fit(logits: logits, labels: labels)
        let fit = fitted.scale > 0 ? fitted : PlattScaling.identity
        let raw = logits.map { 1 / (1 + exp(-$0)) }, calibrated = logits.map { fit.probability(logit: $0) }
        let eceBefore = try Metrics.expectedCalibrationError(probabilities: raw, labels: labels, bins: 10)
        let eceAfter = try Metrics.expectedCalibrationError(probabilities: calibrated, labels: labels, bins: 10)
        let records = images.indices.map { FrameScore(videoID: videoIDs[$0], frameIndex: frames[$0], faceID: faces[$0], score: calibrated[$0],
                                                      label: labels[$0]) }
        let units = try VideoAggregation.maxOverFacesThenMean.aggregate(records)
        let reals = zip(units.scores, units.labels).filter { $0.1 == 0 }.map(\.0)
        let threshold = DecisionThreshold.capping(realScores: reals, realFlagRate: realFlagRate)
        let flagged = Double(reals.filter { $0 >= threshold }.count) / Double(max(reals.count, 1))
        return CalibrationChoice(calibration: fit, threshold: Float(threshold), eceBefore: eceBefore, eceAfter: eceAfter,
                                 realFlaggedRate: flagged, realUnits: reals.count, fakeUnits: units.labels.count - reals.count)
    }
}

extension SelfBlendTrainer {
    /// Calibration and threshold for `detector` on the validation faces of a run (see `ValidationSet.calibrate`).
    public static func calibrate(_ detector: any TrainableDetector, validation: [TrainingFace], recipe: SelfBlendRecipe,
                                 simulator: GeneratorTraceSimulator? = nil) throws -> CalibrationChoice {
        try ValidationSet(validation.map { recipe.denseMask ? $0 : $0.withoutMesh }, framesPerVideo: recipe.validationFramesPerVideo, seed: recipe.seed,
                          blend: recipe.selfBlend, simulator: recipe.fakes.usesSimulator ? simulator : nil,
                          alsoSelfBlends: recipe.fakes == .selfBlendAndGeneratorTrace).calibrate(detector)
    }
}

/// The faces an ensemble's stacking is fitted on (`train --detector ensemble`): from the validation split, each
/// held-out real crop (at most `framesPerVideo` per video) and its self-blend, and — with a simulator — the
/// simulator's pair of the same crop (its resampled real and its simulated fake). Labels: 0 real, 1 fake.
/// Each crop's `units` entry is the video (or photo) it belongs to, so the ensemble's threshold can be placed on
/// videos and photos as `detect` reports them; the simulator's resampled reals are units of their own (`sim/…`).
public enum StackingData {
    public static func crops(_ faces: [TrainingFace], framesPerVideo: Int, seed: UInt64, blend: SelfBlend,
                             simulator: GeneratorTraceSimulator?) -> (images: [RGBImage], labels: [Int], units: [String]) {
        let reals = faces.filter { !$0.sample.isFake }
        let blended = ValidationSet(reals, framesPerVideo: framesPerVideo, seed: seed, blend: blend)
        var images = blended.images, labels = blended.kinds.map { $0 == 0 ? 0 : 1 }
        var units = zip(blended.videoIDs, blended.kinds).map { $1 == 0 ? $0 : "fake/" + $0 }
        if let simulator {
            let simulated = ValidationSet(reals, framesPerVideo: framesPerVideo, seed: seed, simulator: simulator)
            images += simulated.images
            labels += simulated.kinds.map { $0 == 0 ? 0 : 1 }
            units += zip(simulated.videoIDs, simulated.kinds).map { $1 == 0 ? "sim/" + $0 : "sim-fake/" + $0 }
        }
        return (images, labels, units)
    }
}
