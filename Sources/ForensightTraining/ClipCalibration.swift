import Foundation
import ForensightDetect
import ForensightEvaluation

extension ClipSelfBlendTrainer {
    /// Calibration and threshold for a clip detector on a run's validation faces, as `SelfBlendTrainer.calibrate`
    /// does for crops: Platt scaling fitted on the clip logits of the held-out real clips (0) and their self-blended
    /// clips (1) of the run's `ClipValidationSet`, then the threshold placed on videos as `detect` reports them — a
    /// video's P(fake) is the mean over its clips (each clip's score goes to its face-frames, then max-mean) — at the
    /// lowest calibrated P(fake), not below 0.5, that calls at most `realFlagRate` of the real videos FAKE.
    public static func calibrate(_ detector: any ClipTrainableDetector, validation: [TrainingFace], recipe: SelfBlendRecipe,
                                 realFlagRate: Double = 0.02) throws -> CalibrationChoice {
        let set = ClipValidationSet(validation.filter { !$0.sample.isFake }.map { recipe.denseMask ? $0 : $0.withoutMesh },
                                    length: detector.clipLength, clipsPerVideo: max(1, recipe.validationFramesPerVideo / detector.clipLength),
                                    seed: recipe.seed, blend: recipe.selfBlend)
        let picked = set.kinds.indices.filter { set.kinds[$0] < 2 }
        guard picked.contains(where: { set.kinds[$0] == 0 }) else { throw TrainingError("no held-out real clips to calibrate on") }
        detector.module.eval()
        let logits = detector.clipLogits(picked.map { set.clips[$0] }).map(Double.init)
        let labels = picked.map { set.kinds[$0] }
        // A non-positive slope would reverse the ranking (an untrained network): keep the plain sigmoid then.
        let fitted = try PlattScaling.fit(logits: logits, labels: labels)
        let fit = fitted.scale > 0 ? fitted : PlattScaling.identity
        let raw = logits.map { 1 / (1 + exp(-$0)) }, calibrated = logits.map { fit.probability(logit: $0) }
        let eceBefore = try Metrics.expectedCalibrationError(probabilities: raw, labels: labels, bins: 10)
        let eceAfter = try Metrics.expectedCalibrationError(probabilities: calibrated, labels: labels, bins: 10)
        var byUnit: [String: (sum: Double, count: Int, label: Int)] = [:]
        for (n, i) in picked.enumerated() {
            let entry = byUnit[set.units[i], default: (0, 0, labels[n])]
            byUnit[set.units[i]] = (entry.sum + calibrated[n], entry.count + 1, labels[n])
        }
        let reals = byUnit.values.filter { $0.label == 0 }.map { $0.sum / Double($0.count) }
        let threshold = DecisionThreshold.capping(realScores: reals, realFlagRate: realFlagRate)
        let flagged = Double(reals.filter { $0 >= threshold }.count) / Double(max(reals.count, 1))
        return CalibrationChoice(calibration: fit, threshold: Float(threshold), eceBefore: eceBefore, eceAfter: eceAfter,
                                 realFlaggedRate: flagged, realUnits: reals.count, fakeUnits: byUnit.count - reals.count)
    }
}
