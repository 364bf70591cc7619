/// Shape ops: reshape, permute, concatenate, slice, split, gather, pad, flip.
extension Tensor {
    /// The same values with a new shape (shares storage). One extent may be -1 (inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let hole = target.firstIndex(of: -1) {
            let known = target.enumerated().filter { $0.offset != hole }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            target[hole] = count / known
        }
        precondition(target.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        if target == shape { return self }
        let inputShape = shape
        return Tensor(storage: storage, shape: target).recorded([self]) { g in [g.reshaped(inputShape)] }
    }

    /// Flattens axes from `startAxis` on into one.
    public func flattened(from startAxis: Int = 1) -> Tensor {
        let a = axis(startAxis)
        return reshaped(Array(shape[..<a]) + [shape[a...].reduce(1, *)])
    }

    /// Axes reordered: output axis i is input axis `order[i]` (a copy).
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.sorted() == Array(0..<rank), "bad permutation \(order) for rank \(rank)")
        if order == Array(0..<rank) { return self }
        let outShape = order.map { shape[$0] }
        let inStrides = Tensor.strides(of: shape)
        let readStrides = order.map { inStrides[$0] }
        let out = Tensor(uninitializedShape: outShape)
        copyStrided(from: data, readStrides: readStrides, to: out.data, shape: outShape)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, o) in order.enumerated() { inverse[o] = i }
        return out.recorded([self]) { g in [g.permuted(inverse)] }
    }

    /// Swaps two axes (a copy).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(axis(a), axis(b))
        return permuted(order)
    }

    /// Elements `range` along `axis` (a copy).
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let ax = self.axis(axis)
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[ax], "slice \(range) out of \(shape[ax])")
        let outer = shape[..<ax].reduce(1, *), inner = shape[(ax + 1)...].reduce(1, *)
        var outShape = shape; outShape[ax] = range.count
        let out = Tensor(uninitializedShape: outShape)
        let n = range.count * inner, src = data, dst = out.data
        for o in 0..<outer { (dst + o * n).update(from: src + (o * shape[ax] + range.lowerBound) * inner, count: n) }
        let inputShape = shape
        return out.recorded([self]) { g in
            let gi = Tensor.zeros(inputShape)
            for o in 0..<outer { (gi.data + (o * inputShape[ax] + range.lowerBound) * inner).update(from: g.data + o * n, count: n) }
            return [gi]
        }
    }

    /// Splits along `axis` into pieces of the given sizes.
    public func split(_ sizes: [Int], axis: Int) -> [Tensor] {
        precondition(sizes.reduce(0, +) == shape[self.axis(axis)], "split sizes \(sizes) for extent \(shape[self.axis(axis)])")
        var start = 0
        return sizes.map { size in defer { start += size }; return slice(axis: axis, start..<(start + size)) }
    }

    /// Joins tensors along `axis`; all other extents must agree.
    public static func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concatenate of no tensors")
        let ax = tensors[0].axis(axis)
        var outShape = tensors[0].shape
        outShape[ax] = tensors.reduce(0) { $0 + $1.shape[ax] }
        for t in tensors {
            var s = t.shape; s[ax] = outShape[ax]
            precondition(s == outShape, "concatenate shapes \(tensors.map(\.shape)) along \(axis)")
        }
        let outer = outShape[..<ax].reduce(1, *), inner = outShape[(ax + 1)...].reduce(1, *)
        let out = Tensor(uninitializedShape: outShape)
        var offset = 0
        for t in tensors {
            let n = t.shape[ax] * inner
            for o in 0..<outer { (out.data + o * outShape[ax] * inner + offset).update(from: t.data + o * n, count: n) }
            offset += n
        }
        let sizes = tensors.map { $0.shape[ax] }
        return out.recorded(tensors) { g in g.split(sizes, axis: ax) }
    }

    /// Rows `indices` along `axis` (like `torch.index_select`); gradients scatter-add back.
    public func gather(_ indices: [Int], axis: Int) -> Tensor {
        let ax = self.axis(axis)
        precondition(indices.allSatisfy { $0 >= 0 && $0 < shape[ax] }, "gather index out of 0..<\(shape[ax])")
        let outer = shape[..<ax].reduce(1, *), inner = shape[(ax + 1)...].reduce(1, *)
        var outShape = shape; outShape[ax] = indices.count
        let out = Tensor(uninitializedShape: outShape)
        for o in 0..<outer {
            for (j, i) in indices.enumerated() {
                (out.data + (o * indices.count + j) * inner).update(from: data + (o * shape[ax] + i) * inner, count: inner)
            }
        }
        let inputShape = shape
        return out.recorded([self]) { g in
            let gi = Tensor.zeros(inputShape)
            for o in 0..<outer {
                for (j, i) in indices.enumerated() {
                    let d = gi.data + (o * inputShape[ax] + i) * inner, s = g.data + (o * indices.count + j) * inner
                    for k in 0..<inner { d[k] += s[k] }
                }
            }
            return [gi]
        }
    }

    /// Pads with a constant; `padding[i] = (before, after)` for axis i (missing trailing entries mean none).
    public func padded(_ padding: [(Int, Int)], value: Float = 0) -> Tensor {
        precondition(padding.count <= rank && padding.allSatisfy { $0.0 >= 0 && $0.1 >= 0 }, "bad padding for \(shape)")
        let pads = padding + Array(repeating: (0, 0), count: rank - padding.count)
        let outShape = zip(shape, pads).map { $0 + $1.0 + $1.1 }
        let out = Tensor.full(outShape, value)
        let offset = zip(pads, Tensor.strides(of: outShape)).reduce(0) { $0 + $1.0.0 * $1.1 }
        copyStrided(from: data, readStrides: Tensor.strides(of: shape), to: out.data + offset,
                    shape: shape, writeStrides: Tensor.strides(of: outShape))
        let inputShape = shape
        return out.recorded([self]) { g in
            let gi = Tensor(uninitializedShape: inputShape)
            copyStrided(from: g.data + offset, readStrides: Tensor.strides(of: outShape), to: gi.data, shape: inputShape)
            return [gi]
        }
    }

    /// Reverses the order along each of `axes`.
    public func flipped(axes: [Int]) -> Tensor {
        let axesSet = Set(axes.map { axis($0) })
        let strides = Tensor.strides(of: shape)
        var offset = 0
        var read = strides
        for a in axesSet { offset += (shape[a] - 1) * strides[a]; read[a] = -strides[a] }
        let out = Tensor(uninitializedShape: shape)
        if count > 0 { copyStrided(from: data + offset, readStrides: read, to: out.data, shape: shape) }
        return out.recorded([self]) { g in [g.flipped(axes: axes)] }
    }
}

