/// Pointwise (1×1, stride 1, one group) convolution on channel-blocked activations, its weights packed once.
///
/// out[ob][p][16] = Σ_c x[c / 16][p][c % 16] · W[ob][c][16]: per input channel, one broadcast input value meets one
/// weight vector per output block. A register tile is 6 pixels × up to 4 output blocks (24 accumulators) with AVX-512,
/// 6 pixels × 1 block (12 AVX2 registers) with AVX2 (`KernelTiling`); the
/// folded BatchNorm, the clamp and the residual ride on the store. The sum over c runs in ascending order in every
/// tile, so results do not depend on the thread count.
public struct BlockedPointwiseConvolution: @unchecked Sendable {
    /// Weights [⌈O/16⌉, ⌈C/16⌉·16, 16]: output channel o of input channel c at [o / 16, c, o % 16], zero-padded.
    let packed: Tensor
    /// Input channels (C) and output channels (O).
    public let inputChannels: Int, outputChannels: Int
    let epilogue: BlockedEpilogue

    /// Pixels per register tile.
    static let tilePixels = 6
    /// Register tiles per unit of parallel work.
    static let tilesPerUnit = 8

    /// Packs `weight` [O, C, 1, 1] (or [O, C]); `epilogue` has O channels.
    public init(weight: Tensor, epilogue: BlockedEpilogue) {
        precondition(weight.rank == 2 || (weight.rank == 4 && weight.shape[2] == 1 && weight.shape[3] == 1),
                     "BlockedPointwiseConvolution: weight \(weight.shape) is not [O, C, 1, 1]")
        let (o, c) = (weight.shape[0], weight.shape[1])
        precondition(epilogue.padded == (o + 15) / 16 * 16, "BlockedPointwiseConvolution: epilogue for another width")
        let depth = (c + 15) / 16 * 16
        packed = packedInBlocksOf16(weight, rows: o, columns: c, paddedColumns: depth)
        (inputChannels, outputChannels, self.epilogue) = (c, o, epilogue)
    }

    /// The convolution of `x` (C channels), plus `residual` (O channels, same size) after the epilogue.
    public func callAsFunction(_ x: ChannelBlocked, residual: ChannelBlocked? = nil) -> ChannelBlocked {
        precondition(x.channels == inputChannels, "BlockedPointwiseConvolution: \(x.channels) channels in, expects \(inputChannels)")
        let (n, h, w) = (x.batch, x.height, x.width)
        let out = ChannelBlocked(batch: n, channels: outputChannels, height: h, width: w)
        if let residual {
            precondition(residual.storage.shape == out.storage.shape, "BlockedPointwiseConvolution: residual \(residual.storage.shape)")
        }
        let plane = h * w, inBlocks = x.blocks, outBlocks = out.blocks, depth = inBlocks * 16
        let tiles = (plane + Self.tilePixels - 1) / Self.tilePixels
        let chunks = (tiles + Self.tilesPerUnit - 1) / Self.tilesPerUnit
        let perTile = KernelTiling.outputBlocksPerTile, groups = (outBlocks + perTile - 1) / perTile
        let src = UnsafePointer(x.storage.data), dst = out.storage.data, wt = UnsafePointer(packed.data)
        let res = residual.map { UnsafePointer($0.storage.data) }
        let (scale, shift) = (epilogue.scale, epilogue.shift)
        let (low, high) = (Float16x(repeating: epilogue.low), Float16x(repeating: epilogue.high))
        let flops = 2 * n * plane * depth * outBlocks * 16
        parallelItems(n * groups * chunks, serial: flops < 1 << 20) { unit in
            do {
                let image = unit / (groups * chunks), group = (unit / chunks) % groups, chunk = unit % chunks
                let ob0 = group * perTile, nb = Swift.min(perTile, outBlocks - ob0)
                let xb = src + image * inBlocks * plane * 16
                let wb = wt + ob0 * depth * 16
                let ob = dst + (image * outBlocks + ob0) * plane * 16
                let rb = res.map { $0 + (image * outBlocks + ob0) * plane * 16 }
                let (sc, sh) = (scale + ob0 * 16, shift + ob0 * 16)
                for t in (chunk * Self.tilesPerUnit)..<Swift.min(tiles, (chunk + 1) * Self.tilesPerUnit) {
                    let p0 = t * Self.tilePixels, rows = Swift.min(Self.tilePixels, plane - p0)
                    let (xp, op, rp) = (xb + p0 * 16, ob + p0 * 16, rb.map { $0 + p0 * 16 })
                    func tile<B: BlockCount>(_ blocks: B.Type) {
                        if rows == Self.tilePixels {
                            Self.blockedPointwiseTile(blocks, SixRows.self, x: xp, plane: plane, rows: rows, inputBlocks: inBlocks,
                                                      w: wb, wStride: depth * 16, out: op, residual: rp, scale: sc, shift: sh,
                                                      low: low, high: high)
                        } else {
                            Self.blockedPointwiseTile(blocks, PartialRows.self, x: xp, plane: plane, rows: rows, inputBlocks: inBlocks,
                                                      w: wb, wStride: depth * 16, out: op, residual: rp, scale: sc, shift: sh,
                                                      low: low, high: high)
                        }
                    }
                    switch nb {
                    case 4: tile(FourBlocks.self)
                    case 3: tile(ThreeBlocks.self)
                    case 2: tile(TwoBlocks.self)
                    default: tile(OneBlock.self)
                    }
                }
            }
        }
        withExtendedLifetime((x, residual, packed, epilogue)) {}
        return out
    }

