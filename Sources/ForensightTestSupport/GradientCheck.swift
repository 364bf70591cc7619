import ForensightTensor

/// The worst disagreement between analytic and finite-difference gradients.
public struct GradientCheckResult: CustomStringConvertible {
    public var maxAbsoluteError: Float = 0
    public var maxRelativeError: Float = 0
    public var worst: String = ""
    public var checked = 0
    public var description: String { "checked \(checked), max abs \(maxAbsoluteError), max rel \(maxRelativeError) at \(worst)" }
}

/// Compares the gradients from `backward()` with central finite differences.
///
/// The scalar under test is L = Σ f(inputs) ⊙ R with a fixed random R (so every output element matters).
/// An element passes when |analytic − numeric| ≤ atol + rtol·|numeric|; the result reports the worst excess.
/// `inputs` must have `requiresGrad`; at most `maxElements` elements per input are probed (evenly spread).
public func checkGradients(_ inputs: [Tensor], eps: Float = 1e-3, atol: Float = 2e-3, rtol: Float = 2e-2,
                           maxElements: Int = 64, seed: UInt64 = 7, _ f: ([Tensor]) -> Tensor) -> (passed: Bool, GradientCheckResult) {
    var rng = SeededRandom(seed: seed)
    let probe = withoutGrad { f(inputs) }
    let r = Tensor.randn(probe.shape, using: &rng)
    func loss() -> Double {
        withoutGrad {
            let y = f(inputs)
            var s: Double = 0
            for i in 0..<y.count { s += Double(y.data[i]) * Double(r.data[i]) }
            return s
        }
    }
    for x in inputs { x.grad = nil }
    (f(inputs) * r).sum().backward()
    var result = GradientCheckResult()
    var passed = true
    for (k, x) in inputs.enumerated() {
        let step = Swift.max(1, x.count / maxElements)
        for i in stride(from: 0, to: x.count, by: step) {
            let saved = x.data[i]
            x.data[i] = saved + eps; let up = loss()
            x.data[i] = saved - eps; let down = loss()
            x.data[i] = saved
            let numeric = Float((up - down) / (2 * Double(eps)))
            let analytic = x.grad?.data[i] ?? 0
            let err = Swift.abs(analytic - numeric)
            result.checked += 1
            if err > result.maxAbsoluteError { result.maxAbsoluteError = err; result.worst = "input \(k)[\(i)]: analytic \(analytic), numeric \(numeric)" }
            result.maxRelativeError = Swift.max(result.maxRelativeError, err / Swift.max(Swift.abs(numeric), 1e-3))
            if err > atol + rtol * Swift.abs(numeric) { passed = false }
        }
    }
    return (passed, result)
}

/// Largest |a − b| / (|b| + floor) over two equally shaped tensors.
public func maxRelativeDifference(_ a: Tensor, _ b: Tensor, floor: Float = 1e-3) -> Float {
    precondition(a.shape == b.shape, "compare \(a.shape) with \(b.shape)")
    var worst: Float = 0
    for i in 0..<a.count { worst = Swift.max(worst, Swift.abs(a.data[i] - b.data[i]) / (Swift.abs(b.data[i]) + floor)) }
    return worst
}

/// max |a − b| / max |b|: the error relative to the reference's scale (robust where elements are near zero).
public func scaledMaxDifference(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "compare \(a.shape) with \(b.shape)")
    var worst: Float = 0, scale: Float = 1e-12
    for i in 0..<a.count { worst = Swift.max(worst, Swift.abs(a.data[i] - b.data[i])); scale = Swift.max(scale, Swift.abs(b.data[i])) }
    return worst / scale
}
