/// SplitMix64 (Steele, Lea & Flood 2014; the seeding generator of xoshiro): a 64-bit state advanced by the
/// golden-ratio increment 0x9E3779B97F4A7C15 and mixed by
/// z ← (z ⊕ z≫30)·0xBF58476D1CE4E5B9, z ← (z ⊕ z≫27)·0x94D049BB133111EB, out = z ⊕ z≫31.
/// Our own, so a seed gives the same stream on every platform and Swift version.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform integer in 0..<n (n ≥ 1) without modulo bias: draws r until r ≥ 2⁶⁴ mod n, returns r mod n.
    public mutating func index(below n: Int) -> Int {
        precondition(n >= 1, "index(below:) needs n >= 1")
        let bound = UInt64(n)
        let rejectBelow = (0 &- bound) % bound
        while true {
            let r = next()
            if r >= rejectBelow { return Int(r % bound) }
        }
    }
}

/// A percentile-bootstrap confidence interval.
public struct ConfidenceInterval: Codable, Sendable, Equatable {
    /// The metric on the full sample.
    public var estimate: Double
    public var lower: Double
    public var upper: Double
    /// Nominal coverage, e.g. 0.95.
    public var level: Double
    public var resamplesRequested: Int
    /// Resamples that could be scored (one-class resamples are skipped for ranking metrics).
    public var resamplesUsed: Int
    public var seed: UInt64
}

/// Bootstrap parameters (DESIGN §6: 1,000 resamples, fixed seed, 95 %).
public struct BootstrapOptions: Codable, Sendable, Equatable {
    public var resamples: Int
    public var seed: UInt64
    public var level: Double

    public init(resamples: Int = 1000, seed: UInt64 = 0, level: Double = 0.95) {
        self.resamples = resamples
        self.seed = seed
        self.level = level
    }

    func validate() throws {
        guard resamples >= 1 else { throw MetricError.invalidArgument("bootstrap needs at least one resample, got \(resamples)") }
        guard level > 0, level < 1 else { throw MetricError.invalidArgument("confidence level must be in (0, 1), got \(level)") }
    }
}

enum Bootstrap {
    /// Plain (unstratified) resampling: for r = 0 ..< resamples, draw n indices uniformly with replacement from
    /// one SplitMix64 stream seeded with `seed` (draw order: resample by resample, index by index).
    static func forEachResample(count n: Int, options: BootstrapOptions, _ body: ([Int]) throws -> Void) rethrows {
        var rng = SplitMix64(seed: options.seed)
        var indices = [Int](repeating: 0, count: n)
        for _ in 0..<options.resamples {
            for j in 0..<n { indices[j] = rng.index(below: n) }
            try body(indices)
        }
    }

    /// Percentile interval: the α/2 and 1 − α/2 quantiles (α = 1 − level) of the resampled values, each quantile
    /// by linear interpolation between order statistics (numpy's default "linear" method):
    /// h = q·(m − 1), Q(q) = x₍⌊h⌋₎ + (h − ⌊h⌋)(x₍⌊h⌋+1₎ − x₍⌊h⌋₎) on the sorted values x₍₀₎ ≤ … ≤ x₍ₘ₋₁₎.
    static func percentileInterval(_ values: [Double], level: Double) -> (lower: Double, upper: Double) {
        let sorted = values.sorted()
        func quantile(_ q: Double) -> Double {
            let h = q * Double(sorted.count - 1)
            let i = Int(h.rounded(.down))
            guard i + 1 < sorted.count else { return sorted[sorted.count - 1] }
            return sorted[i] + (h - Double(i)) * (sorted[i + 1] - sorted[i])
        }
        let alpha = 1 - level
        return (quantile(alpha / 2), quantile(1 - alpha / 2))
    }

    static func interval(estimate: Double, values: [Double], options: BootstrapOptions) throws -> ConfidenceInterval {
        guard !values.isEmpty else { throw MetricError.noUsableResamples(requested: options.resamples) }
        let (lower, upper) = percentileInterval(values, level: options.level)
        return ConfidenceInterval(estimate: estimate, lower: lower, upper: upper, level: options.level,
                                  resamplesRequested: options.resamples, resamplesUsed: values.count, seed: options.seed)
    }
}

extension Metrics {
    /// Percentile bootstrap confidence interval of any metric `(scores, labels) -> value`.
    ///
    /// Resamples n (score, label) pairs with replacement `resamples` times (plain, not stratified; see
    /// `Bootstrap.forEachResample`), evaluates the metric on each, and returns the `(1 − level)/2` and
    /// `(1 + level)/2` percentiles (linear interpolation) with the full-sample estimate. A resample on which the
    /// metric throws `MetricError.singleClass` (AUC, AP, EER, TPR@FPR … on a one-class resample) is skipped;
    /// `resamplesUsed` says how many were scored. Any other error is rethrown. Same seed ⇒ identical interval.
    public static func bootstrapCI(_ metric: ([Double], [Int]) throws -> Double,
                                   scores: [Double], labels: [Int],
                                   resamples: Int = 1000, seed: UInt64, level: Double = 0.95) throws -> ConfidenceInterval {
        let options = BootstrapOptions(resamples: resamples, seed: seed, level: level)
        try options.validate()
        try Validate.pairs(scores, labels)
        let estimate = try metric(scores, labels)
        var values: [Double] = []
        values.reserveCapacity(resamples)
        var s = [Double](repeating: 0, count: scores.count)
        var y = [Int](repeating: 0, count: labels.count)
        try Bootstrap.forEachResample(count: scores.count, options: options) { indices in
            for (j, i) in indices.enumerated() {
                s[j] = scores[i]
                y[j] = labels[i]
            }
            do {
                values.append(try metric(s, y))
            } catch MetricError.singleClass {
                // Unusable resample: skipped and not counted in resamplesUsed.
            }
        }
        return try Bootstrap.interval(estimate: estimate, values: values, options: options)
    }
}
