/// Depthwise k×k convolution (groups = channels) on channel-blocked activations: every tap is one FMA of a 16-channel
/// input vector with the tap's 16 weights, whatever the plane size. Output columns go 8 at a time with no bounds
/// checks, from a zero-padded copy of the input rows they need. With AVX2 each block is done as two halves of 8
/// channels, so a row of 8 columns keeps its 8 accumulators and k weights in AVX2's 16 registers (`KernelTiling`).
public struct BlockedDepthwiseConvolution: @unchecked Sendable {
    /// Weights [⌈C/16⌉, k·k, 16]: channel c's tap t at [c / 16, t, c % 16], zero-padded.
    let packed: Tensor
    /// Channels (C), square window size (k) and stride.
    public let channels: Int, kernel: Int, stride: Int
    let epilogue: BlockedEpilogue

    /// Packs `weight` [C, 1, k, k].
    public init(weight: Tensor, stride: Int, epilogue: BlockedEpilogue) {
        precondition(weight.rank == 4 && weight.shape[1] == 1 && weight.shape[2] == weight.shape[3] && stride > 0,
                     "BlockedDepthwiseConvolution: weight \(weight.shape) is not [C, 1, k, k]")
        let (c, k) = (weight.shape[0], weight.shape[2])
        precondition(epilogue.padded == (c + 15) / 16 * 16, "BlockedDepthwiseConvolution: epilogue for another width")
        packed = packedInBlocksOf16(weight, rows: c, columns: k * k, paddedColumns: k * k)
        (channels, kernel, self.stride, self.epilogue) = (c, k, stride, epilogue)
    }

