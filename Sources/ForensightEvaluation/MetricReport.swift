/// What one score stands for: a face crop ("frame") or a video aggregated by a named rule.
public struct EvaluationLevel: Codable, Sendable, Equatable, CustomStringConvertible {
    /// "frame" or "video".
    public var unit: String
    /// The video rule; nil at frame level.
    public var aggregation: VideoAggregation?

    public static let frame = EvaluationLevel(unit: "frame", aggregation: nil)
    public static func video(_ rule: VideoAggregation) -> EvaluationLevel { EvaluationLevel(unit: "video", aggregation: rule) }

    /// "frame" or "video (<rule>)", e.g. "video (maxOverFacesThenMean)".
    public var description: String { aggregation.map { "\(unit) (\($0.name))" } ?? unit }
}

/// A value at a target operating rate, e.g. TPR at FPR ≤ 0.01.
public struct RateAtTarget: Codable, Sendable, Equatable {
    public var target: Double
    public var value: Double
}

/// Every metric of DESIGN §6 for one set of scores, at one level, with the counts and the decision threshold.
/// Definitions: docs/METRICS.md and the `Metrics` functions each field names.
public struct MetricReport: Codable, Sendable, Equatable {
    /// FPR targets of `tprAtFPR`: 0.1 %, 1 %, 5 %.
    public static let fprTargets = [0.001, 0.01, 0.05]

    public var level: EvaluationLevel
    /// Threshold of the hard decisions (fake iff score ≥ threshold).
    public var threshold: Double
    public var countReal: Int
    public var countFake: Int
    /// `Metrics.auc`.
    public var auc: Double
    /// `Metrics.averagePrecision`.
    public var averagePrecision: Double
    /// `Metrics.equalErrorRate` (interpolated) and its nominal threshold.
    public var eer: Double
    public var eerThreshold: Double
    /// `Metrics.tprAtFPR` for each of `fprTargets` (conservative, not interpolated).
    public var tprAtFPR: [RateAtTarget]
    public var confusion: ConfusionCounts
    public var accuracy: Double
    public var precision: Double
    public var recall: Double
    public var f1: Double
    /// `Metrics.logLoss` (ε = 1e-15), `Metrics.brier`, `Metrics.expectedCalibrationError` (15 bins):
    /// nil when some score is outside [0, 1] (logits rather than probabilities).
    public var logLoss: Double?
    public var brier: Double?
    public var expectedCalibrationError: Double?
    /// The bootstrap settings, when intervals were computed.
    public var bootstrap: BootstrapOptions?
    /// Percentile-bootstrap intervals keyed by metric name (`MetricReport.Key`), all from the same resamples.
    public var confidenceIntervals: [String: ConfidenceInterval]?

    /// Names of the metrics in `confidenceIntervals`.
    public enum Key {
        public static let auc = "auc", averagePrecision = "averagePrecision", eer = "eer"
        public static let accuracy = "accuracy", precision = "precision", recall = "recall", f1 = "f1"
        public static let logLoss = "logLoss", brier = "brier", ece = "expectedCalibrationError"
        /// "tprAtFPR@0.001" etc.
        public static func tprAtFPR(_ target: Double) -> String { "tprAtFPR@\(target)" }
    }

