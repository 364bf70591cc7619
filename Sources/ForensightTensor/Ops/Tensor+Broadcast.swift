/// NumPy broadcasting: shapes are aligned at the trailing axis; each pair of extents must be equal or one of them 1.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
    let rank = Swift.max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        precondition(da == db || da == 1 || db == 1, "shapes \(a) and \(b) do not broadcast")
        out[i] = da == 1 ? db : da
    }
    return out
}

/// Strides to read a tensor of `shape` as if it had `target` shape (0 on broadcast axes).
func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
    let own = Tensor.strides(of: shape)
    let pad = target.count - shape.count
    return (0..<target.count).map { i in i < pad || shape[i - pad] == 1 ? 0 : own[i - pad] }
}

/// Applies `op` elementwise to `a` and `b` broadcast against each other.
@inline(__always)
func broadcastMap(_ a: Tensor, _ b: Tensor, _ op: (Float, Float) -> Float) -> Tensor {
    let pa = a.data, pb = b.data
    if a.shape == b.shape {
        let out = Tensor(uninitializedShape: a.shape)
        let po = out.data
        parallelChunks(out.count, minimumPerThread: 1 << 16) { r in for i in r { po[i] = op(pa[i], pb[i]) } }
        return out
    }
    let shape = broadcastShape(a.shape, b.shape)
    let out = Tensor(uninitializedShape: shape)
    let po = out.data
    if b.count == 1 && out.count == a.count {
        let s = pb[0]
        parallelChunks(out.count, minimumPerThread: 1 << 16) { r in for i in r { po[i] = op(pa[i], s) } }
        return out
    }
    if a.count == 1 && out.count == b.count {
        let s = pa[0]
        parallelChunks(out.count, minimumPerThread: 1 << 16) { r in for i in r { po[i] = op(s, pb[i]) } }
        return out
    }
    guard out.count > 0 else { return out }
    let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
    let rank = shape.count
    let inner = shape[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1]
    let rows = out.count / inner
    parallelChunks(rows, minimumPerThread: Swift.max(1, (1 << 15) / inner)) { range in
        // Odometer over all axes but the last, started at the chunk's first row.
        var index = [Int](repeating: 0, count: rank)
        var rem = range.lowerBound
        for axis in stride(from: rank - 2, through: 0, by: -1) { index[axis] = rem % shape[axis]; rem /= shape[axis] }
        var oa = 0, ob = 0
        for axis in 0..<(rank - 1) { oa += index[axis] * sa[axis]; ob += index[axis] * sb[axis] }
        for row in range {
            let o = row * inner
            if ia == 1 && ib == 1 {
                for j in 0..<inner { po[o + j] = op(pa[oa + j], pb[ob + j]) }
            } else if ia == 1 {
                let v = pb[ob]; for j in 0..<inner { po[o + j] = op(pa[oa + j], v) }
            } else if ib == 1 {
                let v = pa[oa]; for j in 0..<inner { po[o + j] = op(v, pb[ob + j]) }
            } else {
                let v = op(pa[oa], pb[ob]); for j in 0..<inner { po[o + j] = v }
            }
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1; oa += sa[axis]; ob += sb[axis]
                if index[axis] < shape[axis] { break }
                oa -= sa[axis] * shape[axis]; ob -= sb[axis] * shape[axis]; index[axis] = 0
                axis -= 1
            }
        }
    }
    return out
}

/// Applies `op` to every element.
@inline(__always)
func elementwiseMap(_ x: Tensor, _ op: (Float) -> Float) -> Tensor {
    let out = Tensor(uninitializedShape: x.shape)
    let px = x.data, po = out.data
    parallelChunks(x.count, minimumPerThread: 1 << 15) { r in for i in r { po[i] = op(px[i]) } }
    return out
}

extension Tensor {
    /// Sums a broadcast gradient back down to `target` shape.
    public func sum(to target: [Int]) -> Tensor {
        if shape == target { return self }
        let pad = rank - target.count
        precondition(pad >= 0, "cannot reduce \(shape) to \(target)")
        var axes: [Int] = Array(0..<pad)
        for i in 0..<target.count where target[i] == 1 && shape[i + pad] != 1 { axes.append(i + pad) }
        return sum(axes: axes, keepDims: true).reshaped(target)
    }

    /// Copies this tensor broadcast to `target` shape.
    public func expand(to target: [Int]) -> Tensor {
        if shape == target { return self }
        let out = broadcastMap(self, Tensor.zeros(target)) { a, _ in a }
        let inputShape = shape
        return out.recorded([self]) { g in [g.sum(to: inputShape)] }
    }
}
