/// Binary detection metrics on plain arrays: `scores[i]` is the detector's score (higher = more likely fake),
/// `labels[i]` is 0 (real) or 1 (fake). Inputs are never modified. Every metric validates its input and throws
/// a `MetricError` (empty input, length mismatch, a label other than 0/1, a NaN score, or a single class for the
/// ranking metrics) instead of returning NaN. Exact definitions and the matching sklearn functions: docs/METRICS.md.
public enum Metrics {}

/// A receiver operating characteristic: point k is the operating point of "fake iff score ≥ thresholds[k]".
/// Point 0 is (0, 0) with threshold +∞; thresholds then run over the distinct scores in descending order,
/// ending at (1, 1).
public struct ROCCurve: Sendable, Equatable {
    public let falsePositiveRate: [Double]
    public let truePositiveRate: [Double]
    public let thresholds: [Double]
}

/// The equal error rate and a nominal threshold for it (see `Metrics.equalErrorRate`).
public struct EqualErrorRate: Sendable, Equatable, Codable {
    public let rate: Double
    public let threshold: Double
}

extension Metrics {
    /// ROC AUC as the Mann–Whitney statistic with ties counted half:
    /// AUC = (1 / (P·N)) Σ_{i: yᵢ=1} Σ_{j: yⱼ=0} ( 𝟙[sᵢ > sⱼ] + ½ 𝟙[sᵢ = sⱼ] ).
    /// Equals `sklearn.metrics.roc_auc_score` (the trapezoidal area under the ROC). Needs both classes.
    public static func auc(scores: [Double], labels: [Int]) throws -> Double {
        let ranked = try RankedScores(scores: scores, labels: labels)
        try ranked.requireBothClasses("AUC")
        return ranked.auc()
    }

    /// Average precision, the step-wise (non-interpolated) area under the precision–recall curve:
    /// AP = Σₖ (Rₖ − Rₖ₋₁) · Pₖ over the distinct scores tₖ in descending order, with
    /// Pₖ = TPₖ / (TPₖ + FPₖ), Rₖ = TPₖ / P for the rule score ≥ tₖ, R₋₁ = 0.
    /// Equals `sklearn.metrics.average_precision_score`. Needs both classes.
    public static func averagePrecision(scores: [Double], labels: [Int]) throws -> Double {
        let ranked = try RankedScores(scores: scores, labels: labels)
        try ranked.requireBothClasses("average precision")
        return ranked.averagePrecision()
    }

    /// The ROC curve: FPR = FP / N and TPR = TP / P for "fake iff score ≥ t", t running over +∞ and then every
    /// distinct score in descending order. With `dropIntermediate == false` (default) every distinct score is
    /// a point: this is `sklearn.metrics.roc_curve(..., drop_intermediate=False)`. With `true`, collinear
    /// interior points are removed with sklearn's rule (keep point k iff it is first or last or
    /// FPₖ₋₁ − 2FPₖ + FPₖ₊₁ ≠ 0 or TPₖ₋₁ − 2TPₖ + TPₖ₊₁ ≠ 0, applied before the (0, 0) point is prepended),
    /// which equals sklearn's default `drop_intermediate=True`. Needs both classes.
    public static func rocCurve(scores: [Double], labels: [Int], dropIntermediate: Bool = false) throws -> ROCCurve {
        let ranked = try RankedScores(scores: scores, labels: labels)
        try ranked.requireBothClasses("ROC curve")
        let full = ranked.fullCurve()
        guard dropIntermediate, ranked.thresholds.count > 2 else { return full }
        let tp = ranked.truePositives, fp = ranked.falsePositives
        var keep = [0]
        for k in 1..<(tp.count - 1) where fp[k - 1] - 2 * fp[k] + fp[k + 1] != 0 || tp[k - 1] - 2 * tp[k] + tp[k + 1] != 0 {
            keep.append(k)
        }
        keep.append(tp.count - 1)
        // Curve index = group index + 1 (index 0 is the (0, 0) point).
        let indices = [0] + keep.map { $0 + 1 }
        return ROCCurve(falsePositiveRate: indices.map { full.falsePositiveRate[$0] },
                        truePositiveRate: indices.map { full.truePositiveRate[$0] },
                        thresholds: indices.map { full.thresholds[$0] })
    }

