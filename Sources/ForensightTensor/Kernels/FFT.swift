// FFT.swift — mixed-radix complex FFT (Stockham autosort, decimation in frequency).
//
// A length n = r₁·r₂·…·r_k is transformed in k passes. Pass j splits each of the `stride`
// interleaved sub-transforms of length L = n/stride into `radix` butterflies of span m = L/radix:
//   y[q + stride·(radix·p + u)] = w_L^{p·u} · Σ_t x[q + stride·(p + t·m)] · w_radix^{t·u}
// which leaves radix·stride interleaved sub-transforms of length m, already in natural order
// (no bit reversal). Work is done in Double on a per-call scratch buffer; the inverse is computed
// as conj(FFT(conj(x))).

import Foundation

/// Direction of a discrete Fourier transform.
public enum FFTDirection: Sendable { case forward, inverse }

/// A reusable plan for complex 1-D DFTs of length n (any n ≥ 1; radices 2, 3, 4, 5, 7 fast, other prime factors by a direct DFT of that factor).
public final class FFTPlan: @unchecked Sendable {
    /// Transform length.
    public let n: Int

    /// One Stockham pass; `span` = m and `stride` = s in the file header.
    fileprivate struct Pass {
        let radix: Int, span: Int, stride: Int
        /// Offset in `twiddles` of w_L^{p·u} for p in 0..<span, u in 1..<radix (row-major in p).
        let twiddleOffset: Int
        /// Offset in `twiddles` of w_radix^k, k in 0..<radix (direct-DFT radices only).
        let rootsOffset: Int
    }

    private let passes: [Pass]
    private let twiddles: [Complex]

    /// Builds the pass schedule and twiddle tables for length `n` (n ≥ 1).
    public init(n: Int) {
        precondition(n >= 1, "FFT length must be at least 1")
        self.n = n
        var radices: [Int] = []
        var rest = n
        while rest % 4 == 0 { radices.append(4); rest /= 4 }
        for p in [2, 3, 5, 7] { while rest % p == 0 { radices.append(p); rest /= p } }
        var f = 11
        while f * f <= rest {
            while rest % f == 0 { radices.append(f); rest /= f }
            f += 2
        }
        if rest > 1 { radices.append(rest) }

        var table: [Complex] = []
        var passes: [Pass] = []
        var stride = 1
        for radix in radices {
            let length = n / stride, span = length / radix
            let twiddleOffset = table.count
            for p in 0..<span {
                for u in 1..<radix { table.append(.unitRoot(p * u, of: length)) }
            }
            let rootsOffset = table.count
            if radix > 7 { for k in 0..<radix { table.append(.unitRoot(k, of: radix)) } }
            passes.append(Pass(radix: radix, span: span, stride: stride,
                               twiddleOffset: twiddleOffset, rootsOffset: rootsOffset))
            stride *= radix
        }
        self.passes = passes
        self.twiddles = table
    }

    /// Cached plan per length (thread-safe).
    public static func shared(_ n: Int) -> FFTPlan { planCache.plan(n) }

    /// In-place transform of `n` complex values at re[k*stride], im[k*stride]. forward: X_k = Σ x_j e^{-2πi jk/n}; inverse: unnormalized, sign +.
    public func transform(re: UnsafeMutablePointer<Float>, im: UnsafeMutablePointer<Float>, stride: Int, direction: FFTDirection) {
        guard n > 1 else { return }
        let scratch = UnsafeMutablePointer<Complex>.allocate(capacity: 2 * n)
        defer { scratch.deallocate() }
        run(re: re, im: im, stride: stride, inverse: direction == .inverse, scratch: scratch)
    }

