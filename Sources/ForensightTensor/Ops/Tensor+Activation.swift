import Foundation

/// g where low < x < high, else 0: the backward pass of clamping x to [low, high] (ReLU, ReLU6). Same shapes;
/// a plain loop without a closure, so it compiles to vector selects.
func passGradient(_ g: Tensor, where x: Tensor, above low: Float, below high: Float) -> Tensor {
    precondition(g.shape == x.shape, "gradient \(g.shape) does not match input \(x.shape)")
    let out = Tensor(uninitializedShape: g.shape)
    let pg = g.data, px = x.data, po = out.data
    parallelChunks(out.count, minimumPerThread: 1 << 16) { r in
        for i in r { let v = px[i]; po[i] = v > low && v < high ? pg[i] : 0 }
    }
    return out
}

/// Pointwise activations and (log-)softmax.
extension Tensor {
    /// Swift.max(x, 0).
    public func relu() -> Tensor {
        PointwiseKernel.relu.map(self).recorded([self]) { g in [passGradient(g, where: self, above: 0, below: .infinity)] }
    }

    /// Swift.min(Swift.max(x, 0), 6) (MobileNet / EfficientNet-Lite).
    public func relu6() -> Tensor {
        PointwiseKernel.relu6.map(self).recorded([self]) { g in [passGradient(g, where: self, above: 0, below: 6)] }
    }

    /// Parametric ReLU: x if x > 0 else a·x, with `weight` of one value per channel (axis 1) or a single value.
    public func prelu(_ weight: Tensor) -> Tensor {
        let w = weight.count == 1 || rank < 2 ? weight.reshaped([1]) : weight.reshaped([weight.count] + Array(repeating: 1, count: rank - 2))
        let out: Tensor
        if rank >= 2 && weight.count == shape[1] {
            // One slope per plane: a branch-free loop per (sample, channel).
            out = Tensor(uninitializedShape: shape)
            let (n, c) = (shape[0], shape[1]), plane = count / Swift.max(n * c, 1)
            let src = data, dst = out.data, slopes = weight.data
            parallelChunks(n * c, minimumPerThread: Swift.max(1, 16384 / Swift.max(plane, 1))) { r in
                for idx in r {
                    let a = slopes[idx % c], s = src + idx * plane, d = dst + idx * plane
                    for j in 0..<plane { let v = s[j]; d[j] = Swift.max(v, 0) + a * Swift.min(v, 0) }
                }
            }
        } else {
            out = broadcastMap(self, w) { $0 > 0 ? $0 : $0 * $1 }
        }
        return out.recorded([self, weight]) { g in
            let gx = g * broadcastMap(self, w) { $0 > 0 ? 1 : $1 }
            let gw = (g * elementwiseMap(self) { $0 > 0 ? 0 : $0 }).sum(to: w.shape).reshaped(weight.shape)
            return [gx, gw]
        }
    }

    /// Gaussian error linear unit, exact: x · Φ(x) = x/2 · (1 + erf(x/√2)).
    public func gelu() -> Tensor {
        let out = PointwiseKernel.gelu.map(self)
        return out.recorded([self]) { g in
            [broadcastMap(g, self) { gy, x in
                let cdf = 0.5 * (1 + erff(x * 0.70710678118654752))
                let pdf = Foundation.exp(-0.5 * x * x) * 0.39894228040143268
                return gy * (cdf + x * pdf)
            }]
        }
    }

    /// x · σ(1.702 x) (OpenAI CLIP's QuickGELU).
    public func quickGelu() -> Tensor {
        PointwiseKernel.quickGelu.map(self).recorded([self]) { g in
            [broadcastMap(g, self) { gy, x in
                let s = 1 / (1 + Foundation.exp(-1.702 * x))
                return gy * (s + 1.702 * x * s * (1 - s))
            }]
        }
    }

    /// x · σ(x) (Swish).
    public func silu() -> Tensor {
        PointwiseKernel.silu.map(self).recorded([self]) { g in
            [broadcastMap(g, self) { gy, x in let s = 1 / (1 + Foundation.exp(-x)); return gy * (s + x * s * (1 - s)) }]
        }
    }

    // A backward closure that needs the op's own output captures it `unowned`: the closure lives in that output's
    // `gradNode`, so a strong capture would be a cycle that keeps the output and the whole graph behind it alive
    // after the step (it only runs while backward holds the output). `AutogradMemoryTests` checks the graph is freed.

