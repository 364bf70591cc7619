/// A linear layer y = x·Wᵀ + b with its weights packed once into blocks of 16 output features
/// ([⌈O/16⌉, K, 16]), for inference: each input value is broadcast against one weight vector per output block, in
/// register tiles of 6 rows × 64 outputs (AVX-512; 6 × 16 with AVX2's smaller register file, `KernelTiling`), with the bias, an activation and a residual add applied as tiles are
/// stored. OpenBLAS packs the weight matrix again on every call; here it was packed when the layer was built.
/// The sum over the inputs runs in ascending order, in passes of `depthPass`, so results do not depend on the
/// thread count.
public struct PackedLinear: @unchecked Sendable {
    /// Weights [⌈O/16⌉, K, 16]: output o of input k at [o / 16, k, o % 16], zero-padded.
    let packed: Tensor
    /// The bias padded to whole blocks (zeros without one).
    let bias: Tensor
    /// Input features (K) and output features (O).
    public let inputFeatures: Int, outputFeatures: Int

    /// Inputs per pass over a tile (keeps the weight panel of one tile's blocks in cache; `KernelTiling`).
    static let depthPass = KernelTiling.linearDepthPass
    /// Row tiles per unit of parallel work.
    static let tilesPerUnit = 16

    /// Packs `weight` [O, K] and `bias` [O].
    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank == 2, "PackedLinear: weight \(weight.shape) is not [O, K]")
        let (o, k) = (weight.shape[0], weight.shape[1])
        if let bias { precondition(bias.shape == [o], "PackedLinear: bias \(bias.shape) for \(o) outputs") }
        let blocks = (o + 15) / 16
        packed = packedInBlocksOf16(weight, rows: o, columns: k, paddedColumns: k)
        self.bias = Tensor.zeros([blocks * 16])
        if let bias { self.bias.data.update(from: bias.data, count: o) }
        (inputFeatures, outputFeatures) = (k, o)
    }

    /// `x` [..., K] → [..., O], then `activation` (if any), then + `residual` ([..., O]; needs O a multiple of 16).
    public func callAsFunction(_ x: Tensor, activation: PointwiseKernel? = nil, residual: Tensor? = nil) -> Tensor {
        precondition(x.rank >= 1 && x.shape.last == inputFeatures, "PackedLinear: input \(x.shape), expects [..., \(inputFeatures)]")
        let (k, o) = (inputFeatures, outputFeatures), m = x.count / Swift.max(k, 1)
        let blocks = (o + 15) / 16, ldo = blocks * 16
        let outShape = Array(x.shape.dropLast()) + [o]
        if let residual { precondition(residual.shape == outShape && o % 16 == 0, "PackedLinear: residual \(residual.shape)") }
        // With O not a multiple of 16 the tiles fill a padded [M, ⌈O/16⌉·16] buffer, compacted afterwards.
        let full = Tensor(uninitializedShape: o == ldo ? outShape : [m, ldo])
        let perTile = KernelTiling.outputBlocksPerTile
        let tiles = (m + 5) / 6, chunks = (tiles + Self.tilesPerUnit - 1) / Self.tilesPerUnit, groups = (blocks + perTile - 1) / perTile
        let src = UnsafePointer(x.data), dst = full.data, wt = UnsafePointer(packed.data), b = UnsafePointer(bias.data)
        let res = residual.map { UnsafePointer($0.data) }
        parallelItems(groups * chunks, serial: 2 * m * k * o < 1 << 20) { item in
            let group = item / chunks, chunk = item % chunks
            let ob0 = group * perTile, nb = Swift.min(perTile, blocks - ob0)
            let t0 = chunk * Self.tilesPerUnit, t1 = Swift.min(tiles, t0 + Self.tilesPerUnit)
            var k0 = 0
            while k0 < k {
                let depth = Swift.min(Self.depthPass, k - k0), last = k0 + depth == k
                for t in t0..<t1 {
                    let r0 = t * 6, rows = Swift.min(6, m - r0)
                    let xp = src + r0 * k + k0, wp = wt + (ob0 * k + k0) * 16, op = dst + r0 * ldo + ob0 * 16
                    let finish = last ? PackedLinearEpilogue(bias: b + ob0 * 16, activation: activation,
                                                             residual: res.map { $0 + r0 * o + ob0 * 16 }, ldr: o) : nil
                    switch nb {
                    case 4: Self.packedLinearTile(FourBlocks.self, x: xp, ldx: k, rows: rows, depth: depth, w: wp, wStride: k * 16,
                                                  out: op, ldo: ldo, accumulate: k0 > 0, finish: finish)
                    case 3: Self.packedLinearTile(ThreeBlocks.self, x: xp, ldx: k, rows: rows, depth: depth, w: wp, wStride: k * 16,
                                                  out: op, ldo: ldo, accumulate: k0 > 0, finish: finish)
                    case 2: Self.packedLinearTile(TwoBlocks.self, x: xp, ldx: k, rows: rows, depth: depth, w: wp, wStride: k * 16,
                                                  out: op, ldo: ldo, accumulate: k0 > 0, finish: finish)
                    default: Self.packedLinearTile(OneBlock.self, x: xp, ldx: k, rows: rows, depth: depth, w: wp, wStride: k * 16,
                                                   out: op, ldo: ldo, accumulate: k0 > 0, finish: finish)
                    }
                }
                k0 += depth
            }
        }
        withExtendedLifetime((x, residual, packed, bias)) {}
        if o == ldo { return full }
        let out = Tensor(uninitializedShape: outShape)
        for r in 0..<m { (out.data + r * o).update(from: full.data + r * ldo, count: o) }
        return out
    }

    /// One tile: `rows` (≤ 6) rows × `Blocks.count` (≤ 4) blocks of 16 outputs over `depth` inputs, added to `out`
    /// when `accumulate`; with `finish`, the bias, activation and residual are applied as the tile is stored.
    @inline(__always)
    static func packedLinearTile<Blocks: BlockCount>(_: Blocks.Type, x: UnsafePointer<Float>, ldx: Int, rows: Int, depth: Int,
                                                     w: UnsafePointer<Float>, wStride: Int, out: UnsafeMutablePointer<Float>,
                                                     ldo: Int, accumulate: Bool, finish: PackedLinearEpilogue?) {
        let nb = Blocks.count
        let x0 = x, x1 = x + (rows > 1 ? 1 : 0) * ldx, x2 = x + (rows > 2 ? 2 : 0) * ldx, x3 = x + (rows > 3 ? 3 : 0) * ldx, x4 = x + (rows > 4 ? 4 : 0) * ldx, x5 = x + (rows > 5 ? 5 : 0) * ldx
        let z = Float16x(repeating: 0)
        var (s00, s01, s02, s03) = (z, z, z, z)
        var (s10, s11, s12, s13) = (z, z, z, z)
        var (s20, s21, s22, s23) = (z, z, z, z)
        var (s30, s31, s32, s33) = (z, z, z, z)
        var (s40, s41, s42, s43) = (z, z, z, z)
        var (s50, s51, s52, s53) = (z, z, z, z)
        var wp = w
        for kk in 0..<depth {
            let w0 = load16(wp)
            let w1 = nb > 1 ? load16(wp + wStride) : z
            let w2 = nb > 2 ? load16(wp + 2 * wStride) : z
            let w3 = nb > 3 ? load16(wp + 3 * wStride) : z
            let v0 = Float16x(repeating: x0[kk])
            s00.addProduct(v0, w0); if nb > 1 { s01.addProduct(v0, w1) }; if nb > 2 { s02.addProduct(v0, w2) }; if nb > 3 { s03.addProduct(v0, w3) }
            let v1 = Float16x(repeating: x1[kk])
            s10.addProduct(v1, w0); if nb > 1 { s11.addProduct(v1, w1) }; if nb > 2 { s12.addProduct(v1, w2) }; if nb > 3 { s13.addProduct(v1, w3) }
            let v2 = Float16x(repeating: x2[kk])
            s20.addProduct(v2, w0); if nb > 1 { s21.addProduct(v2, w1) }; if nb > 2 { s22.addProduct(v2, w2) }; if nb > 3 { s23.addProduct(v2, w3) }
            let v3 = Float16x(repeating: x3[kk])
            s30.addProduct(v3, w0); if nb > 1 { s31.addProduct(v3, w1) }; if nb > 2 { s32.addProduct(v3, w2) }; if nb > 3 { s33.addProduct(v3, w3) }
            let v4 = Float16x(repeating: x4[kk])
            s40.addProduct(v4, w0); if nb > 1 { s41.addProduct(v4, w1) }; if nb > 2 { s42.addProduct(v4, w2) }; if nb > 3 { s43.addProduct(v4, w3) }
            let v5 = Float16x(repeating: x5[kk])
            s50.addProduct(v5, w0); if nb > 1 { s51.addProduct(v5, w1) }; if nb > 2 { s52.addProduct(v5, w2) }; if nb > 3 { s53.addProduct(v5, w3) }
            wp += 16
        }
        @inline(__always) func put(_ v: Float16x, _ r: Int, _ b: Int) {
            let at = out + r * ldo + b * 16
            var y = v
            if accumulate { y += load16(at) }
            if let finish { y = finish.apply(y, row: r, block: b) }
            store16(y, at)
        }
        do { put(s00, 0, 0); if nb > 1 { put(s01, 0, 1) }; if nb > 2 { put(s02, 0, 2) }; if nb > 3 { put(s03, 0, 3) } }
        if rows > 1 { put(s10, 1, 0); if nb > 1 { put(s11, 1, 1) }; if nb > 2 { put(s12, 1, 2) }; if nb > 3 { put(s13, 1, 3) } }
        if rows > 2 { put(s20, 2, 0); if nb > 1 { put(s21, 2, 1) }; if nb > 2 { put(s22, 2, 2) }; if nb > 3 { put(s23, 2, 3) } }
        if rows > 3 { put(s30, 3, 0); if nb > 1 { put(s31, 3, 1) }; if nb > 2 { put(s32, 3, 2) }; if nb > 3 { put(s33, 3, 3) } }
        if rows > 4 { put(s40, 4, 0); if nb > 1 { put(s41, 4, 1) }; if nb > 2 { put(s42, 4, 2) }; if nb > 3 { put(s43, 4, 3) } }
        if rows > 5 { put(s50, 5, 0); if nb > 1 { put(s51, 5, 1) }; if nb > 2 { put(s52, 5, 2) }; if nb > 3 { put(s53, 5, 3) } }
    }
}

/// What a `PackedLinear` tile applies as it stores its final sums: bias, activation, residual.
struct PackedLinearEpilogue {
    let bias: UnsafePointer<Float>
    let activation: PointwiseKernel?
    let residual: UnsafePointer<Float>?
    let ldr: Int

    @inline(__always) func apply(_ v: Float16x, row r: Int, block b: Int) -> Float16x {
        var y = v + load16(bias + b * 16)
        if let activation { y = activation.apply(y) }
        if let residual { y += load16(residual + r * ldr + b * 16) }
        return y
    }
}