    /// Equal error rate: where FPR = FNR (FNR = 1 − TPR) on the full ROC, interpolated linearly.
    ///
    /// With dₖ = FPRₖ − FNRₖ (non-decreasing from d₀ = −1 at (0, 0) to +1 at (1, 1)), let k be the first point
    /// with dₖ ≥ 0. If dₖ = 0 the EER is FPRₖ and the threshold is tₖ. Otherwise the crossing lies on the
    /// segment between points k−1 and k at fraction λ = −dₖ₋₁ / (dₖ − dₖ₋₁), and
    /// EER = FPRₖ₋₁ + λ (FPRₖ − FPRₖ₋₁)  (= FNR at the same place),
    /// threshold = tₖ₋₁ + λ (tₖ − tₖ₋₁), or tₖ when tₖ₋₁ = +∞ (k = 1).
    /// An interpolated EER is realised by no single threshold (between two adjacent scores every threshold
    /// gives point k−1); the threshold is a nominal value between them. Needs both classes.
    public static func equalErrorRate(scores: [Double], labels: [Int]) throws -> EqualErrorRate {
        let ranked = try RankedScores(scores: scores, labels: labels)
        try ranked.requireBothClasses("EER")
        return ranked.fullCurve().equalErrorRate()
    }

    /// TPR at a target FPR, conservative and not interpolated: the largest TPRₖ over points of the full ROC with
    /// FPRₖ ≤ `targetFPR` (the (0, 0) point always qualifies). Equivalently
    /// `tpr[np.searchsorted(fpr, target, side="right") - 1]` on sklearn's `roc_curve`. Needs both classes.
    public static func tprAtFPR(_ targetFPR: Double, scores: [Double], labels: [Int]) throws -> Double {
        try Validate.rate(targetFPR, "target FPR")
        let ranked = try RankedScores(scores: scores, labels: labels)
        try ranked.requireBothClasses("TPR@FPR")
        return ranked.fullCurve().truePositiveRate(atFPR: targetFPR)
    }

    /// TNR at a target TPR, conservative and not interpolated: the largest TNRₖ = 1 − FPRₖ over points of the
    /// full ROC with TPRₖ ≥ `targetTPR` (the (1, 1) point always qualifies). Needs both classes.
    public static func tnrAtTPR(_ targetTPR: Double, scores: [Double], labels: [Int]) throws -> Double {
        try Validate.rate(targetTPR, "target TPR")
        let ranked = try RankedScores(scores: scores, labels: labels)
        try ranked.requireBothClasses("TNR@TPR")
        return ranked.fullCurve().trueNegativeRate(atTPR: targetTPR)
    }
}

extension ROCCurve {
    /// See `Metrics.equalErrorRate`. Expects a full curve from (0, 0) to (1, 1).
    func equalErrorRate() -> EqualErrorRate {
        let fpr = falsePositiveRate, tpr = truePositiveRate
        func d(_ k: Int) -> Double { fpr[k] - (1 - tpr[k]) }
        guard let k = fpr.indices.first(where: { d($0) >= 0 }) else {
            return EqualErrorRate(rate: fpr[fpr.count - 1], threshold: thresholds[thresholds.count - 1])
        }
        if d(k) == 0 || k == 0 { return EqualErrorRate(rate: fpr[k], threshold: thresholds[k]) }
        let lambda = -d(k - 1) / (d(k) - d(k - 1))
        let rate = fpr[k - 1] + lambda * (fpr[k] - fpr[k - 1])
        let lower = thresholds[k - 1], upper = thresholds[k]
        let threshold = lower.isInfinite ? upper : lower + lambda * (upper - lower)
        return EqualErrorRate(rate: rate, threshold: threshold)
    }

    /// Largest TPR with FPR ≤ target (FPR is non-decreasing along the curve, so the last such point).
    func truePositiveRate(atFPR target: Double) -> Double {
        var best = 0.0
        for k in falsePositiveRate.indices where falsePositiveRate[k] <= target { best = max(best, truePositiveRate[k]) }
        return best
    }

    /// Largest TNR = 1 − FPR with TPR ≥ target.
    func trueNegativeRate(atTPR target: Double) -> Double {
        var best = 0.0
        for k in truePositiveRate.indices where truePositiveRate[k] >= target { best = max(best, 1 - falsePositiveRate[k]) }
        return best
    }
}