    /// Computes every metric of `scores` against `labels` (needs both classes; throws `MetricError` otherwise).
    /// With `bootstrap`, adds percentile intervals for every metric from one shared set of resamples
    /// (`Metrics.bootstrapCI`'s scheme); one-class resamples are skipped for the ranking metrics only.
    public static func compute(scores: [Double], labels: [Int], threshold: Double = Metrics.defaultThreshold,
                               level: EvaluationLevel = .frame, bootstrap: BootstrapOptions? = nil) throws -> MetricReport {
        let ranked = try RankedScores(scores: scores, labels: labels)
        try ranked.requireBothClasses("metric report")
        let isProbability = scores.allSatisfy { $0 >= 0 && $0 <= 1 }
        let confusion = try Metrics.confusion(scores: scores, labels: labels, threshold: threshold)
        let values = try measure(scores, labels, threshold: threshold, probabilities: isProbability)
        let eer = ranked.fullCurve().equalErrorRate()
        var report = MetricReport(
            level: level, threshold: threshold, countReal: ranked.negatives, countFake: ranked.positives,
            auc: values[Key.auc]!, averagePrecision: values[Key.averagePrecision]!,
            eer: eer.rate, eerThreshold: eer.threshold,
            tprAtFPR: fprTargets.map { RateAtTarget(target: $0, value: values[Key.tprAtFPR($0)]!) },
            confusion: confusion, accuracy: confusion.accuracy, precision: confusion.precision,
            recall: confusion.recall, f1: confusion.f1,
            logLoss: values[Key.logLoss], brier: values[Key.brier], expectedCalibrationError: values[Key.ece],
            bootstrap: bootstrap, confidenceIntervals: nil)
        if let options = bootstrap {
            report.confidenceIntervals = try intervals(scores, labels, threshold: threshold,
                                                       probabilities: isProbability, estimates: values, options: options)
        }
        return report
    }

    /// Video-level report of already aggregated scores; the level records the rule.
    public static func compute(videos: VideoScores, threshold: Double = Metrics.defaultThreshold,
                               bootstrap: BootstrapOptions? = nil) throws -> MetricReport {
        try compute(scores: videos.scores, labels: videos.labels, threshold: threshold,
                    level: .video(videos.rule), bootstrap: bootstrap)
    }

    /// All scalar metrics of one (re)sample. Ranking metrics are absent when the sample has a single class.
    static func measure(_ s: [Double], _ y: [Int], threshold: Double, probabilities: Bool) throws -> [String: Double] {
        var v: [String: Double] = [:]
        let c = try Metrics.confusion(scores: s, labels: y, threshold: threshold)
        v[Key.accuracy] = c.accuracy
        v[Key.precision] = c.precision
        v[Key.recall] = c.recall
        v[Key.f1] = c.f1
        if probabilities {
            v[Key.logLoss] = try Metrics.logLoss(probabilities: s, labels: y)
            v[Key.brier] = try Metrics.brier(probabilities: s, labels: y)
            v[Key.ece] = try Metrics.expectedCalibrationError(probabilities: s, labels: y)
        }
        let ranked = try RankedScores(scores: s, labels: y)
        if ranked.positives > 0, ranked.negatives > 0 {
            v[Key.auc] = ranked.auc()
            v[Key.averagePrecision] = ranked.averagePrecision()
            let curve = ranked.fullCurve()
            v[Key.eer] = curve.equalErrorRate().rate
            for t in fprTargets { v[Key.tprAtFPR(t)] = curve.truePositiveRate(atFPR: t) }
        }
        return v
    }

    static func intervals(_ scores: [Double], _ labels: [Int], threshold: Double, probabilities: Bool,
                          estimates: [String: Double], options: BootstrapOptions) throws -> [String: ConfidenceInterval] {
        try options.validate()
        var samples: [String: [Double]] = [:]
        var s = [Double](repeating: 0, count: scores.count)
        var y = [Int](repeating: 0, count: labels.count)
        try Bootstrap.forEachResample(count: scores.count, options: options) { indices in
            for (j, i) in indices.enumerated() {
                s[j] = scores[i]
                y[j] = labels[i]
            }
            for (key, value) in try measure(s, y, threshold: threshold, probabilities: probabilities) {
                samples[key, default: []].append(value)
            }
        }
        var out: [String: ConfidenceInterval] = [:]
        for (key, estimate) in estimates {
            out[key] = try Bootstrap.interval(estimate: estimate, values: samples[key] ?? [], options: options)
        }
        return out
    }
}
