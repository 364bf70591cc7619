import Foundation

/// Platt scaling: calibrated P(fake) = σ(scale · z + bias) for a detector's logit z, with `scale` and `bias` fitted by
/// maximum likelihood on held-out logits and labels (Platt 1999, without his target smoothing).
///
/// The fit is the unregularised two-parameter logistic regression of the labels on the logits, solved by
/// Newton–Raphson with step halving; it equals scikit-learn's `LogisticRegression(penalty=None)` on the single
/// feature z (the fixture checks this). A temperature is the special case bias = 0, scale = 1/T.
public struct PlattScaling: Codable, Sendable, Equatable {
    public var scale: Double
    public var bias: Double

    public init(scale: Double, bias: Double) { (self.scale, self.bias) = (scale, bias) }

    /// No change: σ(z).
    public static let identity = PlattScaling(scale: 1, bias: 0)

    /// The calibrated probability for logit `z`.
    public func probability(logit z: Double) -> Double { 1 / (1 + exp(-(scale * z + bias))) }

    /// The calibrated logit for raw logit `z`.
    public func logit(_ z: Double) -> Double { scale * z + bias }

    /// The raw logit whose calibrated probability is `p` (to map a threshold back), nil for scale 0.
    public func rawLogit(forProbability p: Double) -> Double? {
        guard scale != 0, p > 0, p < 1 else { return nil }
        return (log(p / (1 - p)) - bias) / scale
    }

    /// Fits scale and bias on `logits` with `labels` (0 real, 1 fake). Both classes must be present. When the classes
    /// are separable the likelihood has no maximum; the fit then stops at `maxIterations` or when the step is below
    /// `tolerance`, with a steep but finite slope.
    public static func fit(logits: [Double], labels: [Int], maxIterations: Int = 100, tolerance: Double = 1e-10) throws -> PlattScaling {
        guard logits.count == labels.count, !logits.isEmpty else {
            throw MetricError.invalidArgument("Platt scaling needs as many labels as logits (\(logits.count) vs \(labels.count)), at least one")
        }
        guard labels.allSatisfy({ $0 == 0 || $0 == 1 }) else { throw MetricError.invalidArgument("labels must be 0 or 1") }
        guard labels.contains(0), labels.contains(1) else { throw MetricError.invalidArgument("Platt scaling needs both classes") }
        guard logits.allSatisfy(\.isFinite) else { throw MetricError.invalidArgument("logits must be finite") }
        func negativeLogLikelihood(_ a: Double, _ b: Double) -> Double {
            var sum = 0.0
            for (z, y) in zip(logits, labels) {
                let t = a * z + b
                // log(1 + e^t) − y·t, written to stay finite for large |t|.
                sum += (t > 0 ? t + log1p(exp(-t)) : log1p(exp(t))) - Double(y) * t
            }
            return sum
        }
        var (a, b) = (1.0, 0.0)
        var current = negativeLogLikelihood(a, b)
        for _ in 0..<maxIterations {
            var (ga, gb, haa, hab, hbb) = (0.0, 0.0, 0.0, 0.0, 0.0)
            for (z, y) in zip(logits, labels) {
                let p = 1 / (1 + exp(-(a * z + b)))
                let r = p - Double(y), w = max(p * (1 - p), 1e-12)
                ga += r * z; gb += r
                haa += w * z * z; hab += w * z; hbb += w
            }
            let det = haa * hbb - hab * hab
            guard det > 1e-300 else { break }
            let da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det
            var step = 1.0, improved = false
            while step > 1e-8 {
                let (na, nb) = (a - step * da, b - step * db)
                let value = negativeLogLikelihood(na, nb)
                if value <= current {
                    (a, b, current, improved) = (na, nb, value, true)
                    break
                }
                step /= 2
            }
            if !improved || max(abs(step * da), abs(step * db)) < tolerance { break }
        }
        return PlattScaling(scale: a, bias: b)
    }
}
