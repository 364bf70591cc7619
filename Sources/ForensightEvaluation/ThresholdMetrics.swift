/// Confusion counts of the hard decision "fake iff score ≥ threshold" (fake = positive class, label 1).
public struct ConfusionCounts: Sendable, Equatable, Codable {
    public var truePositives = 0
    public var falsePositives = 0
    public var trueNegatives = 0
    public var falseNegatives = 0

    public init(truePositives: Int = 0, falsePositives: Int = 0, trueNegatives: Int = 0, falseNegatives: Int = 0) {
        self.truePositives = truePositives
        self.falsePositives = falsePositives
        self.trueNegatives = trueNegatives
        self.falseNegatives = falseNegatives
    }

    public var total: Int { truePositives + falsePositives + trueNegatives + falseNegatives }

    /// (TP + TN) / n.
    public var accuracy: Double { Double(truePositives + trueNegatives) / Double(total) }
    /// TP / (TP + FP); 0 when nothing is predicted fake (sklearn's `zero_division` default).
    public var precision: Double { ratio(truePositives, truePositives + falsePositives) }
    /// TP / (TP + FN) (= TPR); 0 when there are no fakes.
    public var recall: Double { ratio(truePositives, truePositives + falseNegatives) }
    /// 2·TP / (2·TP + FP + FN) (the harmonic mean of precision and recall); 0 when TP + FP + FN = 0.
    public var f1: Double { ratio(2 * truePositives, 2 * truePositives + falsePositives + falseNegatives) }

    private func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
}

extension Metrics {
    /// The default decision threshold: a score ≥ 0.5 is called fake.
    public static let defaultThreshold = 0.5

    /// Counts for "fake iff scoreᵢ ≥ threshold" (≥, so a score equal to the threshold is called fake, as
    /// `y_pred = (score >= threshold)` in the sklearn fixtures). Works with a single class.
    public static func confusion(scores: [Double], labels: [Int],
                                 threshold: Double = defaultThreshold) throws -> ConfusionCounts {
        try Validate.pairs(scores, labels)
        guard !threshold.isNaN else { throw MetricError.invalidArgument("threshold is NaN") }
        var c = ConfusionCounts()
        for (s, y) in zip(scores, labels) {
            switch (s >= threshold, y == 1) {
            case (true, true): c.truePositives += 1
            case (true, false): c.falsePositives += 1
            case (false, false): c.trueNegatives += 1
            case (false, true): c.falseNegatives += 1
            }
        }
        return c
    }

    /// Accuracy = (TP + TN) / n at "fake iff score ≥ threshold". Equals `sklearn.metrics.accuracy_score`.
    public static func accuracy(scores: [Double], labels: [Int], threshold: Double = defaultThreshold) throws -> Double {
        try confusion(scores: scores, labels: labels, threshold: threshold).accuracy
    }

    /// Precision = TP / (TP + FP) at "fake iff score ≥ threshold", 0 if TP + FP = 0.
    /// Equals `sklearn.metrics.precision_score` (default `zero_division`, which yields 0).
    public static func precision(scores: [Double], labels: [Int], threshold: Double = defaultThreshold) throws -> Double {
        try confusion(scores: scores, labels: labels, threshold: threshold).precision
    }

    /// Recall = TP / (TP + FN) at "fake iff score ≥ threshold", 0 if there are no fakes.
    /// Equals `sklearn.metrics.recall_score`.
    public static func recall(scores: [Double], labels: [Int], threshold: Double = defaultThreshold) throws -> Double {
        try confusion(scores: scores, labels: labels, threshold: threshold).recall
    }

    /// F1 = 2·TP / (2·TP + FP + FN) at "fake iff score ≥ threshold", 0 if TP + FP + FN = 0.
    /// Equals `sklearn.metrics.f1_score`.
    public static func f1(scores: [Double], labels: [Int], threshold: Double = defaultThreshold) throws -> Double {
        try confusion(scores: scores, labels: labels, threshold: threshold).f1
    }
}
