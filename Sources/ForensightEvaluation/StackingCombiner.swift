import Foundation

/// Logistic stacking: the combined logit of several detectors' scores, z = bias + Σ_i weights[i] · x_i, where x_i is
/// detector i's calibrated logit (`feature(probability:)`), and the combined P(fake) = σ(z).
///
/// The fit is L2-regularised logistic regression with an unpenalised intercept, minimising
/// ½‖w‖² + C · Σ_n [log(1 + e^{t_n}) − y_n·t_n],  t_n = w·x_n + b,
/// which is the objective of scikit-learn's `LogisticRegression(C=C)` (penalty l2, any solver). It is solved by Newton's
/// method (iteratively reweighted least squares) with step halving, from w = 0, b = 0: deterministic, and the
/// objective is strictly convex, so there is one optimum whatever the solver (the fixture from
/// scripts/reference/make_stacking_fixtures.py checks it against lbfgs).
public struct StackingCombiner: Codable, Sendable, Equatable {
    /// One weight per member, in member order.
    public var weights: [Double]
    public var bias: Double

    public init(weights: [Double], bias: Double) { (self.weights, self.bias) = (weights, bias) }

    /// Probabilities are clamped to [clamp, 1 − clamp] before their logit is taken, so a member that says 0 or 1
    /// contributes a large but finite term.
    public static let clamp = 1e-6

    /// The stacking feature of one member's calibrated P(fake): logit(p), p clamped to [1e-6, 1 − 1e-6].
    public static func feature(probability p: Double) -> Double {
        let q = min(max(p.isNaN ? 0.5 : p, clamp), 1 - clamp)
        return log(q / (1 - q))
    }

    /// The combined logit for one face's member features.
    public func logit(_ features: [Double]) -> Double {
        var z = bias
        for (w, x) in zip(weights, features) { z += w * x }
        return z
    }

    /// The combined P(fake) for one face's member features.
    public func probability(_ features: [Double]) -> Double { 1 / (1 + exp(-logit(features))) }

    /// The combined P(fake) for one face's member probabilities.
    public func probability(members: [Double]) -> Double { probability(members.map(Self.feature(probability:))) }