    /// Logistic σ(x) = 1 / (1 + e^{−x}).
    public func sigmoid() -> Tensor {
        let out = PointwiseKernel.sigmoid.map(self)
        return out.recorded([self]) { [unowned out] g in [broadcastMap(g, out) { $0 * $1 * (1 - $1) }] }
    }

    /// Hyperbolic tangent.
    public func tanh() -> Tensor {
        let out = PointwiseKernel.tanh.map(self)
        return out.recorded([self]) { [unowned out] g in [broadcastMap(g, out) { $0 * (1 - $1 * $1) }] }
    }

    /// Softmax along `axis`: e^{x_i − max} / Σ_j e^{x_j − max}.
    public func softmax(axis: Int = -1) -> Tensor {
        let ax = self.axis(axis)
        let out = softmaxKernel(axis: ax, log: false)
        return out.recorded([self]) { [unowned out] g in
            // dx = y ⊙ (g − Σ g⊙y)
            let dot = (g * out).sum(axes: [ax], keepDims: true)
            return [out * (g - dot)]
        }
    }

    /// log-softmax along `axis`: x_i − max − log Σ_j e^{x_j − max}.
    public func logSoftmax(axis: Int = -1) -> Tensor {
        let ax = self.axis(axis)
        let out = softmaxKernel(axis: ax, log: true)
        return out.recorded([self]) { [unowned out] g in
            // dx = g − softmax ⊙ Σ g
            [g - out.exp() * g.sum(axes: [ax], keepDims: true)]
        }
    }

    /// Numerically stable (log-)softmax over one axis, viewed as [outer, n, inner].
    func softmaxKernel(axis ax: Int, log: Bool) -> Tensor {
        let outer = shape[..<ax].reduce(1, *), n = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        let out = Tensor(uninitializedShape: shape)
        let src = data, dst = out.data
        parallelChunks(outer * inner, minimumPerThread: Swift.max(1, 8192 / Swift.max(n, 1))) { range in
            for idx in range {
                let o = idx / inner, j = idx % inner
                let s = src + o * n * inner + j, d = dst + o * n * inner + j
                softmaxRow(s, d, n: n, stride: inner, log: log)
            }
        }
        return out
    }
}

/// Softmax of `n` values read at `src[k·stride]` into `dst[k·stride]` (may alias), of `scale·src`.
@inline(__always)
public func softmaxRow(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, n: Int, stride: Int, log: Bool, scale: Float = 1) {
    if stride == 1 && !log && scale > 0 {
        // Vector path: the maximum in 16 lanes, e^{x·scale − m} in 16 lanes (the tail as one partial vector) summed
        // in 16 lanes, then one normalising pass.
        var k = 0, vmaximum = Float16x(repeating: -.infinity)
        while k + 16 <= n { vmaximum = vmax(vmaximum, load16(src + k)); k += 16 }
        var m = vmaximum.max()
        while k < n { m = Swift.max(m, src[k]); k += 1 }
        m = m == -.infinity ? 0 : m * scale
        let vs = Float16x(repeating: scale), vm = Float16x(repeating: m)
        var vsum = Float16x(repeating: 0)
        k = 0
        while k + 16 <= n { let e = vexp(load16(src + k) * vs - vm); store16(e, dst + k); vsum += e; k += 16 }
        var sum = vsum.sum()
        if k < n {
            var tail = Float16x(repeating: 0)
            for j in 0..<(n - k) { tail[j] = src[k + j] }
            let e = vexp(tail * vs - vm)
            for j in 0..<(n - k) { dst[k + j] = e[j]; sum += e[j] }
        }
        let inv = 1 / sum
        k = 0
        while k + 16 <= n { store16(load16(dst + k) * inv, dst + k); k += 16 }
        while k < n { dst[k] *= inv; k += 1 }
        return
    }
    var m = -Float.infinity
    for k in 0..<n { m = Swift.max(m, src[k * stride] * scale) }
    if m == -.infinity { m = 0 }
    var sum: Float = 0
    if log {
        for k in 0..<n { sum += Foundation.exp(src[k * stride] * scale - m) }
        let lse = m + Foundation.log(sum)
        for k in 0..<n { dst[k * stride] = src[k * stride] * scale - lse }
    } else {
        for k in 0..<n { let e = Foundation.exp(src[k * stride] * scale - m); dst[k * stride] = e; sum += e }
        let inv = 1 / sum
        for k in 0..<n { dst[k * stride] *= inv }
    }
}