    /// The transform proper; `scratch` must hold 2·n values and belong to the caller's thread.
    fileprivate func run(re: UnsafeMutablePointer<Float>, im: UnsafeMutablePointer<Float>, stride: Int,
                         inverse: Bool, scratch: UnsafeMutablePointer<Complex>) {
        guard n > 1 else { return }
        let sign: Double = inverse ? -1 : 1
        var x = scratch, y = scratch + n
        for k in 0..<n { x[k] = Complex(re: Double(re[k * stride]), im: sign * Double(im[k * stride])) }
        twiddles.withUnsafeBufferPointer { table in
            let base = table.baseAddress!
            for pass in passes {
                let w = base + pass.twiddleOffset
                switch pass.radix {
                case 2: radix2(x, y, pass, w)
                case 3: radix3(x, y, pass, w)
                case 4: radix4(x, y, pass, w)
                case 5: radix5(x, y, pass, w)
                case 7: radix7(x, y, pass, w)
                default: radixPrime(x, y, pass, w, base + pass.rootsOffset)
                }
                swap(&x, &y)
            }
        }
        for k in 0..<n {
            re[k * stride] = Float(x[k].re)
            im[k * stride] = Float(sign * x[k].im)
        }
    }
}

/// Thread-safe cache behind `FFTPlan.shared`.
private final class PlanCache: @unchecked Sendable {
    private let lock = NSLock()
    private var plans: [Int: FFTPlan] = [:]

    func plan(_ n: Int) -> FFTPlan {
        lock.withLock {
            if let plan = plans[n] { return plan }
            let plan = FFTPlan(n: n)
            plans[n] = plan
            return plan
        }
    }
}

private let planCache = PlanCache()

/// Double-precision complex number used inside the passes.
private struct Complex {
    var re: Double, im: Double

    /// e^{-2πi k/n}, with k reduced mod n so the angle stays small.
    static func unitRoot(_ k: Int, of n: Int) -> Complex {
        let angle = -2 * Double.pi * Double(k % n) / Double(n)
        return Complex(re: cos(angle), im: sin(angle))
    }

    @inline(__always) static func + (a: Complex, b: Complex) -> Complex { Complex(re: a.re + b.re, im: a.im + b.im) }
    @inline(__always) static func - (a: Complex, b: Complex) -> Complex { Complex(re: a.re - b.re, im: a.im - b.im) }
    @inline(__always) static func * (a: Complex, b: Complex) -> Complex {
        Complex(re: a.re * b.re - a.im * b.im, im: a.re * b.im + a.im * b.re)
    }
    @inline(__always) static func * (s: Double, a: Complex) -> Complex { Complex(re: s * a.re, im: s * a.im) }
    /// The product −i·self.
    @inline(__always) var timesMinusI: Complex { Complex(re: im, im: -re) }
}

// MARK: - Butterfly passes
// Each reads x[i + t·h] (i = q + s·p, h = s·m) and writes y[o + u·s] (o = q + radix·s·p).
// Odd radices use the symmetric form X_u, X_{r−u} = R_u ± (−i)·I_u with R_u = a₀ + Σ cos·(a_k + a_{r−k})
// and I_u = Σ sin·(a_k − a_{r−k}).

private typealias Pass = FFTPlan.Pass

private func radix2(_ x: UnsafePointer<Complex>, _ y: UnsafeMutablePointer<Complex>, _ pass: Pass, _ w: UnsafePointer<Complex>) {
    let s = pass.stride, m = pass.span, h = s * m
    for p in 0..<m {
        let w1 = w[p]
        for q in 0..<s {
            let i = q + s * p, o = q + 2 * s * p
            let a0 = x[i], a1 = x[i + h]
            y[o] = a0 + a1
            y[o + s] = (a0 - a1) * w1
        }
    }
}

private func radix3(_ x: UnsafePointer<Complex>, _ y: UnsafeMutablePointer<Complex>, _ pass: Pass, _ w: UnsafePointer<Complex>) {
    let s = pass.stride, m = pass.span, h = s * m
    let sin1 = sin(2 * Double.pi / 3)
    for p in 0..<m {
        let w1 = w[2 * p], w2 = w[2 * p + 1]
        for q in 0..<s {
            let i = q + s * p, o = q + 3 * s * p
            let a0 = x[i], a1 = x[i + h], a2 = x[i + 2 * h]
            let t = a1 + a2, d = (a1 - a2).timesMinusI
            let r1 = a0 - 0.5 * t, i1 = sin1 * d
            y[o] = a0 + t
            y[o + s] = (r1 + i1) * w1
            y[o + 2 * s] = (r1 - i1) * w2
        }
    }
}

