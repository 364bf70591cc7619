/// The scores sorted in descending order and grouped by distinct value, with the cumulative confusion
/// counts of the rule "fake iff score ≥ threshold" at each distinct score. This is the one sort every
/// ranking metric (AUC, AP, ROC, EER, TPR@FPR, TNR@TPR) is computed from; it mirrors sklearn's
/// `confusion_matrix_at_thresholds` (formerly `_binary_clf_curve`).
///
/// For group k (0-based, descending scores t₀ > t₁ > … ), `truePositives[k]` = #{i : yᵢ = 1, sᵢ ≥ tₖ} and
/// `falsePositives[k]` = #{i : yᵢ = 0, sᵢ ≥ tₖ}. The last group holds P and N.
struct RankedScores {
    let thresholds: [Double]
    let truePositives: [Int]
    let falsePositives: [Int]
    /// P = number of fakes (label 1).
    let positives: Int
    /// N = number of reals (label 0).
    let negatives: Int

    /// Validates, sorts (the inputs are not touched) and groups. Does not require both classes.
    init(scores: [Double], labels: [Int]) throws {
        try Validate.pairs(scores, labels)
        var order = Array(scores.indices)
        order.sort { scores[$0] > scores[$1] }
        var thresholds: [Double] = []
        var tps: [Int] = []
        var fps: [Int] = []
        var tp = 0, fp = 0
        for (position, i) in order.enumerated() {
            if labels[i] == 1 { tp += 1 } else { fp += 1 }
            let isGroupEnd = position == order.count - 1 || scores[order[position + 1]] != scores[i]
            if isGroupEnd {
                thresholds.append(scores[i])
                tps.append(tp)
                fps.append(fp)
            }
        }
        self.thresholds = thresholds
        self.truePositives = tps
        self.falsePositives = fps
        self.positives = tp
        self.negatives = fp
    }

    /// Throws `singleClass` unless both labels occur.
    func requireBothClasses(_ metric: String) throws {
        if positives == 0 { throw MetricError.singleClass(metric: metric, presentLabel: 0) }
        if negatives == 0 { throw MetricError.singleClass(metric: metric, presentLabel: 1) }
    }

    /// Mann–Whitney U / (P·N), ties counted half. Accumulated exactly in integers as
    /// 2U = Σₖ Δnₖ · (2·TP₍ₖ₋₁₎ + Δpₖ), where Δpₖ, Δnₖ are the fakes and reals in group k:
    /// a fake above a real counts 1, a fake tied with a real counts ½.
    func auc() -> Double {
        var twiceU = 0
        var previousTP = 0, previousFP = 0
        for k in thresholds.indices {
            let dp = truePositives[k] - previousTP
            let dn = falsePositives[k] - previousFP
            twiceU += dn * (2 * previousTP + dp)
            previousTP = truePositives[k]
            previousFP = falsePositives[k]
        }
        return Double(twiceU) / (2 * Double(positives) * Double(negatives))
    }

    /// Step-wise AP = Σₖ (Rₖ − Rₖ₋₁) · Pₖ with Rₖ = TPₖ / P and Pₖ = TPₖ / (TPₖ + FPₖ), R₋₁ = 0.
    func averagePrecision() -> Double {
        var sum = 0.0
        var previousRecall = 0.0
        for k in thresholds.indices {
            let recall = Double(truePositives[k]) / Double(positives)
            let precision = Double(truePositives[k]) / Double(truePositives[k] + falsePositives[k])
            sum += (recall - previousRecall) * precision
            previousRecall = recall
        }
        return max(0, sum)
    }

    /// The full ROC (every distinct score a point), starting at (0, 0) with threshold +∞.
    func fullCurve() -> ROCCurve {
        var fpr = [0.0], tpr = [0.0], thr = [Double.infinity]
        fpr.reserveCapacity(thresholds.count + 1)
        tpr.reserveCapacity(thresholds.count + 1)
        thr.reserveCapacity(thresholds.count + 1)
        for k in thresholds.indices {
            fpr.append(Double(falsePositives[k]) / Double(negatives))
            tpr.append(Double(truePositives[k]) / Double(positives))
            thr.append(thresholds[k])
        }
        return ROCCurve(falsePositiveRate: fpr, truePositiveRate: tpr, thresholds: thr)
    }
}