    /// One tile: `rows` (≤ 6) pixels × `Blocks.count` (≤ 4) blocks of 16 output channels, summed over every input
    /// channel in registers (24 accumulators at most), then scaled, shifted, clamped, added to the residual and stored.
    /// Per input channel it loads one weight vector per block and broadcasts one input value per pixel.
    @inline(__always)
    static func blockedPointwiseTile<Blocks: BlockCount, Rows: BlockCount>(_: Blocks.Type, _: Rows.Type, x: UnsafePointer<Float>,
                                                         plane: Int, rows: Int,
                                                         inputBlocks: Int, w: UnsafePointer<Float>, wStride: Int,
                                                         out: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?,
                                                         scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                                         low: Float16x, high: Float16x) {
        // A full tile (`SixRows`) computes 6 pixels with no checks; a partial one (`PartialRows`, the last tile of a
        // plane) only its `rows` pixels.
        let (nb, full) = (Blocks.count, Rows.count == 6)
        // Rows past `rows` re-read the first pixel; their sums are never stored.
        let o0 = 0, o1 = 1 < rows ? 16 : 0, o2 = 2 < rows ? 32 : 0, o3 = 3 < rows ? 48 : 0, o4 = 4 < rows ? 64 : 0, o5 = 5 < rows ? 80 : 0
        let z = Float16x(repeating: 0)
        var (s00, s01, s02, s03) = (z, z, z, z)
        var (s10, s11, s12, s13) = (z, z, z, z)
        var (s20, s21, s22, s23) = (z, z, z, z)
        var (s30, s31, s32, s33) = (z, z, z, z)
        var (s40, s41, s42, s43) = (z, z, z, z)
        var (s50, s51, s52, s53) = (z, z, z, z)
        for cb in 0..<inputBlocks {
            let xb = x + cb * plane * 16, wb = w + cb * 256
            for ci in 0..<16 {
                let wp = wb + ci * 16
                let w0 = load16(wp)
                let w1 = nb > 1 ? load16(wp + wStride) : z
                let w2 = nb > 2 ? load16(wp + 2 * wStride) : z
                let w3 = nb > 3 ? load16(wp + 3 * wStride) : z
                let x0 = Float16x(repeating: xb[o0 + ci])
                s00.addProduct(x0, w0); if nb > 1 { s01.addProduct(x0, w1) }; if nb > 2 { s02.addProduct(x0, w2) }; if nb > 3 { s03.addProduct(x0, w3) }
                if full || rows > 1 {
                    let x1 = Float16x(repeating: xb[o1 + ci])
                    s10.addProduct(x1, w0); if nb > 1 { s11.addProduct(x1, w1) }; if nb > 2 { s12.addProduct(x1, w2) }; if nb > 3 { s13.addProduct(x1, w3) }
                }
                if full || rows > 2 {
                    let x2 = Float16x(repeating: xb[o2 + ci])
                    s20.addProduct(x2, w0); if nb > 1 { s21.addProduct(x2, w1) }; if nb > 2 { s22.addProduct(x2, w2) }; if nb > 3 { s23.addProduct(x2, w3) }
                }
                if full || rows > 3 {
                    let x3 = Float16x(repeating: xb[o3 + ci])
                    s30.addProduct(x3, w0); if nb > 1 { s31.addProduct(x3, w1) }; if nb > 2 { s32.addProduct(x3, w2) }; if nb > 3 { s33.addProduct(x3, w3) }
                }
                if full || rows > 4 {
                    let x4 = Float16x(repeating: xb[o4 + ci])
                    s40.addProduct(x4, w0); if nb > 1 { s41.addProduct(x4, w1) }; if nb > 2 { s42.addProduct(x4, w2) }; if nb > 3 { s43.addProduct(x4, w3) }
                }
                if full || rows > 5 {
                    let x5 = Float16x(repeating: xb[o5 + ci])
                    s50.addProduct(x5, w0); if nb > 1 { s51.addProduct(x5, w1) }; if nb > 2 { s52.addProduct(x5, w2) }; if nb > 3 { s53.addProduct(x5, w3) }
                }
            }
        }
        @inline(__always) func put(_ v: Float16x, _ r: Int, _ b: Int) {
            let at = b * plane * 16 + r * 16
            var y = vmin(vmax(v * load16(scale + b * 16) + load16(shift + b * 16), low), high)
            if let residual { y += load16(residual + at) }
            store16(y, out + at)
        }
        do { put(s00, 0, 0); if nb > 1 { put(s01, 0, 1) }; if nb > 2 { put(s02, 0, 2) }; if nb > 3 { put(s03, 0, 3) } }
        if rows > 1 { put(s10, 1, 0); if nb > 1 { put(s11, 1, 1) }; if nb > 2 { put(s12, 1, 2) }; if nb > 3 { put(s13, 1, 3) } }
        if rows > 2 { put(s20, 2, 0); if nb > 1 { put(s21, 2, 1) }; if nb > 2 { put(s22, 2, 2) }; if nb > 3 { put(s23, 2, 3) } }
        if rows > 3 { put(s30, 3, 0); if nb > 1 { put(s31, 3, 1) }; if nb > 2 { put(s32, 3, 2) }; if nb > 3 { put(s33, 3, 3) } }
        if rows > 4 { put(s40, 4, 0); if nb > 1 { put(s41, 4, 1) }; if nb > 2 { put(s42, 4, 2) }; if nb > 3 { put(s43, 4, 3) } }
        if rows > 5 { put(s50, 5, 0); if nb > 1 { put(s51, 5, 1) }; if nb > 2 { put(s52, 5, 2) }; if nb > 3 { put(s53, 5, 3) } }
    }
}
