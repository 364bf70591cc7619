import Foundation

/// Metrics of predicted probabilities: `probabilities[i]` is p(fake) ∈ [0, 1] (a value outside throws
/// `probabilityOutOfRange`; pass sigmoid/softmax outputs, not logits). Single-class input is allowed.
extension Metrics {
    /// The default clipping ε of `logLoss` (sklearn before 1.5; sklearn ≥ 1.5 clips at the float64 machine
    /// epsilon 2.220446049250313e-16 — pass `clip: Double.ulpOfOne` to match it on probabilities of exactly 0 or 1).
    public static let defaultLogLossClip = 1e-15

    /// Log-loss (binary cross-entropy, natural log): −(1/n) Σᵢ log qᵢ, where qᵢ is the probability given to the
    /// true class (pᵢ for a fake, 1 − pᵢ for a real) clipped to [ε, 1 − ε]. Equals `sklearn.metrics.log_loss`
    /// (which clips the two class columns p and 1 − p the same way) for ε = machine epsilon, and for any ε
    /// whenever no probability lies within ε of 0 or 1.
    public static func logLoss(probabilities: [Double], labels: [Int], clip: Double = defaultLogLossClip) throws -> Double {
        try Validate.probabilities(probabilities, labels)
        guard clip >= 0, clip < 0.5 else { throw MetricError.invalidArgument("log-loss clip must be in [0, 0.5), got \(clip)") }
        var sum = 0.0
        for (p, y) in zip(probabilities, labels) {
            let q = min(max(y == 1 ? p : 1 - p, clip), 1 - clip)
            sum += log(q)
        }
        return -sum / Double(probabilities.count)
    }

    /// Brier score: (1/n) Σᵢ (pᵢ − yᵢ)². Equals `sklearn.metrics.brier_score_loss`.
    public static func brier(probabilities: [Double], labels: [Int]) throws -> Double {
        try Validate.probabilities(probabilities, labels)
        var sum = 0.0
        for (p, y) in zip(probabilities, labels) {
            let e = p - Double(y)
            sum += e * e
        }
        return sum / Double(probabilities.count)
    }

    /// Expected calibration error of p(fake) (the binary "reliability" ECE; not the max-class-confidence ECE).
    ///
    /// B equal-width bins on p(fake): sample i goes to bin bᵢ = min(⌊pᵢ · B⌋, B − 1), i.e. bins
    /// [j/B, (j+1)/B) with the last bin closed at 1 (⌊pᵢ·B⌋ is evaluated in double precision).
    /// ECE = Σⱼ (nⱼ / n) · | mean of pᵢ in bin j − fraction of fakes (yᵢ = 1) in bin j |, empty bins contribute 0.
    /// No sklearn function; the fixture's numpy reference implements exactly this.
    public static func expectedCalibrationError(probabilities: [Double], labels: [Int], bins: Int = 15) throws -> Double {
        try Validate.probabilities(probabilities, labels)
        guard bins >= 1 else { throw MetricError.invalidArgument("ECE needs at least one bin, got \(bins)") }
        var count = [Int](repeating: 0, count: bins)
        var sumP = [Double](repeating: 0, count: bins)
        var fakes = [Int](repeating: 0, count: bins)
        for (p, y) in zip(probabilities, labels) {
            let b = min(Int((p * Double(bins)).rounded(.down)), bins - 1)
            count[b] += 1
            sumP[b] += p
            fakes[b] += y
        }
        var ece = 0.0
        let n = Double(probabilities.count)
        for b in 0..<bins where count[b] > 0 {
            let nb = Double(count[b])
            ece += (nb / n) * abs(sumP[b] / nb - Double(fakes[b]) / nb)
        }
        return ece
    }
}
