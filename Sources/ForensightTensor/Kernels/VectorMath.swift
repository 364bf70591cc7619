/// Vectorized pointwise kernels on raw Float buffers (16 lanes at a time), used by the forward passes of the hot ops.
///
/// exp uses the classic range reduction x = n·ln2 + r, |r| ≤ ln2/2, with a degree-6 polynomial (relative error
/// ≈ 1e-7); erf uses Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5e-7).
public typealias Float16x = SIMD16<Float>

@inline(__always) func load16(_ p: UnsafePointer<Float>) -> Float16x { UnsafeRawPointer(p).loadUnaligned(as: Float16x.self) }
@inline(__always) func store16(_ v: Float16x, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Float16x.self) }

// The vector helpers below are `@_transparent`, not `@inline(__always)`: the optimiser left calls to the latter in
// place (e^x was a call per 16 values inside softmax and GELU).

/// Lane-wise maximum and minimum (the standard library's generic `pointwiseMax` is not vectorized here).
@_transparent public func vmax(_ a: Float16x, _ b: Float16x) -> Float16x { a.replacing(with: b, where: a .< b) }
@_transparent public func vmin(_ a: Float16x, _ b: Float16x) -> Float16x { a.replacing(with: b, where: b .< a) }

/// |x| for 16 lanes (clears the sign bit).
@_transparent public func vabs(_ x: Float16x) -> Float16x {
    unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: Float16x.self)
}