    /// The convolution of `x` with zero `padding`.
    public func callAsFunction(_ x: ChannelBlocked, padding: Padding2D) -> ChannelBlocked {
        precondition(x.channels == channels, "BlockedDepthwiseConvolution: \(x.channels) channels in, expects \(channels)")
        let (n, h, w, k, s, blocks) = (x.batch, x.height, x.width, kernel, stride, x.blocks)
        let (pt, pl) = (padding.top, padding.left)
        let oh = (h + pt + padding.bottom - k) / s + 1, ow = (w + pl + padding.right - k) / s + 1
        precondition(oh > 0 && ow > 0, "BlockedDepthwiseConvolution: input \(h)×\(w) too small for kernel \(k)")
        let out = ChannelBlocked(batch: n, channels: channels, height: oh, width: ow)
        let src = UnsafePointer(x.storage.data), dst = out.storage.data, wt = UnsafePointer(packed.data)
        let (scale, shift) = (epilogue.scale, epilogue.shift)
        let (low, high) = (LaneVector(repeating: epilogue.low), LaneVector(repeating: epilogue.high))
        let unrolled = Self.hasUnrolledColumns(kernel: k, stride: s)
        guard w <= Self.scratchWidthLimit else {
            inPlaceRows(src, dst, n: n, h: h, w: w, oh: oh, ow: ow, padding: padding, unrolled: unrolled)
            withExtendedLifetime((x, packed, epilogue)) {}
            return out
        }
        // Each item copies the input rows its output rows need into a zero-padded scratch strip, wide enough for the
        // last column group to read past the image, so no tap needs a bounds check. Groups of 7 columns where the
        // width is a multiple of 7 but not of 8 (no wasted column), else 8.
        let group = unrolled && ow % 7 == 0 && ow % 8 != 0 ? 7 : 8
        let chunks = (ow + group - 1) / group
        let scratchWidth = Swift.max(w + pl + padding.right, (chunks * group - 1) * s + k)
        let rowBytes = scratchWidth * 64
        let rowsByWork = Swift.max(1, 8192 / Swift.max(1, ow * k * k))
        let rowsByCache = Swift.max(1, ((Self.scratchBytes / rowBytes) - k) / s + 1)
        let rowsPerItem = Swift.min(oh, rowsByWork, rowsByCache)
        let itemsPerPlane = (oh + rowsPerItem - 1) / rowsPerItem
        parallelItems(n * blocks * itemsPerPlane) { item in
            let plane = item / itemsPerPlane, oy0 = (item % itemsPerPlane) * rowsPerItem
            let oy1 = Swift.min(oh, oy0 + rowsPerItem), rows = (oy1 - oy0 - 1) * s + k
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: rows * scratchWidth * 16)
            defer { scratch.deallocate() }
            let input = src + plane * h * w * 16
            for r in 0..<rows {
                let line = scratch + r * scratchWidth * 16, y = oy0 * s + r - pt
                if y < 0 || y >= h { line.initialize(repeating: 0, count: scratchWidth * 16); continue }
                line.initialize(repeating: 0, count: pl * 16)
                (line + pl * 16).initialize(from: input + y * w * 16, count: w * 16)
                (line + (pl + w) * 16).initialize(repeating: 0, count: (scratchWidth - pl - w) * 16)
            }
            let block = plane % blocks
            for oy in oy0..<oy1 {
                let row = dst + (plane * oh + oy) * ow * 16
                for ox in Swift.stride(from: 0, to: ow, by: group) {
                    let (iy0, count) = ((oy - oy0) * s, Swift.min(group, ow - ox))
                    // One pass per register's worth of the block's 16 channels (one with AVX-512, two with AVX2).
                    for lane in Swift.stride(from: 0, to: 16, by: LaneVector.scalarCount) {
                        let input = UnsafePointer(scratch) + lane, taps = wt + block * k * k * 16 + lane, to = row + ox * 16 + lane
                        let (sc, sh) = (loadLanes(scale + block * 16 + lane), loadLanes(shift + block * 16 + lane))
                        if group == 7 {
                            Self.unrolledColumns7(input, rowWidth: scratchWidth, iy0: iy0, ix0: ox * s, kiLo: 0, kiHi: k,
                                                  kernel: k, stride: s, taps: taps, count: count, out: to,
                                                  scale: sc, shift: sh, low: low, high: high)
                        } else if unrolled {
                            Self.unrolledColumns(input, rowWidth: scratchWidth, iy0: iy0, ix0: ox * s, kiLo: 0, kiHi: k,
                                                 kernel: k, stride: s, taps: taps, count: count, out: to,
                                                 scale: sc, shift: sh, low: low, high: high)
                        } else {
                            Self.columns(input, rowWidth: scratchWidth, iy0: iy0, ix0: ox * s, kiLo: 0, kiHi: k,
                                         kernel: k, stride: s, taps: taps, count: count, out: to,
                                         scale: sc, shift: sh, low: low, high: high)
                        }
                    }
                }
            }
        }
        withExtendedLifetime((x, packed, epilogue)) {}
        return out
    }

    /// Planes at most this wide go through the scratch copy; on wider ones only a few edge columns touch the padding,
    /// and copying every row cost more than checking those columns' taps (measured at 56 and 112 pixels).
    static let scratchWidthLimit = 32

    /// The wide-plane path: output rows read the input in place; 8-column groups whose windows lie inside the row go
    /// unchecked, the edge columns (and a last partial group) check their taps.
    private func inPlaceRows(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, n: Int, h: Int, w: Int,
                             oh: Int, ow: Int, padding: Padding2D, unrolled: Bool) {
        let (k, s, blocks, pt, pl) = (kernel, stride, (channels + 15) / 16, padding.top, padding.left)
        let wt = UnsafePointer(packed.data), (scale, shift) = (epilogue.scale, epilogue.shift)
        let (low, high) = (Float16x(repeating: epilogue.low), Float16x(repeating: epilogue.high))
        let (lowLanes, highLanes) = (LaneVector(repeating: epilogue.low), LaneVector(repeating: epilogue.high))
        // Output columns whose whole window lies inside the input row.
        let xLo = Swift.min(ow, (pl + s - 1) / s)
        let xHi = w + pl >= k ? Swift.max(xLo, Swift.min(ow, (w + pl - k) / s + 1)) : xLo
        let rowsPerItem = Swift.min(oh, Swift.max(1, 8192 / Swift.max(1, ow * k * k)))
        let itemsPerPlane = (oh + rowsPerItem - 1) / rowsPerItem
        parallelItems(n * blocks * itemsPerPlane) { item in
            let plane = item / itemsPerPlane, first = (item % itemsPerPlane) * rowsPerItem
            let block = plane % blocks
            let input = src + plane * h * w * 16, taps = wt + block * k * k * 16
            let (sc, sh) = (load16(scale + block * 16), load16(shift + block * 16))
            for oy in first..<Swift.min(oh, first + rowsPerItem) {
                let row = dst + (plane * oh + oy) * ow * 16
                let kiLo = Swift.max(0, pt - oy * s), kiHi = Swift.min(k, h + pt - oy * s)
                // One output column, every tap checked against the input row.
                func checked(_ ox: Int) {
                    var acc = Float16x(repeating: 0)
                    for ki in kiLo..<kiHi {
                        let line = input + (oy * s - pt + ki) * w * 16
                        for kj in 0..<k {
                            let ix = ox * s - pl + kj
                            if ix >= 0 && ix < w { acc.addProduct(load16(line + ix * 16), load16(taps + (ki * k + kj) * 16)) }
                        }
                    }
                    store16(vmin(vmax(acc * sc + sh, low), high), row + ox * 16)
                }
                for ox in 0..<xLo { checked(ox) }
                var ox = xLo
                while ox < xHi {
                    let count = Swift.min(8, xHi - ox)
                    // A whole group of 8 reads 8·s + k − 1 columns, all inside the row; a partial one re-reads column 0.
                    for lane in Swift.stride(from: 0, to: 16, by: LaneVector.scalarCount) {
                        let (scl, shl) = (loadLanes(scale + block * 16 + lane), loadLanes(shift + block * 16 + lane))
                        if unrolled && count == 8 {
                            Self.unrolledColumns(input + lane, rowWidth: w, iy0: oy * s - pt, ix0: ox * s - pl, kiLo: kiLo, kiHi: kiHi,
                                                 kernel: k, stride: s, taps: taps + lane, count: 8, out: row + ox * 16 + lane,
                                                 scale: scl, shift: shl, low: lowLanes, high: highLanes)
                        } else {
                            Self.columns(input + lane, rowWidth: w, iy0: oy * s - pt, ix0: ox * s - pl, kiLo: kiLo, kiHi: kiHi,
                                         kernel: k, stride: s, taps: taps + lane, count: count, out: row + ox * 16 + lane,
                                         scale: scl, shift: shl, low: lowLanes, high: highLanes)
                        }
                    }
                    ox += 8
                }
                for ox in xHi..<ow { checked(ox) }
            }
        }
    }

    /// At most this many bytes of scratch rows per item (they stay in L2).
    static let scratchBytes = 64 << 10

    /// Up to 8 adjacent output columns whose windows lie inside the input rows horizontally: 8 accumulators, one
    /// weight load per tap shared by all. Input row `iy0 + ki` (for ki in kiLo..<kiHi), column `ix0 + j·stride + kj`.
    /// Columns past `count` re-read column 0 and are not stored. `LaneVector.scalarCount` channels of the block (the
    /// caller offsets the pointers by the lane; pixels stay 16 floats apart).
    @inline(__always)
    static func columns(_ input: UnsafePointer<Float>, rowWidth: Int, iy0: Int, ix0: Int, kiLo: Int, kiHi: Int, kernel k: Int,
                        stride s: Int, taps: UnsafePointer<Float>, count: Int, out: UnsafeMutablePointer<Float>,
                        scale: LaneVector, shift: LaneVector, low: LaneVector, high: LaneVector) {
        let step = s * 16
        let (c1, c2, c3) = (count > 1 ? step : 0, count > 2 ? 2 * step : 0, count > 3 ? 3 * step : 0)
        let (c4, c5, c6, c7) = (count > 4 ? 4 * step : 0, count > 5 ? 5 * step : 0, count > 6 ? 6 * step : 0, count > 7 ? 7 * step : 0)
        let z = LaneVector(repeating: 0)
        var (a0, a1, a2, a3, a4, a5, a6, a7) = (z, z, z, z, z, z, z, z)
        for ki in kiLo..<kiHi {
            let line = input + ((iy0 + ki) * rowWidth + ix0) * 16
            for kj in 0..<k {
                let wv = loadLanes(taps + (ki * k + kj) * 16), p = line + kj * 16
                a0.addProduct(loadLanes(p), wv); a1.addProduct(loadLanes(p + c1), wv)
                a2.addProduct(loadLanes(p + c2), wv); a3.addProduct(loadLanes(p + c3), wv)
                a4.addProduct(loadLanes(p + c4), wv); a5.addProduct(loadLanes(p + c5), wv)
                a6.addProduct(loadLanes(p + c6), wv); a7.addProduct(loadLanes(p + c7), wv)
            }
        }
        @inline(__always) func put(_ v: LaneVector, _ j: Int) {
            if j < count { storeLanes(vmin(vmax(v * scale + shift, low), high), out + j * 16) }
        }
        put(a0, 0); put(a1, 1); put(a2, 2); put(a3, 3); put(a4, 4); put(a5, 5); put(a6, 6); put(a7, 7)
    }
}
