/// Fused batch and layer normalization with their analytic backward passes.
extension Tensor {
    /// Batch normalization over axis 1 of [N, C, ...]: y = γ (x − μ) / √(σ² + ε) + β.
    ///
    /// With `runningMean`/`runningVar` nil, μ and σ² are the batch statistics (biased variance, as PyTorch in
    /// training); otherwise they are the given running statistics (evaluation). `weight` γ and `bias` β are [C] or nil.
    /// Returns the output and, for batch statistics, the per-channel mean and unbiased variance (for running averages).
    public static func batchNorm(_ x: Tensor, runningMean: Tensor?, runningVar: Tensor?, weight: Tensor?, bias: Tensor?,
                                 eps: Float) -> (output: Tensor, batchMean: [Float]?, batchVar: [Float]?) {
        precondition(x.rank >= 2, "batchNorm on \(x.shape)")
        let (n, c) = (x.shape[0], x.shape[1]), plane = x.count / Swift.max(n * c, 1), m = n * plane
        let useBatch = runningMean == nil
        var mean = [Float](repeating: 0, count: c), invStd = [Float](repeating: 0, count: c)
        var unbiased: [Float]? = nil
        if useBatch {
            precondition(m > 1 || c == 0, "batchNorm with batch statistics needs more than one value per channel, got \(x.shape)")
            unbiased = [Float](repeating: 0, count: c)
            for ch in 0..<c {
                var s: Double = 0, ss: Double = 0
                for i in 0..<n { let p = x.data + (i * c + ch) * plane; for j in 0..<plane { s += Double(p[j]) } }
                let mu = s / Double(m)
                for i in 0..<n { let p = x.data + (i * c + ch) * plane; for j in 0..<plane { let d = Double(p[j]) - mu; ss += d * d } }
                mean[ch] = Float(mu)
                invStd[ch] = Float(1 / (ss / Double(m) + Double(eps)).squareRoot())
                unbiased![ch] = Float(ss / Double(Swift.max(m - 1, 1)))
            }
        } else {
            precondition(runningMean!.count == c && runningVar!.count == c, "batchNorm running stats for \(c) channels")
            for ch in 0..<c { mean[ch] = runningMean!.data[ch]; invStd[ch] = 1 / (runningVar!.data[ch] + eps).squareRoot() }
        }
        var scale = invStd, shift = [Float](repeating: 0, count: c)
        for ch in 0..<c {
            if let weight { scale[ch] *= weight.data[ch] }
            shift[ch] = (bias?.data[ch] ?? 0) - mean[ch] * scale[ch]
        }
        let out = Tensor(uninitializedShape: x.shape)
        let src = x.data, dst = out.data
        parallelChunks(n * c, minimumPerThread: Swift.max(1, 8192 / Swift.max(plane, 1))) { r in
            for idx in r {
                let ch = idx % c, a = scale[ch], b = shift[ch]
                let s = src + idx * plane, d = dst + idx * plane
                for j in 0..<plane { d[j] = s[j] * a + b }
            }
        }
        let inputs = [x] + [weight, bias].compactMap { $0 }
        out.recorded(inputs) { g in
            var gx: Tensor? = nil
            var sumG = [Float](repeating: 0, count: c), sumGX = [Float](repeating: 0, count: c)
            for ch in 0..<c {
                var sg: Float = 0, sgx: Float = 0
                for i in 0..<n {
                    let gp = g.data + (i * c + ch) * plane, xp = x.data + (i * c + ch) * plane
                    for j in 0..<plane { sg += gp[j]; sgx += gp[j] * (xp[j] - mean[ch]) * invStd[ch] }
                }
                sumG[ch] = sg; sumGX[ch] = sgx
            }
            if x.requiresGrad {
                let t = Tensor(uninitializedShape: x.shape)
                for idx in 0..<(n * c) {
                    let ch = idx % c, gamma = weight?.data[ch] ?? 1, k = gamma * invStd[ch]
                    let gp = g.data + idx * plane, xp = x.data + idx * plane, d = t.data + idx * plane
                    if useBatch {
                        let invM = 1 / Float(m)
                        for j in 0..<plane {
                            let xhat = (xp[j] - mean[ch]) * invStd[ch]
                            d[j] = k * (gp[j] - sumG[ch] * invM - xhat * sumGX[ch] * invM)
                        }
                    } else {
                        for j in 0..<plane { d[j] = k * gp[j] }
                    }
                }
                gx = t
            }
            var grads: [Tensor?] = [gx]
            if weight != nil { grads.append(Tensor(sumGX, shape: [c])) }
            if bias != nil { grads.append(Tensor(sumG, shape: [c])) }
            return grads
        }
        return (out, useBatch ? mean : nil, unbiased)
    }

    /// Layer normalization over the last axis: y = γ (x − μ) / √(σ² + ε) + β with biased σ² (PyTorch `F.layer_norm`).
    ///
    /// `x`: [..., D]; `weight` γ and `bias` β: [D] or nil.
    public static func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float) -> Tensor {
        let d = x.shape.last ?? 1, rows = x.count / Swift.max(d, 1)
        if let weight { precondition(weight.shape == [d], "layerNorm weight \(weight.shape) for \(d) features") }
        let out = Tensor(uninitializedShape: x.shape)
        let xhat = Tensor(uninitializedShape: x.shape)
        var invStd = [Float](repeating: 0, count: rows)
        let src = x.data, dst = out.data, xh = xhat.data, gw = weight?.data, gb = bias?.data
        invStd.withUnsafeMutableBufferPointer { istd in
            let istd = istd.baseAddress!
            parallelChunks(rows, minimumPerThread: Swift.max(1, 4096 / Swift.max(d, 1))) { r in
                for row in r {
                    let s = src + row * d, o = dst + row * d, h = xh + row * d
                    var sum: Float = 0
                    for j in 0..<d { sum += s[j] }
                    let mu = sum / Float(d)
                    var ss: Float = 0
                    for j in 0..<d { let v = s[j] - mu; ss += v * v }
                    let inv = 1 / (ss / Float(d) + eps).squareRoot()
                    istd[row] = inv
                    for j in 0..<d { h[j] = (s[j] - mu) * inv }
                    if let gw, let gb { for j in 0..<d { o[j] = h[j] * gw[j] + gb[j] } }
                    else if let gw { for j in 0..<d { o[j] = h[j] * gw[j] } }
                    else { for j in 0..<d { o[j] = h[j] + (gb?[j] ?? 0) } }
                }
            }
        }
        let inputs = [x] + [weight, bias].compactMap { $0 }
        return out.recorded(inputs) { g in
            var grads: [Tensor?] = []
            let gx = Tensor(uninitializedShape: x.shape)
            for row in 0..<rows {
                let gp = g.data + row * d, h = xhat.data + row * d, o = gx.data + row * d
                var sumDy: Float = 0, sumDyX: Float = 0
                for j in 0..<d { let dy = gp[j] * (weight?.data[j] ?? 1); sumDy += dy; sumDyX += dy * h[j] }
                let inv = invStd[row], invD = 1 / Float(d)
                for j in 0..<d { let dy = gp[j] * (weight?.data[j] ?? 1); o[j] = inv * (dy - invD * sumDy - h[j] * invD * sumDyX) }
            }
            grads.append(gx)
            if weight != nil { grads.append((g * xhat).reshaped([rows, d]).sum(axes: [0])) }
            if bias != nil { grads.append(g.reshaped([rows, d]).sum(axes: [0])) }
            return grads
        }
    }
}
