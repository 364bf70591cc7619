/// Why a metric could not be computed. Metrics throw instead of returning NaN.
public enum MetricError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No samples at all.
    case emptyInput
    /// `scores.count != labels.count`.
    case lengthMismatch(scores: Int, labels: Int)
    /// A label other than 0 (real) or 1 (fake).
    case invalidLabel(index: Int, value: Int)
    /// A NaN score (a score must be a number to be ranked or thresholded).
    case nanScore(index: Int)
    /// A probability metric (log-loss, Brier, ECE) got a value outside [0, 1].
    case probabilityOutOfRange(index: Int, value: Double)
    /// A ranking metric (AUC, AP, ROC, EER, TPR@FPR, TNR@TPR) needs both classes; only `presentLabel` occurs.
    case singleClass(metric: String, presentLabel: Int)
    /// A parameter outside its domain (target rate, bin count, resample count, confidence level …).
    case invalidArgument(String)
    /// Video aggregation: frames of one video carry different labels.
    case inconsistentVideoLabel(videoID: String, labels: [Int])
    /// Video aggregation: the same (video, frame, face) appears twice.
    case duplicateRecord(videoID: String, frameIndex: Int, faceID: Int)
    /// Bootstrap: every resample was unusable (e.g. all one-class for a ranking metric).
    case noUsableResamples(requested: Int)

    public var description: String {
        switch self {
        case .emptyInput:
            return "metric input is empty: need at least one (score, label) pair"
        case let .lengthMismatch(s, l):
            return "scores and labels differ in length: \(s) scores, \(l) labels"
        case let .invalidLabel(i, v):
            return "label \(v) at index \(i) is not 0 (real) or 1 (fake)"
        case let .nanScore(i):
            return "score at index \(i) is NaN"
        case let .probabilityOutOfRange(i, v):
            return "value \(v) at index \(i) is not a probability in [0, 1] (log-loss, Brier and ECE need p(fake))"
        case let .singleClass(metric, label):
            let name = label == 1 ? "fake" : "real"
            return "\(metric) needs both classes, but every label is \(label) (\(name))"
        case let .invalidArgument(message):
            return "invalid argument: \(message)"
        case let .inconsistentVideoLabel(id, labels):
            return "video '\(id)' has frames with different labels \(labels); all frames of a video must share its label"
        case let .duplicateRecord(id, frame, face):
            return "video '\(id)' has more than one score for frame \(frame), face \(face)"
        case let .noUsableResamples(n):
            return "bootstrap: none of the \(n) resamples could be scored (each one had a single class)"
        }
    }
}

extension MetricError: CustomDebugStringConvertible {
    public var debugDescription: String { description }
}

/// Input checks shared by every metric. Order: lengths, emptiness, labels, NaN scores.
enum Validate {
    static func pairs(_ scores: [Double], _ labels: [Int]) throws {
        guard scores.count == labels.count else {
            throw MetricError.lengthMismatch(scores: scores.count, labels: labels.count)
        }
        guard !scores.isEmpty else { throw MetricError.emptyInput }
        for (i, y) in labels.enumerated() where y != 0 && y != 1 {
            throw MetricError.invalidLabel(index: i, value: y)
        }
        for (i, s) in scores.enumerated() where s.isNaN {
            throw MetricError.nanScore(index: i)
        }
    }

    /// `pairs`, then every score must lie in [0, 1].
    static func probabilities(_ p: [Double], _ labels: [Int]) throws {
        try pairs(p, labels)
        for (i, v) in p.enumerated() where !(v >= 0 && v <= 1) {
            throw MetricError.probabilityOutOfRange(index: i, value: v)
        }
    }

    /// A rate argument (target FPR/TPR) must be in [0, 1].
    static func rate(_ r: Double, _ name: String) throws {
        guard r >= 0, r <= 1 else { throw MetricError.invalidArgument("\(name) must be in [0, 1], got \(r)") }
    }
}