/// Copies a strided view of `shape` into `dst` (row-major by default, or with `writeStrides`).
func copyStrided(from src: UnsafePointer<Float>, readStrides: [Int], to dst: UnsafeMutablePointer<Float>,
                 shape: [Int], writeStrides: [Int]? = nil) {
    let total = shape.reduce(1, *)
    guard total > 0 else { return }
    let rank = shape.count
    if rank == 0 { dst[0] = src[0]; return }
    let ws = writeStrides ?? Tensor.strides(of: shape)
    let inner = shape[rank - 1], ri = readStrides[rank - 1], wi = ws[rank - 1]
    let rows = total / inner
    parallelChunks(rows, minimumPerThread: Swift.max(1, 8192 / inner)) { range in
        var index = [Int](repeating: 0, count: rank)
        var rem = range.lowerBound
        for a in stride(from: rank - 2, through: 0, by: -1) { index[a] = rem % shape[a]; rem /= shape[a] }
        var r = 0, w = 0
        for a in 0..<(rank - 1) { r += index[a] * readStrides[a]; w += index[a] * ws[a] }
        for _ in range {
            if ri == 1 && wi == 1 { (dst + w).update(from: src + r, count: inner) } else {
                for j in 0..<inner { dst[w + j * wi] = src[r + j * ri] }
            }
            var a = rank - 2
            while a >= 0 {
                index[a] += 1; r += readStrides[a]; w += ws[a]
                if index[a] < shape[a] { break }
                r -= readStrides[a] * shape[a]; w -= ws[a] * shape[a]; index[a] = 0
                a -= 1
            }
        }
    }
}