/// e^x for 16 lanes.
@_transparent public func vexp(_ x: Float16x) -> Float16x {
    let c = vmin(vmax(x, Float16x(repeating: -87.3)), Float16x(repeating: 88.7))
    // Round to nearest by adding and subtracting 1.5·2²³ (pure arithmetic, no per-lane rounding calls).
    // The integer n sits in the low mantissa bits of t = x·log₂e + 1.5·2²³.
    let t = c * 1.442695040888963 + 12_582_912
    let n = t - 12_582_912
    let r = c - n * 0.693145751953125 - n * 1.428606765330187e-06
    var p = Float16x(repeating: 1.0 / 720)
    p = p * r + 1.0 / 120; p = p * r + 1.0 / 24; p = p * r + 1.0 / 6; p = p * r + 0.5; p = p * r + 1; p = p * r + 1
    let bits = (unsafeBitCast(t, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return p * unsafeBitCast(bits, to: Float16x.self)
}

/// erf(x) for 16 lanes.
@_transparent public func verf(_ x: Float16x) -> Float16x {
    let a = vabs(x)
    let t = 1 / (1 + 0.3275911 * a)
    var p = Float16x(repeating: 1.061405429)
    p = p * t - 1.453152027; p = p * t + 1.421413741; p = p * t - 0.284496736; p = p * t + 0.254829592
    let y = 1 - p * t * vexp(-a * a)
    return y.replacing(with: -y, where: x .< 0)
}

/// Pointwise functions with vector kernels.
public enum PointwiseKernel: Sendable {
    case relu, relu6, gelu, sigmoid, silu, tanh, exp, quickGelu

    @inline(__always) func apply(_ x: Float16x) -> Float16x {
        switch self {
        case .relu: return vmax(x, Float16x(repeating: 0))
        case .relu6: return vmin(vmax(x, Float16x(repeating: 0)), Float16x(repeating: 6))
        case .gelu: return 0.5 * x * (1 + verf(x * 0.70710678118654752))
        case .sigmoid: return 1 / (1 + vexp(-x))
        case .silu: return x / (1 + vexp(-x))
        case .quickGelu: return x / (1 + vexp(-1.702 * x))
        case .tanh: let e = vexp(-2 * vabs(x)); let t = (1 - e) / (1 + e); return t.replacing(with: -t, where: x .< 0)
        case .exp: return vexp(x)
        }
    }

    /// dst[i] = f(src[i]) for i < n (src and dst may be the same buffer).
    public func run(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i + 16 <= n { store16(apply(load16(src + i)), dst + i); i += 16 }
        if i < n {
            var tail = Float16x(repeating: 0)
            for j in 0..<(n - i) { tail[j] = src[i + j] }
            let out = apply(tail)
            for j in 0..<(n - i) { dst[i + j] = out[j] }
        }
    }

    /// A new tensor f(x), computed in parallel chunks.
    public func map(_ x: Tensor) -> Tensor {
        let out = Tensor(uninitializedShape: x.shape)
        let src = x.data, dst = out.data
        parallelChunks((x.count + 15) / 16, minimumPerThread: 2048) { r in
            let start = r.lowerBound * 16, end = Swift.min(x.count, r.upperBound * 16)
            self.run(src + start, dst + start, end - start)
        }
        return out
    }
}

/// Binary ops with vector kernels for equal shapes.
enum BinaryKernel {
    case add, subtract, multiply

    @inline(__always) func apply(_ a: Float16x, _ b: Float16x) -> Float16x {
        switch self { case .add: a + b; case .subtract: a - b; case .multiply: a * b }
    }

    func map(_ a: Tensor, _ b: Tensor) -> Tensor {
        let out = Tensor(uninitializedShape: a.shape)
        let pa = a.data, pb = b.data, po = out.data, n = a.count
        parallelChunks((n + 15) / 16, minimumPerThread: 4096) { r in
            var i = r.lowerBound * 16
            let end = Swift.min(n, r.upperBound * 16)
            while i + 16 <= end { store16(apply(load16(pa + i), load16(pb + i)), po + i); i += 16 }
            while i < end { po[i] = apply(Float16x(repeating: pa[i]), Float16x(repeating: pb[i]))[0]; i += 1 }
        }
        return out
    }
}

/// What to do to a convolution's output in the same pass: y = act(y·scale[c] + shift[c]) + residual.
/// With BatchNorm folded in (scale = γ/√(σ²+ε), shift = β − μ·scale), a conv → BN → ReLU6 (→ + skip) chain is one op.
public struct ChannelEpilogue {
    public var scale: [Float]?
    public var shift: [Float]?
    public var activation: PointwiseKernel?
    /// Per-channel PReLU slopes, applied after the affine map (instead of `activation`).
    public var preluSlopes: [Float]?
    public var residual: Tensor?

    public init(scale: [Float]? = nil, shift: [Float]? = nil, activation: PointwiseKernel? = nil, preluSlopes: [Float]? = nil,
                residual: Tensor? = nil) {
        (self.scale, self.shift, self.activation, self.preluSlopes, self.residual) = (scale, shift, activation, preluSlopes, residual)
    }

    /// The activation part of the epilogue on 16 values of channel `c`.
    @inline(__always)
    func activate(_ v: Float16x, channel c: Int) -> Float16x {
        if let preluSlopes {
            return vmax(v, Float16x(repeating: 0)) + preluSlopes[c] * vmin(v, Float16x(repeating: 0))
        }
        if let activation { return activation.apply(v) }
        return v
    }

    /// A copy of the activation part holding raw pointers, for inner loops (no reference counting per call).
    /// `storage` must outlive its use.
    func activationKernel() -> (ActivationKernel, Tensor?) {
        guard let preluSlopes else { return (ActivationKernel(slopes: nil, pointwise: activation), nil) }
        let t = Tensor(preluSlopes)
        return (ActivationKernel(slopes: UnsafePointer(t.data), pointwise: nil), t)
    }


    /// Applies the epilogue to `n` values of channel `c` at `p`; `residual` points at the matching skip values.
    @inline(__always)
    func apply(_ p: UnsafeMutablePointer<Float>, _ n: Int, channel c: Int, residual r: UnsafePointer<Float>?) {
        let s = Float16x(repeating: scale?[c] ?? 1), t = Float16x(repeating: shift?[c] ?? 0)
        var i = 0
        while i < n {
            let m = Swift.min(16, n - i)
            var v = Float16x(repeating: 0)
            if m == 16 { v = load16(p + i) } else { for j in 0..<m { v[j] = p[i + j] } }
            v = activate(v * s + t, channel: c)
            if let r {
                if m == 16 { v += load16(r + i) } else { for j in 0..<m { v[j] += r[i + j] } }
            }
            if m == 16 { store16(v, p + i) } else { for j in 0..<m { p[i + j] = v[j] } }
            i += 16
        }
    }

    /// Applies the epilogue to a whole [N, C, H, W] tensor in place.
    func apply(to out: Tensor) {
        let (n, c) = (out.shape[0], out.shape[1]), plane = out.count / Swift.max(n * c, 1)
        let base = out.data, res = residual?.data
        parallelChunks(n * c, minimumPerThread: Swift.max(1, 4096 / Swift.max(plane, 1))) { r in
            for i in r { self.apply(base + i * plane, plane, channel: i % c, residual: res.map { UnsafePointer($0 + i * plane) }) }
        }
    }
}

/// The activation of a `ChannelEpilogue` in a form cheap to call per 16 values.
struct ActivationKernel {
    let slopes: UnsafePointer<Float>?
    let pointwise: PointwiseKernel?
    /// Whether the activation is a clamp to [low, high] (none, ReLU, ReLU6): two vector instructions, applied
    /// before any call into the general path. Plain fields, not an optional tuple: rebuilding that optional from its
    /// parts on the stack for every stored vector cost a store-forwarding stall each time (a quarter of the
    /// pointwise kernel's time).
    let isClamp: Bool
    let low: Float, high: Float

    init(slopes: UnsafePointer<Float>?, pointwise: PointwiseKernel?) {
        (self.slopes, self.pointwise) = (slopes, pointwise)
        switch (slopes, pointwise) {
        case (nil, nil): (isClamp, low, high) = (true, -.infinity, .infinity)
        case (nil, .relu?): (isClamp, low, high) = (true, 0, .infinity)
        case (nil, .relu6?): (isClamp, low, high) = (true, 0, 6)
        default: (isClamp, low, high) = (false, 0, 0)
        }
    }

    /// The kernel of `epilogue`'s activation (identity without one), and the storage its pointers need kept alive.
    static func of(_ epilogue: ChannelEpilogue?) -> (ActivationKernel, Tensor?) {
        epilogue?.activationKernel() ?? (ActivationKernel(slopes: nil, pointwise: nil), nil)
    }

    /// The clamp is inlined into the caller's loop; every other activation is one call out of it. `@_transparent`
    /// because `@inline(__always)` was not honoured here: the clamp was emitted out of line, a call per stored
    /// vector (its 16 lanes passed in four registers) that cost about 12 % of an EfficientNet-Lite0 forward pass.
    @_transparent func apply(_ v: Float16x, channel c: Int) -> Float16x {
        if isClamp { return vmin(vmax(v, Float16x(repeating: low)), Float16x(repeating: high)) }
        return applyGeneral(v, channel: c)
    }

    @inline(never) func applyGeneral(_ v: Float16x, channel c: Int) -> Float16x {
        if let slopes { return vmax(v, Float16x(repeating: 0)) + slopes[c] * vmin(v, Float16x(repeating: 0)) }
        if let pointwise { return pointwise.apply(v) }
        return v
    }
}