private func radix4(_ x: UnsafePointer<Complex>, _ y: UnsafeMutablePointer<Complex>, _ pass: Pass, _ w: UnsafePointer<Complex>) {
    let s = pass.stride, m = pass.span, h = s * m
    for p in 0..<m {
        let w1 = w[3 * p], w2 = w[3 * p + 1], w3 = w[3 * p + 2]
        for q in 0..<s {
            let i = q + s * p, o = q + 4 * s * p
            let a0 = x[i], a1 = x[i + h], a2 = x[i + 2 * h], a3 = x[i + 3 * h]
            let t0 = a0 + a2, t1 = a0 - a2, t2 = a1 + a3, t3 = (a1 - a3).timesMinusI
            y[o] = t0 + t2
            y[o + s] = (t1 + t3) * w1
            y[o + 2 * s] = (t0 - t2) * w2
            y[o + 3 * s] = (t1 - t3) * w3
        }
    }
}

private func radix5(_ x: UnsafePointer<Complex>, _ y: UnsafeMutablePointer<Complex>, _ pass: Pass, _ w: UnsafePointer<Complex>) {
    let s = pass.stride, m = pass.span, h = s * m
    let c1 = cos(2 * Double.pi / 5), c2 = cos(4 * Double.pi / 5)
    let s1 = sin(2 * Double.pi / 5), s2 = sin(4 * Double.pi / 5)
    for p in 0..<m {
        let w1 = w[4 * p], w2 = w[4 * p + 1], w3 = w[4 * p + 2], w4 = w[4 * p + 3]
        for q in 0..<s {
            let i = q + s * p, o = q + 5 * s * p
            let a0 = x[i], a1 = x[i + h], a2 = x[i + 2 * h], a3 = x[i + 3 * h], a4 = x[i + 4 * h]
            let t1 = a1 + a4, t2 = a2 + a3
            let d1 = (a1 - a4).timesMinusI, d2 = (a2 - a3).timesMinusI
            let r1: Complex = a0 + c1 * t1 + c2 * t2, i1: Complex = s1 * d1 + s2 * d2
            let r2: Complex = a0 + c2 * t1 + c1 * t2, i2: Complex = s2 * d1 - s1 * d2
            y[o] = a0 + t1 + t2
            y[o + s] = (r1 + i1) * w1
            y[o + 2 * s] = (r2 + i2) * w2
            y[o + 3 * s] = (r2 - i2) * w3
            y[o + 4 * s] = (r1 - i1) * w4
        }
    }
}

private func radix7(_ x: UnsafePointer<Complex>, _ y: UnsafeMutablePointer<Complex>, _ pass: Pass, _ w: UnsafePointer<Complex>) {
    let s = pass.stride, m = pass.span, h = s * m
    let c1 = cos(2 * Double.pi / 7), c2 = cos(4 * Double.pi / 7), c3 = cos(6 * Double.pi / 7)
    let s1 = sin(2 * Double.pi / 7), s2 = sin(4 * Double.pi / 7), s3 = sin(6 * Double.pi / 7)
    for p in 0..<m {
        let wp = w + 6 * p
        let w1 = wp[0], w2 = wp[1], w3 = wp[2], w4 = wp[3], w5 = wp[4], w6 = wp[5]
        for q in 0..<s {
            let i = q + s * p, o = q + 7 * s * p
            let a0 = x[i], a1 = x[i + h], a2 = x[i + 2 * h], a3 = x[i + 3 * h]
            let a4 = x[i + 4 * h], a5 = x[i + 5 * h], a6 = x[i + 6 * h]
            let t1 = a1 + a6, t2 = a2 + a5, t3 = a3 + a4
            let d1 = (a1 - a6).timesMinusI, d2 = (a2 - a5).timesMinusI, d3 = (a3 - a4).timesMinusI
            let r1: Complex = a0 + c1 * t1 + c2 * t2 + c3 * t3, i1: Complex = s1 * d1 + s2 * d2 + s3 * d3
            let r2: Complex = a0 + c2 * t1 + c3 * t2 + c1 * t3, i2: Complex = s2 * d1 - s3 * d2 - s1 * d3
            let r3: Complex = a0 + c3 * t1 + c1 * t2 + c2 * t3, i3: Complex = s3 * d1 - s1 * d2 + s2 * d3
            y[o] = a0 + t1 + t2 + t3
            y[o + s] = (r1 + i1) * w1
            y[o + 2 * s] = (r2 + i2) * w2
            y[o + 3 * s] = (r3 + i3) * w3
            y[o + 4 * s] = (r3 - i3) * w4
            y[o + 5 * s] = (r2 - i2) * w5
            y[o + 6 * s] = (r1 - i1) * w6
        }
    }
}

