/// Pooling and upsampling over the last two axes of [N, C, H, W] tensors.
extension Tensor {
    private var planeGeometry: (planes: Int, h: Int, w: Int) {
        precondition(rank == 4, "expected [N, C, H, W], got \(shape)")
        return (shape[0] * shape[1], shape[2], shape[3])
    }

    /// Max pooling (PyTorch `F.max_pool2d`; padding counts as −∞). `ceilMode` rounds the output extent up.
    public func maxPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: Padding2D = .zero, ceilMode: Bool = false) -> Tensor {
        let (planes, h, w) = planeGeometry
        let (sh, sw) = stride ?? kernel
        let oh = Tensor.poolExtent(h, kernel.0, sh, padding.top, padding.bottom, ceilMode)
        let ow = Tensor.poolExtent(w, kernel.1, sw, padding.left, padding.right, ceilMode)
        let out = Tensor(uninitializedShape: [shape[0], shape[1], oh, ow])
        if !(GradMode.isEnabled && requiresGrad) {
            maxPoolInference(out, kernel: kernel, stride: (sh, sw), padding: padding)
            return out
        }
        var argmax = [Int32](repeating: -1, count: out.count)
        let src = data, dst = out.data
        argmax.withUnsafeMutableBufferPointer { am in
            let am = am.baseAddress!
            parallelChunks(planes, minimumPerThread: 1) { r in
                for pl in r {
                    for y in 0..<oh {
                        for x in 0..<ow {
                            var best = -Float.infinity, bestIndex: Int32 = -1
                            for i in Swift.max(0, y * sh - padding.top)..<Swift.min(h, y * sh - padding.top + kernel.0) {
                                for j in Swift.max(0, x * sw - padding.left)..<Swift.min(w, x * sw - padding.left + kernel.1) {
                                    let v = src[pl * h * w + i * w + j]
                                    if v > best || bestIndex < 0 { best = v; bestIndex = Int32(i * w + j) }
                                }
                            }
                            dst[(pl * oh + y) * ow + x] = best
                            am[(pl * oh + y) * ow + x] = bestIndex
                        }
                    }
                }
            }
        }
        let inputShape = shape
        return out.recorded([self]) { g in
            let gi = Tensor.zeros(inputShape)
            for pl in 0..<planes {
                for k in 0..<(oh * ow) where argmax[pl * oh * ow + k] >= 0 {
                    gi.data[pl * h * w + Int(argmax[pl * oh * ow + k])] += g.data[pl * oh * ow + k]
                }
            }
            return [gi]
        }
    }

    static func poolExtent(_ n: Int, _ k: Int, _ s: Int, _ p0: Int, _ p1: Int, _ ceilMode: Bool) -> Int {
        let span = n + p0 + p1 - k
        precondition(span >= 0, "pooling window \(k) larger than padded input \(n + p0 + p1)")
        var out = (ceilMode ? (span + s - 1) / s : span / s) + 1
        // PyTorch: the last window must start inside the input or left padding.
        if ceilMode && (out - 1) * s >= n + p0 { out -= 1 }
        return out
    }

    /// Average pooling (PyTorch `F.avg_pool2d`, `count_include_pad=True`).
    public func avgPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: Padding2D = .zero) -> Tensor {
        let (sh, sw) = stride ?? kernel
        let (_, h, w) = planeGeometry
        let oh = Tensor.poolExtent(h, kernel.0, sh, padding.top, padding.bottom, false)
        let ow = Tensor.poolExtent(w, kernel.1, sw, padding.left, padding.right, false)
        return windowAverage(oh: oh, ow: ow) { y, x in
            let i0 = y * sh - padding.top, j0 = x * sw - padding.left
            return (Swift.max(0, i0)..<Swift.min(h, i0 + kernel.0), Swift.max(0, j0)..<Swift.min(w, j0 + kernel.1), kernel.0 * kernel.1)
        }
    }

    /// Adaptive average pooling to `outputSize` (PyTorch bins: ⌊i·H/oh⌋ ..< ⌈(i+1)·H/oh⌉).
    public func adaptiveAvgPool2d(_ outputSize: (Int, Int)) -> Tensor {
        let (_, h, w) = planeGeometry
        let (oh, ow) = outputSize
        if !(GradMode.isEnabled && requiresGrad) { return separableAdaptiveAverage(outputSize) }
        return windowAverage(oh: oh, ow: ow) { y, x in
            let rows = (y * h / oh)..<(((y + 1) * h + oh - 1) / oh), cols = (x * w / ow)..<(((x + 1) * w + ow - 1) / ow)
            return (rows, cols, rows.count * cols.count)
        }
    }

    /// Mean over windows given by `window(y, x) -> (rows, cols, divisor)`; gradient spreads evenly back.
    private func windowAverage(oh: Int, ow: Int, window: @escaping (Int, Int) -> (Range<Int>, Range<Int>, Int)) -> Tensor {
        let (planes, h, w) = planeGeometry
        let out = Tensor(uninitializedShape: [shape[0], shape[1], oh, ow])
        let src = data, dst = out.data
        parallelChunks(planes, minimumPerThread: 1) { r in
            for pl in r {
                for y in 0..<oh {
                    for x in 0..<ow {
                        let (rows, cols, divisor) = window(y, x)
                        var acc: Float = 0
                        for i in rows { for j in cols { acc += src[pl * h * w + i * w + j] } }
                        dst[(pl * oh + y) * ow + x] = acc / Float(Swift.max(divisor, 1))
                    }
                }
            }
        }
        let inputShape = shape
        return out.recorded([self]) { g in
            let gi = Tensor.zeros(inputShape)
            for pl in 0..<planes {
                for y in 0..<oh {
                    for x in 0..<ow {
                        let (rows, cols, divisor) = window(y, x)
                        let v = g.data[(pl * oh + y) * ow + x] / Float(Swift.max(divisor, 1))
                        for i in rows { for j in cols { gi.data[pl * h * w + i * w + j] += v } }
                    }
                }
            }
            return [gi]
        }
    }

    /// Nearest-neighbour upsampling to `size` (PyTorch `mode="nearest"`: source index ⌊dst · in/out⌋).
    public func upsampleNearest(_ size: (Int, Int)) -> Tensor {
        let (_, h, w) = planeGeometry
        // PyTorch computes the scale in float32: src = min(⌊dst · Float(in/out)⌋, in − 1).
        let sy = Float(h) / Float(size.0), sx = Float(w) / Float(size.1)
        return separableResample(size, rowTaps: { [(Swift.min(Int(Float($0) * sy), h - 1), 1)] },
                                 colTaps: { [(Swift.min(Int(Float($0) * sx), w - 1), 1)] })
    }

    /// Bilinear upsampling/downsampling to `size` (PyTorch `mode="bilinear"`, `align_corners` as given, no antialias).
    public func upsampleBilinear(_ size: (Int, Int), alignCorners: Bool = false) -> Tensor {
        let (_, h, w) = planeGeometry
        func taps(_ n: Int, _ out: Int, _ i: Int) -> [(Int, Float)] {
            var src: Float
            if alignCorners { src = out > 1 ? Float(i) * Float(n - 1) / Float(out - 1) : 0 }
            else { src = Swift.max((Float(i) + 0.5) * Float(n) / Float(out) - 0.5, 0) }
            let i0 = Swift.min(Int(src), n - 1), i1 = Swift.min(i0 + 1, n - 1)
            let f = src - Float(i0)
            return [(i0, 1 - f), (i1, f)]
        }
        return separableResample(size, rowTaps: { taps(h, size.0, $0) }, colTaps: { taps(w, size.1, $0) })
    }

    /// Zero insertion ("bed of nails"): [N, C, H, W] → [N, C, 2H, 2W] with the input at the even rows and columns and
    /// zeros elsewhere. A convolution after it is a stride-2 transposed convolution (a learned up-convolution), the
    /// layer whose uneven kernel overlap leaves the checkerboard traces of GAN decoders (Odena et al. 2016).
    /// The gradient is the output gradient at the even positions.
    public func zeroInserted() -> Tensor {
        precondition(rank == 4, "zeroInserted: input \(shape)")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let outShape = [n, c, 2 * h, 2 * w]
        let spread = [c * 4 * h * w, 4 * h * w, 4 * w, 2]
        let out = Tensor.zeros(outShape)
        if count > 0 { copyStrided(from: data, readStrides: Tensor.strides(of: shape), to: out.data, shape: shape, writeStrides: spread) }
        let inputShape = shape
        return out.recorded([self]) { g in
            let gi = Tensor(uninitializedShape: inputShape)
            if gi.count > 0 { copyStrided(from: g.data, readStrides: spread, to: gi.data, shape: inputShape) }
            return [gi]
        }
    }

    /// Resampling whose output pixel (y, x) = Σ rowTap · colTap · input; the backward pass scatters with the same weights.
    private func separableResample(_ size: (Int, Int), rowTaps: (Int) -> [(Int, Float)], colTaps: (Int) -> [(Int, Float)]) -> Tensor {
        let (planes, h, w) = planeGeometry
        let (oh, ow) = size
        let rt = (0..<oh).map(rowTaps), ct = (0..<ow).map(colTaps)
        let out = Tensor.zeros([shape[0], shape[1], oh, ow])
        let src = data, dst = out.data
        // Column taps as flat arrays (k taps per output column, unused ones weight 0), so the inner loops index
        // arrays instead of walking arrays of tuples: each plane is resampled along its rows into a scratch plane of
        // width `ow`, then along its columns (Σ_i w_y · (Σ_j w_x · input), the same sum regrouped).
        let k = Swift.max(1, ct.map(\.count).max() ?? 1)
        var colIndex = [Int](repeating: 0, count: ow * k), colWeight = [Float](repeating: 0, count: ow * k)
        for x in 0..<ow { for (t, (j, wx)) in ct[x].enumerated() { (colIndex[x * k + t], colWeight[x * k + t]) = (j, wx) } }
        let (indices, weights) = (colIndex, colWeight)
        parallelChunks(planes, minimumPerThread: 1) { r in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, h * ow))
            defer { scratch.deallocate() }
            indices.withUnsafeBufferPointer { ix in weights.withUnsafeBufferPointer { wt in
                for pl in r {
                    let plane = src + pl * h * w
                    for i in 0..<h {
                        let row = plane + i * w, t = scratch + i * ow
                        for x in 0..<ow {
                            var acc: Float = 0
                            for q in (x * k)..<(x * k + k) { acc += wt[q] * row[ix[q]] }
                            t[x] = acc
                        }
                    }
                    for y in 0..<oh {
                        let o = dst + (pl * oh + y) * ow
                        for (i, wy) in rt[y] where wy != 0 {
                            let t = scratch + i * ow
                            for x in 0..<ow { o[x] += wy * t[x] }
                        }
                    }
                }
            } }
        }
        let inputShape = shape
        return out.recorded([self]) { g in
            let gi = Tensor.zeros(inputShape)
            for pl in 0..<planes {
                for y in 0..<oh { for (i, wy) in rt[y] where wy != 0 {
                    for x in 0..<ow { for (j, wx) in ct[x] { gi.data[pl * h * w + i * w + j] += wy * wx * g.data[(pl * oh + y) * ow + x] } }
                } }
            }
            return [gi]
        }
    }

    /// Max pooling without the argmax bookkeeping (nothing records gradients).
    private func maxPoolInference(_ out: Tensor, kernel: (Int, Int), stride: (Int, Int), padding: Padding2D) {
        let (planes, h, w) = planeGeometry
        let (oh, ow) = (out.shape[2], out.shape[3])
        let src = data, dst = out.data
        let twoByTwo = kernel == (2, 2) && stride == (2, 2) && padding == .zero
        let threeByThree = kernel == (3, 3) && stride == (2, 2) && padding == .zero
        parallelChunks(planes, minimumPerThread: Swift.max(1, 2048 / Swift.max(oh * ow, 1))) { r in
            for pl in r {
                let plane = src + pl * h * w, o = dst + pl * oh * ow
                if twoByTwo && h >= 2 {
                    Tensor.maxPool2x2(plane, h: h, w: w, o, oh: oh, ow: ow)
                    continue
                }
                if threeByThree {
                    Tensor.maxPool3x3Stride2(plane, h: h, w: w, o, oh: oh, ow: ow)
                    continue
                }
                for y in 0..<oh {
                    let i0 = Swift.max(0, y * stride.0 - padding.top), i1 = Swift.min(h, y * stride.0 - padding.top + kernel.0)
                    for x in 0..<ow {
                        let j0 = Swift.max(0, x * stride.1 - padding.left), j1 = Swift.min(w, x * stride.1 - padding.left + kernel.1)
                        var best = -Float.infinity
                        for i in i0..<i1 { let row = plane + i * w; for j in j0..<j1 { best = Swift.max(best, row[j]) } }
                        o[y * ow + x] = best
                    }
                }
            }
        }
    }

    /// 2×2 stride-2 max pooling of one plane (ceil-mode edges clipped): 16 outputs per step from the even and odd
    /// lanes of two 32-wide row loads.
    static func maxPool2x2(_ plane: UnsafePointer<Float>, h: Int, w: Int, _ o: UnsafeMutablePointer<Float>, oh: Int, ow: Int) {
        for y in 0..<oh {
            let r0 = plane + 2 * y * w, r1 = 2 * y + 1 < h ? r0 + w : r0
            let orow = o + y * ow
            var x = 0
            while x + 16 <= ow && 2 * x + 32 <= w {
                let a = UnsafeRawPointer(r0 + 2 * x).loadUnaligned(as: SIMD32<Float>.self)
                let b = UnsafeRawPointer(r1 + 2 * x).loadUnaligned(as: SIMD32<Float>.self)
                store16(vmax(vmax(a.evenHalf, a.oddHalf), vmax(b.evenHalf, b.oddHalf)), orow + x)
                x += 16
            }
            while x < ow {
                let j = 2 * x, j1 = Swift.min(j + 1, w - 1)
                orow[x] = Swift.max(Swift.max(r0[j], r0[j1]), Swift.max(r1[j], r1[j1]))
                x += 1
            }
        }
    }

    /// 3×3 stride-2 max pooling of one plane (ceil-mode windows clipped at the edges): per row, the maximum of the
    /// even lanes, odd lanes and next even lanes of 32-wide loads, then over the window's rows.
    static func maxPool3x3Stride2(_ plane: UnsafePointer<Float>, h: Int, w: Int, _ o: UnsafeMutablePointer<Float>, oh: Int, ow: Int) {
        for y in 0..<oh {
            let rows = (2 * y)..<Swift.min(2 * y + 3, h)
            let orow = o + y * ow
            var x = 0
            while x + 16 <= ow && 2 * x + 34 <= w {
                var m = Float16x(repeating: -.infinity)
                for i in rows {
                    let p = plane + i * w + 2 * x
                    let a = UnsafeRawPointer(p).loadUnaligned(as: SIMD32<Float>.self)
                    let b = UnsafeRawPointer(p + 2).loadUnaligned(as: SIMD32<Float>.self)
                    m = vmax(m, vmax(vmax(a.evenHalf, a.oddHalf), b.evenHalf))
                }
                store16(m, orow + x)
                x += 16
            }
            // Narrower planes (MTCNN's R-Net and O-Net: 22–46 wide) take 8 outputs per step from 16-wide loads.
            while x + 8 <= ow && 2 * x + 18 <= w {
                var m = SIMD8<Float>(repeating: -.infinity)
                for i in rows {
                    let p = plane + i * w + 2 * x
                    let a = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
                    let b = UnsafeRawPointer(p + 2).loadUnaligned(as: SIMD16<Float>.self)
                    m = vmax(m, vmax(vmax(a.evenHalf, a.oddHalf), b.evenHalf))
                }
                UnsafeMutableRawPointer(orow + x).storeBytes(of: m, as: SIMD8<Float>.self)
                x += 8
            }
            if rows.count == 3 {
                let (r0, r1, r2) = (plane + rows.lowerBound * w, plane + (rows.lowerBound + 1) * w, plane + (rows.lowerBound + 2) * w)
                while 2 * x + 3 <= w && x < ow {
                    let j = 2 * x
                    let m0 = Swift.max(Swift.max(r0[j], r0[j + 1]), r0[j + 2])
                    let m1 = Swift.max(Swift.max(r1[j], r1[j + 1]), r1[j + 2])
                    let m2 = Swift.max(Swift.max(r2[j], r2[j + 1]), r2[j + 2])
                    orow[x] = Swift.max(Swift.max(m0, m1), m2)
                    x += 1
                }
            }
            while x < ow {
                var m = -Float.infinity
                for i in rows { let r = plane + i * w; for j in (2 * x)..<Swift.min(2 * x + 3, w) { m = Swift.max(m, r[j]) } }
                orow[x] = m
                x += 1
            }
        }
    }

    /// Adaptive average pooling as two 1-D passes (rows, then columns): the windows are products of a row range and a
    /// column range, so the mean factorises. Inference only.
    private func separableAdaptiveAverage(_ size: (Int, Int)) -> Tensor {
        regionAdaptiveAverage(rows: 0..<shape[2], columns: 0..<shape[3], size: size)
    }

    /// Adaptive average pooling of the window `rows × columns` of every plane to `size`, reading the window in place
    /// (= crop, then `adaptiveAvgPool2d`, without the copy). Inference only: not recorded on the tape.
    public func regionAdaptiveAverage(rows region: Range<Int>, columns regionColumns: Range<Int>, size: (Int, Int)) -> Tensor {
        let (planes, fullH, fullW) = planeGeometry
        precondition(region.lowerBound >= 0 && region.upperBound <= fullH && regionColumns.lowerBound >= 0 && regionColumns.upperBound <= fullW
                     && !region.isEmpty && !regionColumns.isEmpty, "region \(region) × \(regionColumns) outside \(shape)")
        let (h, w) = (region.count, regionColumns.count)
        let (oh, ow) = size
        // Window bounds and reciprocal sizes, precomputed once.
        var colStart = [Int](repeating: 0, count: ow), colEnd = colStart, colScale = [Float](repeating: 0, count: ow)
        for x in 0..<ow {
            colStart[x] = x * w / ow + regionColumns.lowerBound
            colEnd[x] = ((x + 1) * w + ow - 1) / ow + regionColumns.lowerBound
            colScale[x] = 1 / Float(colEnd[x] - colStart[x])
        }
        let rows = (0..<oh).map { y in (y * h / oh)..<(((y + 1) * h + oh - 1) / oh) }
        let out = Tensor(uninitializedShape: [shape[0], shape[1], oh, ow])
        let tmp = Tensor(uninitializedShape: [planes, h, ow])
        let src = data, dst = out.data, t = tmp.data
        // Pass 1: every input row of the region → ow column averages (parallel over all rows of all planes).
        colStart.withUnsafeBufferPointer { cs in colEnd.withUnsafeBufferPointer { ce in colScale.withUnsafeBufferPointer { sc in
            parallelChunks(planes * h, minimumPerThread: 64) { r in
                for job in r {
                    let (pl, i) = (job / h, job % h)
                    let line = src + pl * fullH * fullW + (region.lowerBound + i) * fullW, trow = t + job * ow
                    for x in 0..<ow {
                        var acc: Float = 0
                        var j = cs[x]
                        while j < ce[x] { acc += line[j]; j += 1 }
                        trow[x] = acc * sc[x]
                    }
                }
            }
        } } }
        // Pass 2: average the rows of each output row's window (parallel over all output rows).
        parallelChunks(planes * oh, minimumPerThread: 64) { r in
            for job in r {
                let (pl, y) = (job / oh, job % oh)
                let orow = dst + job * ow
                orow.update(repeating: 0, count: ow)
                for i in rows[y] { let trow = t + (pl * h + i) * ow; for x in 0..<ow { orow[x] += trow[x] } }
                let inv = 1 / Float(rows[y].count)
                for x in 0..<ow { orow[x] *= inv }
            }
        }
        return out
    }
}
