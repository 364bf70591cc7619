import Foundation

/// Broadcasting arithmetic. Each op's backward sits beside its forward; broadcast gradients are summed back.
extension Tensor {
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        (a.shape == b.shape ? BinaryKernel.add.map(a, b) : broadcastMap(a, b, +)).recorded([a, b]) { g in [g.sum(to: a.shape), g.sum(to: b.shape)] }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        (a.shape == b.shape ? BinaryKernel.subtract.map(a, b) : broadcastMap(a, b, -)).recorded([a, b]) { g in [g.sum(to: a.shape), (-g).sum(to: b.shape)] }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        (a.shape == b.shape ? BinaryKernel.multiply.map(a, b) : broadcastMap(a, b, *)).recorded([a, b]) { g in
            [a.requiresGrad ? (g * b).sum(to: a.shape) : nil, b.requiresGrad ? (g * a).sum(to: b.shape) : nil]
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        broadcastMap(a, b, /).recorded([a, b]) { g in
            [a.requiresGrad ? (g / b).sum(to: a.shape) : nil,
             b.requiresGrad ? (-(g * a) / (b * b)).sum(to: b.shape) : nil]
        }
    }

    public static prefix func - (x: Tensor) -> Tensor {
        elementwiseMap(x) { -$0 }.recorded([x]) { g in [-g] }
    }

    public static func + (a: Tensor, s: Float) -> Tensor { elementwiseMap(a) { $0 + s }.recorded([a]) { g in [g] } }
    public static func - (a: Tensor, s: Float) -> Tensor { a + (-s) }
    public static func + (s: Float, a: Tensor) -> Tensor { a + s }
    public static func - (s: Float, a: Tensor) -> Tensor { -a + s }
    public static func * (a: Tensor, s: Float) -> Tensor { elementwiseMap(a) { $0 * s }.recorded([a]) { g in [g * s] } }
    public static func * (s: Float, a: Tensor) -> Tensor { a * s }
    public static func / (a: Tensor, s: Float) -> Tensor { a * (1 / s) }
    public static func / (s: Float, a: Tensor) -> Tensor {
        elementwiseMap(a) { s / $0 }.recorded([a]) { g in [g * elementwiseMap(a) { -s / ($0 * $0) }] }
    }

    /// x·scale + shift in one pass (e.g. pixel normalisation).
    public func affine(scale: Float, shift: Float) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        let src = data, dst = out.data, n = count
        let (a, b) = (Float16x(repeating: scale), Float16x(repeating: shift))
        parallelChunks((n + 15) / 16, minimumPerThread: 4096) { r in
            var i = r.lowerBound * 16
            let end = Swift.min(n, r.upperBound * 16)
            while i + 16 <= end { store16(load16(src + i) * a + b, dst + i); i += 16 }
            while i < end { dst[i] = src[i] * scale + shift; i += 1 }
        }
        return out.recorded([self]) { g in [g * scale] }
    }

    /// e^x.
    public func exp() -> Tensor {
        let out = PointwiseKernel.exp.map(self)
        return out.recorded([self]) { [unowned out] g in [g * out] }  // unowned: no cycle through out's own node
    }

    /// Natural logarithm.
    public func log() -> Tensor {
        elementwiseMap(self) { Foundation.log($0) }.recorded([self]) { g in [g / self] }
    }

    /// Square root.
    public func sqrt() -> Tensor {
        let out = elementwiseMap(self) { $0.squareRoot() }
        return out.recorded([self]) { [unowned out] g in [g / (out * 2)] }  // unowned: no cycle through out's own node
    }

    /// x².
    public func squared() -> Tensor {
        elementwiseMap(self) { $0 * $0 }.recorded([self]) { g in [g * self * 2] }
    }

    /// x^p for a constant exponent.
    public func pow(_ p: Float) -> Tensor {
        elementwiseMap(self) { Foundation.pow($0, p) }.recorded([self]) { g in
            [g * elementwiseMap(self) { p * Foundation.pow($0, p - 1) }]
        }
    }

    /// |x| (subgradient 0 at 0).
    public func abs() -> Tensor {
        elementwiseMap(self) { Swift.abs($0) }.recorded([self]) { g in
            [g * elementwiseMap(self) { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }]
        }
    }

    /// Values clamped to [low, high]; the gradient passes where the value was inside.
    public func clamped(min low: Float = -.infinity, max high: Float = .infinity) -> Tensor {
        elementwiseMap(self) { Swift.min(Swift.max($0, low), high) }.recorded([self]) { g in
            [g * elementwiseMap(self) { $0 >= low && $0 <= high ? 1 : 0 }]
        }
    }

    /// Elementwise maximum of two broadcast tensors (gradient to `a` on ties).
    public static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor {
        broadcastMap(a, b) { Swift.max($0, $1) }.recorded([a, b]) { g in
            let mask = broadcastMap(a, b) { $0 >= $1 ? 1 : 0 }
            return [(g * mask).sum(to: a.shape), (g * (1 - mask)).sum(to: b.shape)]
        }
    }
}