/// Any other (prime) radix: a direct O(radix²) DFT per butterfly using the radix's roots of unity.
private func radixPrime(_ x: UnsafePointer<Complex>, _ y: UnsafeMutablePointer<Complex>, _ pass: Pass,
                        _ w: UnsafePointer<Complex>, _ roots: UnsafePointer<Complex>) {
    let r = pass.radix, s = pass.stride, m = pass.span, h = s * m
    for p in 0..<m {
        for q in 0..<s {
            let i = q + s * p, o = q + r * s * p
            for u in 0..<r {
                var sum = Complex(re: 0, im: 0)
                var k = 0  // (t·u) mod r
                for t in 0..<r {
                    sum = sum + x[i + t * h] * roots[k]
                    k += u
                    if k >= r { k -= r }
                }
                y[o + u * s] = u == 0 ? sum : sum * w[(r - 1) * p + u - 1]
            }
        }
    }
}

// MARK: - 2-D transform

/// 2-D DFT over the last two axes of `batch` contiguous planes of h×w complex values (split re/im arrays, row-major). Unnormalized both ways (like numpy with norm="backward" for forward; for inverse this function does NOT divide by h*w — the caller scales).
public func fft2D(re: UnsafeMutablePointer<Float>, im: UnsafeMutablePointer<Float>, batch: Int, height: Int, width: Int, direction: FFTDirection) {
    guard batch > 0, height > 0, width > 0 else { return }
    let rowPlan = FFTPlan.shared(width), columnPlan = FFTPlan.shared(height)
    let inverse = direction == .inverse
    let plane = height * width
    let parallel = batch * plane >= 65_536
    let data = SplitComplex(re: re, im: im)
    // Rows: batch·height contiguous lines of `width` values.
    forEachLine(count: batch * height, length: width, parallel: parallel) { line, scratch in
        let start = line * width
        rowPlan.run(re: data.re + start, im: data.im + start, stride: 1, inverse: inverse, scratch: scratch)
    }
    // Columns: batch·width lines of `height` values at stride `width`.
    forEachLine(count: batch * width, length: height, parallel: parallel) { line, scratch in
        let start = (line / width) * plane + line % width
        columnPlan.run(re: data.re + start, im: data.im + start, stride: width, inverse: inverse, scratch: scratch)
    }
}

/// The caller's split-complex planes, shared by the workers; each worker touches disjoint lines.
private struct SplitComplex: @unchecked Sendable { let re, im: UnsafeMutablePointer<Float> }

/// Calls `body(line, scratch)` for every line in 0..<count, split into contiguous chunks run
/// concurrently when `parallel`; each chunk owns a scratch buffer of 2·length values.
private func forEachLine(count: Int, length: Int, parallel: Bool,
                         _ body: @Sendable (Int, UnsafeMutablePointer<Complex>) -> Void) {
    let chunks = parallel ? min(count, 4 * ProcessInfo.processInfo.activeProcessorCount) : 1
    @Sendable func runChunk(_ chunk: Int) {
        let scratch = UnsafeMutablePointer<Complex>.allocate(capacity: 2 * length)
        defer { scratch.deallocate() }
        for line in (chunk * count / chunks)..<((chunk + 1) * count / chunks) { body(line, scratch) }
    }
    if chunks == 1 { runChunk(0) } else { DispatchQueue.concurrentPerform(iterations: chunks, execute: runChunk) }
}
