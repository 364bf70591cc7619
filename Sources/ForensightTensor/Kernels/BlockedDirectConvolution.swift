/// A dense k×k convolution from an NCHW input with few channels (a stem on RGB) to channel-blocked output, its
/// weights packed once: per output pixel, every (channel, tap) input value is broadcast against one weight vector per
/// 16 output channels.
public struct BlockedDirectConvolution: @unchecked Sendable {
    /// Weights [⌈O/16⌉, C·k·k, 16].
    let packed: Tensor
    /// Input channels (C), output channels (O), square window size (k) and stride.
    public let inputChannels: Int, outputChannels: Int, kernel: Int, stride: Int
    let epilogue: BlockedEpilogue

    /// Packs `weight` [O, C, k, k].
    public init(weight: Tensor, stride: Int, epilogue: BlockedEpilogue) {
        precondition(weight.rank == 4 && weight.shape[2] == weight.shape[3] && stride > 0,
                     "BlockedDirectConvolution: weight \(weight.shape) is not [O, C, k, k]")
        let (o, c, k) = (weight.shape[0], weight.shape[1], weight.shape[2])
        precondition(epilogue.padded == (o + 15) / 16 * 16, "BlockedDirectConvolution: epilogue for another width")
        let patch = c * k * k
        packed = packedInBlocksOf16(weight, rows: o, columns: patch, paddedColumns: patch)
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
        if KernelTiling.outputBlocksPerTile == 1 {
            narrowTiles(UnsafePointer(padded.data), out, n: n, ph: ph, pw: pw, oh: oh, ow: ow)
            withExtendedLifetime((padded, packed, epilogue)) {}
            return out
        }
        let blocks = out.blocks, patch = c * k * k, pairs = (blocks + 1) / 2
        let src = UnsafePointer(padded.data), dst = out.storage.data, wt = UnsafePointer(packed.data)
        let (scale, shift) = (epilogue.scale, epilogue.shift)
        let (low, high) = (Float16x(repeating: epilogue.low), Float16x(repeating: epilogue.high))
        // Tiles of 8 output columns × 2 output blocks (16 accumulators, AVX-512): per (channel, tap), 2 weight loads and
        // 8 broadcasts for 16 FMAs. An odd last block is paired with itself and stored once.
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

    /// The AVX2 (and portable) tiles: 6 output columns × 1 output block, 12 accumulator registers of 8 floats plus the
    /// weight vector (2) and a broadcast (1), so AVX2's 16 registers hold the whole tile (`KernelTiling`); the AVX-512
    /// tile of 8 columns × 2 blocks would need 32 of them. Per (channel, tap), 1 weight load and 6 broadcasts for
    /// 6 FMAs of 16 lanes.
    private func narrowTiles(_ src: UnsafePointer<Float>, _ out: ChannelBlocked, n: Int, ph: Int, pw: Int, oh: Int, ow: Int) {
        let (c, k, s, blocks, patch) = (inputChannels, kernel, stride, out.blocks, inputChannels * kernel * kernel)
        let dst = out.storage.data, wt = UnsafePointer(packed.data)
        let (scale, shift) = (epilogue.scale, epilogue.shift)
        let (low, high) = (Float16x(repeating: epilogue.low), Float16x(repeating: epilogue.high))
        parallelItems(n * blocks * oh) { unit in
            let image = unit / (blocks * oh), block = (unit / oh) % blocks, oy = unit % oh
            let input = src + image * c * ph * pw, taps = wt + block * patch * 16
            let row = dst + ((image * blocks + block) * oh + oy) * ow * 16
            let (sc, sh) = (load16(scale + block * 16), load16(shift + block * 16))
            var ox = 0
            while ox < ow {
                let count = Swift.min(6, ow - ox)
                // Columns past `count` re-read the first one; their sums are never stored.
                let (c1, c2, c3) = (count > 1 ? s : 0, count > 2 ? 2 * s : 0, count > 3 ? 3 * s : 0)
                let (c4, c5) = (count > 4 ? 4 * s : 0, count > 5 ? 5 * s : 0)
                let z = Float16x(repeating: 0)
                var (a0, a1, a2, a3, a4, a5) = (z, z, z, z, z, z)
                var t = taps
                for ch in 0..<c {
                    for ki in 0..<k {
                        let line = input + (ch * ph + oy * s + ki) * pw + ox * s
                        for kj in 0..<k {
                            let u = load16(t), p = line + kj
                            a0.addProduct(Float16x(repeating: p[0]), u); a1.addProduct(Float16x(repeating: p[c1]), u)
                            a2.addProduct(Float16x(repeating: p[c2]), u); a3.addProduct(Float16x(repeating: p[c3]), u)
                            a4.addProduct(Float16x(repeating: p[c4]), u); a5.addProduct(Float16x(repeating: p[c5]), u)
                            t += 16
                        }
                    }
                }
                @inline(__always) func put(_ a: Float16x, _ j: Int) {
                    if j < count { store16(vmin(vmax(a * sc + sh, low), high), row + (ox + j) * 16) }
                }
                put(a0, 0); put(a1, 1); put(a2, 2); put(a3, 3); put(a4, 4); put(a5, 5)
                ox += 6
            }
        }
    }
}
