/// Depthwise k×k convolution (groups = channels) on channel-blocked activations: every tap is one FMA of a 16-channel
/// input vector with the tap's 16 weights, whatever the plane size. Output columns go 8 at a time with no bounds
/// checks, from a zero-padded copy of the input rows they need.
public struct BlockedDepthwiseConvolution: @unchecked Sendable {
    /// Weights [⌈C/16⌉, k·k, 16]: channel c's tap t at [c / 16, t, c % 16], zero-padded.
    let packed: Tensor
    public let channels: Int, kernel: Int, stride: Int
    let epilogue: BlockedEpilogue

    /// Packs `weight` [C, 1, k, k].
    public init(weight: Tensor, stride: Int, epilogue: BlockedEpilogue) {
        precondition(weight.rank == 4 && weight.shape[1] == 1 && weight.shape[2] == weight.shape[3] && stride > 0,
                     "BlockedDepthwiseConvolution: weight \(weight.shape) is not [C, 1, k, k]")
        let (c, k) = (weight.shape[0], weight.shape[2])
        precondition(epilogue.padded == (c + 15) / 16 * 16, "BlockedDepthwiseConvolution: epilogue for another width")
        packed = Tensor.zeros([(c + 15) / 16, k * k, 16])
        let (src, dst) = (weight.data, packed.data)
        for ch in 0..<c { for t in 0..<(k * k) { dst[(ch / 16 * k * k + t) * 16 + ch % 16] = src[ch * k * k + t] } }
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
        let (low, high) = (Float16x(repeating: epilogue.low), Float16x(repeating: epilogue.high))
        let unrolled = Self.hasUnrolledColumns(kernel: k, stride: s)
        guard w <= Self.scratchWidthLimit else {
            inPlaceRows(src, dst, n: n, h: h, w: w, oh: oh, ow: ow, padding: padding, unrolled: unrolled)
            withExtendedLifetime((x, packed, epilogue)) {}
            return out
        }
        // Each item copies the input rows its output rows need into a zero-padded scratch strip, wide enough for the
        // last 8-column group to read past the image, so no tap needs a bounds check.
        let chunks = (ow + 7) / 8
        let scratchWidth = Swift.max(w + pl + padding.right, (chunks * 8 - 1) * s + k)
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
            let block = plane % blocks, taps = wt + block * k * k * 16
            let (sc, sh) = (load16(scale + block * 16), load16(shift + block * 16))
            for oy in oy0..<oy1 {
                let row = dst + (plane * oh + oy) * ow * 16
                for ox in Swift.stride(from: 0, to: ow, by: 8) {
                    let (iy0, count) = ((oy - oy0) * s, Swift.min(8, ow - ox))
                    if unrolled {
                        Self.unrolledColumns(UnsafePointer(scratch), rowWidth: scratchWidth, iy0: iy0, ix0: ox * s, kiLo: 0, kiHi: k,
                                             kernel: k, stride: s, taps: taps, count: count, out: row + ox * 16,
                                             scale: sc, shift: sh, low: low, high: high)
                    } else {
                        Self.columns(UnsafePointer(scratch), rowWidth: scratchWidth, iy0: iy0, ix0: ox * s, kiLo: 0, kiHi: k,
                                     kernel: k, stride: s, taps: taps, count: count, out: row + ox * 16,
                                     scale: sc, shift: sh, low: low, high: high)
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
                    if unrolled && count == 8 {
                        Self.unrolledColumns(input, rowWidth: w, iy0: oy * s - pt, ix0: ox * s - pl, kiLo: kiLo, kiHi: kiHi,
                                             kernel: k, stride: s, taps: taps, count: 8, out: row + ox * 16,
                                             scale: sc, shift: sh, low: low, high: high)
                    } else {
                        Self.columns(input, rowWidth: w, iy0: oy * s - pt, ix0: ox * s - pl, kiLo: kiLo, kiHi: kiHi, kernel: k,
                                     stride: s, taps: taps, count: count, out: row + ox * 16, scale: sc, shift: sh,
                                     low: low, high: high)
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
    /// Columns past `count` re-read column 0 and are not stored.
    @inline(__always)
    static func columns(_ input: UnsafePointer<Float>, rowWidth: Int, iy0: Int, ix0: Int, kiLo: Int, kiHi: Int, kernel k: Int,
                        stride s: Int, taps: UnsafePointer<Float>, count: Int, out: UnsafeMutablePointer<Float>,
                        scale: Float16x, shift: Float16x, low: Float16x, high: Float16x) {
        let step = s * 16
        let (c1, c2, c3) = (count > 1 ? step : 0, count > 2 ? 2 * step : 0, count > 3 ? 3 * step : 0)
        let (c4, c5, c6, c7) = (count > 4 ? 4 * step : 0, count > 5 ? 5 * step : 0, count > 6 ? 6 * step : 0, count > 7 ? 7 * step : 0)
        let z = Float16x(repeating: 0)
        var (a0, a1, a2, a3, a4, a5, a6, a7) = (z, z, z, z, z, z, z, z)
        for ki in kiLo..<kiHi {
            let line = input + ((iy0 + ki) * rowWidth + ix0) * 16
            for kj in 0..<k {
                let wv = load16(taps + (ki * k + kj) * 16), p = line + kj * 16
                a0.addProduct(load16(p), wv); a1.addProduct(load16(p + c1), wv)
                a2.addProduct(load16(p + c2), wv); a3.addProduct(load16(p + c3), wv)
                a4.addProduct(load16(p + c4), wv); a5.addProduct(load16(p + c5), wv)
                a6.addProduct(load16(p + c6), wv); a7.addProduct(load16(p + c7), wv)
            }
        }
        @inline(__always) func put(_ v: Float16x, _ j: Int) {
            if j < count { store16(vmin(vmax(v * scale + shift, low), high), out + j * 16) }
        }
        put(a0, 0); put(a1, 1); put(a2, 2); put(a3, 3); put(a4, 4); put(a5, 5); put(a6, 6); put(a7, 7)
    }
}

/// A dense k×k convolution from an NCHW input with few channels (a stem on RGB) to channel-blocked output, its
/// weights packed once: per output pixel, every (channel, tap) input value is broadcast against one weight vector per
/// 16 output channels.
public struct BlockedDirectConvolution: @unchecked Sendable {
    /// Weights [⌈O/16⌉, C·k·k, 16].
    let packed: Tensor
    public let inputChannels: Int, outputChannels: Int, kernel: Int, stride: Int
    let epilogue: BlockedEpilogue

    /// Packs `weight` [O, C, k, k].
    public init(weight: Tensor, stride: Int, epilogue: BlockedEpilogue) {
        precondition(weight.rank == 4 && weight.shape[2] == weight.shape[3] && stride > 0,
                     "BlockedDirectConvolution: weight \(weight.shape) is not [O, C, k, k]")
        let (o, c, k) = (weight.shape[0], weight.shape[1], weight.shape[2])
        precondition(epilogue.padded == (o + 15) / 16 * 16, "BlockedDirectConvolution: epilogue for another width")
        let patch = c * k * k
        packed = Tensor.zeros([(o + 15) / 16, patch, 16])
        let (src, dst) = (weight.data, packed.data)
        for oc in 0..<o { for t in 0..<patch { dst[(oc / 16 * patch + t) * 16 + oc % 16] = src[oc * patch + t] } }
        (inputChannels, outputChannels, kernel, self.stride, self.epilogue) = (c, o, k, stride, epilogue)
    }

    /// The convolution of `x` [N, C, H, W] with zero `padding`.
    public func callAsFunction(_ x: Tensor, padding: Padding2D) -> ChannelBlocked {
        precondition(x.rank == 4 && x.shape[1] == inputChannels, "BlockedDirectConvolution: input \(x.shape)")
        let (n, c, h, w, k, s) = (x.shape[0], inputChannels, x.shape[2], x.shape[3], kernel, stride)
        let ph = h + padding.top + padding.bottom, pw = w + padding.left + padding.right
        let oh = (ph - k) / s + 1, ow = (pw - k) / s + 1
        precondition(oh > 0 && ow > 0, "BlockedDirectConvolution: input \(h)×\(w) too small for kernel \(k)")
        // A zero-padded copy of the input, so no tap needs a bounds check.
        let padded = Tensor(uninitializedShape: [n, c, ph, pw])
        parallelItems(n * c) { plane in
            let to = padded.data + plane * ph * pw
            to.initialize(repeating: 0, count: padding.top * pw)
            for y in 0..<h {
                let line = to + (y + padding.top) * pw
                line.initialize(repeating: 0, count: padding.left)
                (line + padding.left).initialize(from: x.data + (plane * h + y) * w, count: w)
                (line + padding.left + w).initialize(repeating: 0, count: padding.right)
            }
            (to + (h + padding.top) * pw).initialize(repeating: 0, count: padding.bottom * pw)
        }
        let out = ChannelBlocked(batch: n, channels: outputChannels, height: oh, width: ow)
        let blocks = out.blocks, patch = c * k * k, pairs = (blocks + 1) / 2
        let src = UnsafePointer(padded.data), dst = out.storage.data, wt = UnsafePointer(packed.data)
        let (scale, shift) = (epilogue.scale, epilogue.shift)
        let (low, high) = (Float16x(repeating: epilogue.low), Float16x(repeating: epilogue.high))
        // Tiles of 8 output columns × 2 output blocks (16 accumulators): per (channel, tap), 2 weight loads and 8
        // broadcasts for 16 FMAs. An odd last block is paired with itself and stored once.
        parallelItems(n * pairs * oh) { unit in
            let image = unit / (pairs * oh), pair = (unit / oh) % pairs, oy = unit % oh
            let b0 = 2 * pair, b1 = Swift.min(b0 + 1, blocks - 1)
            let input = src + image * c * ph * pw
            let (t0, t1) = (wt + b0 * patch * 16, wt + b1 * patch * 16)
            let (row0, row1) = (dst + ((image * blocks + b0) * oh + oy) * ow * 16, dst + ((image * blocks + b1) * oh + oy) * ow * 16)
            let (sc0, sh0) = (load16(scale + b0 * 16), load16(shift + b0 * 16))
            let (sc1, sh1) = (load16(scale + b1 * 16), load16(shift + b1 * 16))
            var ox = 0
            while ox < ow {
                let count = Swift.min(8, ow - ox)
                // Columns past `count` re-read the first one; their sums are never stored.
                var offsets = (0, 0, 0, 0, 0, 0, 0, 0)
                withUnsafeMutableBytes(of: &offsets) { raw in
                    let o = raw.bindMemory(to: Int.self)
                    for j in 0..<count { o[j] = j * s }
                }
                let (c1, c2, c3, c4, c5, c6, c7) = (offsets.1, offsets.2, offsets.3, offsets.4, offsets.5, offsets.6, offsets.7)
                let z = Float16x(repeating: 0)
                var (a0, a1, a2, a3, a4, a5, a6, a7) = (z, z, z, z, z, z, z, z)
                var (e0, e1, e2, e3, e4, e5, e6, e7) = (z, z, z, z, z, z, z, z)
                var t = 0
                for ch in 0..<c {
                    for ki in 0..<k {
                        let line = input + (ch * ph + oy * s + ki) * pw + ox * s
                        for kj in 0..<k {
                            let (u, v) = (load16(t0 + t * 16), load16(t1 + t * 16)), p = line + kj
                            var q = Float16x(repeating: p[0]); a0.addProduct(q, u); e0.addProduct(q, v)
                            q = Float16x(repeating: p[c1]); a1.addProduct(q, u); e1.addProduct(q, v)
                            q = Float16x(repeating: p[c2]); a2.addProduct(q, u); e2.addProduct(q, v)
                            q = Float16x(repeating: p[c3]); a3.addProduct(q, u); e3.addProduct(q, v)
                            q = Float16x(repeating: p[c4]); a4.addProduct(q, u); e4.addProduct(q, v)
                            q = Float16x(repeating: p[c5]); a5.addProduct(q, u); e5.addProduct(q, v)
                            q = Float16x(repeating: p[c6]); a6.addProduct(q, u); e6.addProduct(q, v)
                            q = Float16x(repeating: p[c7]); a7.addProduct(q, u); e7.addProduct(q, v)
                            t += 1
                        }
                    }
                }
                @inline(__always) func finish(_ a: Float16x, _ e: Float16x, _ j: Int) {
                    guard j < count else { return }
                    store16(vmin(vmax(a * sc0 + sh0, low), high), row0 + (ox + j) * 16)
                    if b1 != b0 { store16(vmin(vmax(e * sc1 + sh1, low), high), row1 + (ox + j) * 16) }
                }
                finish(a0, e0, 0); finish(a1, e1, 1); finish(a2, e2, 2); finish(a3, e3, 3)
                finish(a4, e4, 4); finish(a5, e5, 5); finish(a6, e6, 6); finish(a7, e7, 7)
                ox += 8
            }
        }
        withExtendedLifetime((padded, packed, epilogue)) {}
        return out
    }
}
