import Foundation

/// Training losses, each reduced by the mean over the batch.
extension Tensor {
    /// Cross-entropy of `logits` [N, C] against class indices, with label smoothing ε:
    /// L = −1/N Σ_n Σ_c q_nc log softmax(x_n)_c, q = (1 − ε)·onehot + ε/C (PyTorch `F.cross_entropy`).
    public static func crossEntropy(_ logits: Tensor, targets: [Int], labelSmoothing: Float = 0) -> Tensor {
        precondition(logits.rank == 2 && logits.shape[0] == targets.count, "crossEntropy: logits \(logits.shape), \(targets.count) targets")
        let (n, c) = (logits.shape[0], logits.shape[1])
        precondition(targets.allSatisfy { $0 >= 0 && $0 < c }, "crossEntropy target outside 0..<\(c)")
        let q = Tensor.full([n, c], labelSmoothing / Float(c))
        for (i, t) in targets.enumerated() { q.data[i * c + t] += 1 - labelSmoothing }
        return -(q * logits.logSoftmax(axis: 1)).sum() * (1 / Float(Swift.max(n, 1)))
    }

    /// Binary cross-entropy on logits, numerically stable: mean of Swift.max(x, 0) − x·y + log(1 + e^{−|x|}).
    /// `targets` has the shape of `logits`, values in [0, 1].
    public static func binaryCrossEntropyWithLogits(_ logits: Tensor, targets: Tensor) -> Tensor {
        precondition(logits.shape == targets.shape, "BCE: logits \(logits.shape), targets \(targets.shape)")
        let n = Float(Swift.max(logits.count, 1))
        var total: Double = 0
        for i in 0..<logits.count {
            let x = logits.data[i], y = targets.data[i]
            total += Double(Swift.max(x, 0) - x * y + Foundation.log1p(Foundation.exp(-Swift.abs(x))))
        }
        return Tensor(scalar: Float(total) / n).recorded([logits, targets]) { g in
            let scale = g.item / n
            let gx = broadcastMap(logits, targets) { x, y in (1 / (1 + Foundation.exp(-x)) - y) * scale }
            let gy = targets.requiresGrad ? logits * (-scale) : nil
            return [gx, gy]
        }
    }

    /// Mean squared error.
    public static func mseLoss(_ prediction: Tensor, _ target: Tensor) -> Tensor { (prediction - target).squared().mean() }

    /// Mean absolute error.
    public static func l1Loss(_ prediction: Tensor, _ target: Tensor) -> Tensor { (prediction - target).abs().mean() }
}

/// Regularization ops: dropout and gradient reversal.
extension Tensor {
    /// Inverted dropout: zeroes each element with probability `p` and scales the rest by 1/(1 − p).
    /// Identity when `p == 0`.
    public func dropout(_ p: Float, using rng: inout SeededRandom) -> Tensor {
        precondition(p >= 0 && p < 1, "dropout probability \(p) outside [0, 1)")
        if p == 0 { return self }
        let mask = Tensor(uninitializedShape: shape)
        let keep = 1 / (1 - p)
        for i in 0..<count { mask.data[i] = rng.nextFloat() < p ? 0 : keep }
        return self * mask
    }

    /// Gradient reversal (Ganin & Lempitsky, 2015): identity forward, −λ·g backward.
    /// Used for identity-adversarial training.
    public func gradientReversal(lambda: Float = 1) -> Tensor {
        detached().recorded([self]) { g in [g * -lambda] }
    }
}
