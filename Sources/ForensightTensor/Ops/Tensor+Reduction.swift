/// Reductions over axes: sum, mean, max, variance.
extension Tensor {
    /// Sum over one axis viewed as [outer, n, inner], keeping the axis with extent 1 (no tape).
    func sumKeepingAxis(_ ax: Int) -> Tensor {
        let outer = shape[..<ax].reduce(1, *), n = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        var outShape = shape; outShape[ax] = 1
        let out = Tensor.zeros(outShape)
        let src = data, dst = out.data
        parallelChunks(outer, minimumPerThread: Swift.max(1, 16384 / Swift.max(1, n * inner))) { range in
            for o in range {
                let d = dst + o * inner
                if inner == 1 {
                    var acc: Float = 0
                    let s = src + o * n
                    for k in 0..<n { acc += s[k] }
                    d[0] = acc
                } else {
                    for k in 0..<n { let s = src + (o * n + k) * inner; for j in 0..<inner { d[j] += s[j] } }
                }
            }
        }
        return out
    }

    /// Σ over `axes` (all axes when nil).
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let list = Set((axes ?? Array(0..<rank)).map { axis($0) }).sorted(by: >)
        var out = self
        for ax in list { out = out.sumKeepingAxis(ax) }
        if list.isEmpty { out = detached() }   // never share storage with the input
        let kept = out.shape
        let result = keepDims ? out : Tensor(storage: out.storage, shape: shape.enumerated().filter { !list.contains($0.offset) }.map(\.element))
        let inputShape = shape
        return result.recorded([self]) { g in [g.reshaped(kept).expand(to: inputShape)] }
    }

    /// Σ of all elements as a scalar.
    public func sum() -> Tensor { sum(axes: nil) }

    /// Arithmetic mean over `axes` (all when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let list = Set((axes ?? Array(0..<rank)).map { axis($0) })
        let n = list.reduce(1) { $0 * shape[$1] }
        return sum(axes: Array(list), keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
    }

    /// Mean of all elements as a scalar.
    public func mean() -> Tensor { mean(axes: nil) }

    /// Variance over `axes`: Σ(x − mean)² / (n − correction). `correction: 1` is the unbiased estimate.
    public func variance(axes: [Int], correction: Int = 0, keepDims: Bool = false) -> Tensor {
        let list = Set(axes.map { axis($0) })
        let n = list.reduce(1) { $0 * shape[$1] }
        let centered = self - mean(axes: Array(list), keepDims: true)
        return centered.squared().sum(axes: Array(list), keepDims: keepDims) * (1 / Float(Swift.max(n - correction, 1)))
    }

    /// Maximum along one axis and the index where it is (first on ties); the gradient flows to that index.
    public func max(axis: Int, keepDims: Bool = false) -> (values: Tensor, indices: [Int]) {
        let ax = self.axis(axis)
        let outer = shape[..<ax].reduce(1, *), n = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        precondition(n > 0, "max over an empty axis")
        var outShape = shape; outShape[ax] = 1
        let out = Tensor(uninitializedShape: outShape)
        var indices = [Int](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for j in 0..<inner {
                var best = -Float.infinity, bestK = 0
                for k in 0..<n { let v = data[(o * n + k) * inner + j]; if v > best || k == 0 { best = v; bestK = k } }
                out.data[o * inner + j] = best
                indices[o * inner + j] = bestK
            }
        }
        if !keepDims { outShape.remove(at: ax) }
        let result = Tensor(storage: out.storage, shape: outShape)
        let inputShape = shape
        result.recorded([self]) { g in
            let gi = Tensor.zeros(inputShape)
            for o in 0..<outer { for j in 0..<inner { gi.data[(o * n + indices[o * inner + j]) * inner + j] = g.data[o * inner + j] } }
            return [gi]
        }
        return (result, indices)
    }

    /// Index of the maximum along `axis` for every other position.
    public func argmax(axis: Int) -> [Int] { withoutGrad { max(axis: axis).indices } }
}