    /// Fits weights and bias on `features` (one row per face, one column per member) and `labels` (0 real, 1 fake).
    ///
    /// - Parameters:
    ///   - inverseRegularization: C, the inverse of the L2 strength on the weights (scikit-learn's `C`, default 1).
    ///   - tolerance: the fit stops when the largest gradient component is below it.
    /// - Throws: `MetricError.invalidArgument` for no rows, ragged rows, non-finite features, labels other than 0/1,
    ///   one class only, or C ≤ 0.
    public static func fit(features: [[Double]], labels: [Int], inverseRegularization c: Double = 1,
                           maxIterations: Int = 200, tolerance: Double = 1e-10) throws -> StackingCombiner {
        guard !features.isEmpty, features.count == labels.count else {
            throw MetricError.invalidArgument("stacking needs one label per row and at least one row (\(features.count) rows, \(labels.count) labels)")
        }
        let k = features[0].count
        guard k > 0, features.allSatisfy({ $0.count == k }) else { throw MetricError.invalidArgument("stacking rows must all have the same number (≥ 1) of members") }
        guard features.allSatisfy({ $0.allSatisfy(\.isFinite) }) else { throw MetricError.invalidArgument("stacking features must be finite") }
        guard labels.allSatisfy({ $0 == 0 || $0 == 1 }) else { throw MetricError.invalidArgument("labels must be 0 or 1") }
        guard labels.contains(0), labels.contains(1) else { throw MetricError.invalidArgument("stacking needs both classes") }
        guard c > 0, c.isFinite else { throw MetricError.invalidArgument("the inverse regularisation C must be positive and finite") }

        // Parameters θ = (w_1 … w_k, b); the bias is the last component and is not penalised.
        let d = k + 1
        func objective(_ theta: [Double]) -> Double {
            var sum = 0.0
            for (x, y) in zip(features, labels) {
                var t = theta[k]
                for j in 0..<k { t += theta[j] * x[j] }
                sum += (t > 0 ? t + log1p(exp(-t)) : log1p(exp(t))) - Double(y) * t
            }
            var penalty = 0.0
            for j in 0..<k { penalty += theta[j] * theta[j] }
            return 0.5 * penalty + c * sum
        }
        var theta = [Double](repeating: 0, count: d)
        var current = objective(theta)
        for _ in 0..<maxIterations {
            var gradient = [Double](repeating: 0, count: d)
            var hessian = [Double](repeating: 0, count: d * d)
            for (x, y) in zip(features, labels) {
                var t = theta[k]
                for j in 0..<k { t += theta[j] * x[j] }
                let p = 1 / (1 + exp(-t))
                let r = c * (p - Double(y)), w = c * max(p * (1 - p), 1e-12)
                for a in 0..<d {
                    let xa = a < k ? x[a] : 1
                    gradient[a] += r * xa
                    for b in a..<d { hessian[a * d + b] += w * xa * (b < k ? x[b] : 1) }
                }
            }
            for j in 0..<k { gradient[j] += theta[j]; hessian[j * d + j] += 1 }
            for a in 0..<d { for b in 0..<a { hessian[a * d + b] = hessian[b * d + a] } }
            if gradient.map(abs).max()! < tolerance { break }
            guard let step = solve(hessian, gradient, size: d) else { break }
            var scale = 1.0, improved = false
            while scale > 1e-10 {
                let candidate = zip(theta, step).map { $0 - scale * $1 }
                let value = objective(candidate)
                if value <= current {
                    (theta, current, improved) = (candidate, value, true)
                    break
                }
                scale /= 2
            }
            if !improved || step.map({ abs(scale * $0) }).max()! < 1e-15 { break }
        }
        return StackingCombiner(weights: Array(theta[0..<k]), bias: theta[k])
    }

    /// Solves the symmetric positive definite system A·x = b (row-major `size` × `size`) by Cholesky; nil when A is
    /// not positive definite.
    static func solve(_ a: [Double], _ b: [Double], size n: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var s = a[i * n + j]
                for m in 0..<j { s -= l[i * n + m] * l[j * n + m] }
                if i == j {
                    guard s > 0 else { return nil }
                    l[i * n + i] = s.squareRoot()
                } else {
                    l[i * n + j] = s / l[j * n + j]
                }
            }
        }
        var y = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var s = b[i]
            for m in 0..<i { s -= l[i * n + m] * y[m] }
            y[i] = s / l[i * n + i]
        }
        var x = [Double](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            var s = y[i]
            for m in (i + 1)..<n { s -= l[m * n + i] * x[m] }
            x[i] = s / l[i * n + i]
        }
        return x
    }
}

extension StackingCombiner {
    /// The ensemble's decision threshold: the default model's rule (`DecisionThreshold.capping`).
    public static func threshold(realScores: [Double], realFlagRate: Double = 0.02) -> Double {
        DecisionThreshold.capping(realScores: realScores, realFlagRate: realFlagRate)
    }
}

/// How a detector's decision threshold is placed on validation scores.
public enum DecisionThreshold {
    /// The lowest P(fake), not below 0.5 (and at most 0.999), at which at most ⌊`realFlagRate` · n⌋ of the n real
    /// scores reach it (just above the next-highest real score); 0.5 when there are no reals. The default model's
    /// calibration (on videos and photos) and the ensemble fit (on faces) both use it.
    public static func capping(realScores: [Double], realFlagRate: Double = 0.02) -> Double {
        let reals = realScores.sorted()
        let allowed = Int((realFlagRate * Double(reals.count)).rounded(.down))
        let cut = reals.count > allowed ? reals[reals.count - 1 - allowed] : 0
        return max(0.5, min(cut + 1e-4, 0.999))
    }
}
