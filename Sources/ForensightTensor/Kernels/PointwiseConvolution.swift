/// Pointwise (1×1, stride 1, one group) convolution as our own register-tiled GEMM, per image:
/// out[o, p] = Σ_c W[o, c] · X[c, p], with the bias and the epilogue (folded BatchNorm, activation, residual) applied
/// as each tile is stored.
///
/// Why not OpenBLAS here: NCHW activations are already the GEMM's B operand with contiguous rows, so the weights are
/// read in place and B is only copied into aligned 16-column strips; the epilogue rides on the store instead of a
/// second pass over the output; and the work is split over our own threads, so OpenBLAS's worker threads do not spin
/// beside our other kernels. The order of the
/// sum over c is fixed (ascending, in blocks of `depth`), so results do not depend on the thread count.
extension Tensor {
    /// Output channels per register tile.
    static let pointwiseTileRows = 6
    /// Input channels per pass over a tile (keeps the B panel in L2 and the A rows in L1).
    static let pointwiseDepth = 256
    /// Pixel columns per unit of parallel work.
    static let pointwisePanel = 64
    /// Up to this many row blocks (6 output channels each) per unit, B is read in place instead of packed.
    static let pointwiseInPlaceRowBlocks = 8

    /// Whether the pointwise kernel computes this convolution's forward pass.
    static func pointwiseKernelApplies(_ geo: ConvGeometry) -> Bool { geo.isPointwise && geo.groups == 1 && geo.dh == 1 && geo.dw == 1 }

    /// Forward pass of a pointwise convolution. `x` [N, C, H, W], `weight` [O, C, 1, 1] → [N, O, H, W].
    static func pointwiseForward(_ x: Tensor, _ weight: Tensor, _ geo: ConvGeometry, bias: Tensor?,
                                 epilogue: ChannelEpilogue?) -> Tensor {
        let (k, m, p) = (geo.c, geo.o, geo.h * geo.w)
        let out = Tensor(uninitializedShape: [geo.n, m, geo.h, geo.w])
        let (scale, shift) = foldedAffine(channels: m, bias: bias, epilogue: epilogue)
        let affine = Tensor(scale + shift, shape: [2 * m])
        let (act, slopeStorage) = ActivationKernel.of(epilogue)
        let finish = TileEpilogue(scale: UnsafePointer(affine.data), shift: UnsafePointer(affine.data + m), activation: act)
        let src = UnsafePointer(x.data), dst = out.data, wt = UnsafePointer(weight.data)
        let residual = epilogue?.residual.map { UnsafePointer($0.data) }
        let rowBlocks = (m + pointwiseTileRows - 1) / pointwiseTileRows
        let panels = (p + pointwisePanel - 1) / pointwisePanel
        let units = geo.n * panels
        // Few pixel panels (late layers, small images): split the output channels too, so both threads have work.
        let wanted = 2 * ComputeThreads.available
        let rowGroups = units >= wanted ? 1 : Swift.min(rowBlocks, (wanted + units - 1) / units)
        let flops = 2 * k * m * p * geo.n
        let stripMajor = k >= 2 * pointwiseDepth
        parallelChunks(units * rowGroups, minimumPerThread: flops < 1 << 20 ? units * rowGroups : 1) { range in
            // The B panel packed as 16-column strips, each `depth` rows of 16 contiguous, aligned values (the last strip
            // zero-padded): every tile then streams whole cache lines.
            let strips = pointwisePanel / 16
            let raw = UnsafeMutableRawPointer.allocate(byteCount: strips * pointwiseDepth * 64, alignment: 64)
            defer { raw.deallocate() }
            let packed = raw.bindMemory(to: Float.self, capacity: strips * pointwiseDepth * 16)
            for unit in range {
                let group = unit % rowGroups, panel = (unit / rowGroups) % panels, image = unit / (rowGroups * panels)
                let rb0 = group * rowBlocks / rowGroups, rb1 = (group + 1) * rowBlocks / rowGroups
                let c0 = panel * pointwisePanel, cols = Swift.min(pointwisePanel, p - c0)
                let b = src + image * k * p + c0
                let c = dst + image * m * p + c0
                let r = residual.map { $0 + image * m * p + c0 }
                // A strip is worth packing only when many row blocks reuse it; with few output channels, whole
                // strips are read in place from the input rows.
                let inPlace = rb1 - rb0 <= pointwiseInPlaceRowBlocks
                var k0 = 0
                while k0 < k {
                    let depth = Swift.min(pointwiseDepth, k - k0)
                    var cb = 0
                    while cb < cols {
                        let width = Swift.min(16, cols - cb), strip = packed + (cb / 16) * depth * 16
                        if inPlace && width == 16 { cb += 16; continue }
                        if width < 16 { strip.initialize(repeating: 0, count: depth * 16) }
                        for kk in 0..<depth {
                            let from = b + (k0 + kk) * p + cb, to = strip + kk * 16
                            if width == 16 { store16(load16(from), to) } else { to.update(from: from, count: width) }
                        }
                        cb += 16
                    }
                    let last = k0 + depth == k
                    @inline(__always) func tile(_ rb: Int, _ sc: Int) {
                        let r0 = rb * pointwiseTileRows, rows = Swift.min(pointwiseTileRows, m - r0)
                        let width = Swift.min(16, cols - sc), direct = inPlace && width == 16
                        pointwiseTile(depth: depth, a: wt + r0 * k + k0, lda: k, rows: rows,
                                      b: direct ? b + k0 * p + sc : UnsafePointer(packed + (sc / 16) * depth * 16),
                                      ldb: direct ? p : 16,
                                      c: c + r0 * p + sc, ldc: p, width: width, accumulate: k0 > 0,
                                      finish: last ? finish : nil, channel: r0, residual: r.map { $0 + r0 * p + sc })
                    }
                    // Deep products (several passes) go strip by strip, so one strip stays in L1 while the weight
                    // rows stream past it; shallow ones go row block by row block (measured faster there).
                    if stripMajor {
                        for sc in stride(from: 0, to: cols, by: 16) { for rb in rb0..<rb1 { tile(rb, sc) } }
                    } else {
                        for rb in rb0..<rb1 { for sc in stride(from: 0, to: cols, by: 16) { tile(rb, sc) } }
                    }
                    k0 += depth
                }
            }
        }
        withExtendedLifetime((affine, slopeStorage, x, weight, epilogue)) {}
        return out
    }

    /// The largest im2col matrix (in floats, all images together) that `conv2d` builds for `im2colPointwiseForward`.
    static let im2colPointwiseLimit = 16 << 20

    /// Whether a convolution goes through im2col + the pointwise kernel: one group and a shallow patch
    /// (C·kh·kw ≤ 256, e.g. a stem on RGB), where OpenBLAS would spend more time packing than multiplying.
    static func im2colPointwiseApplies(_ geo: ConvGeometry) -> Bool {
        geo.groups == 1 && geo.patch <= 256 && geo.n * geo.patch * geo.oh * geo.ow <= im2colPointwiseLimit
    }

    /// A one-group convolution of any size, stride, padding and dilation as im2col followed by the pointwise kernel:
    /// the columns [N, C·kh·kw, 1, oh·ow] are the kernel's input, the weights [O, C·kh·kw] its 1×1 filters, and the
    /// bias and epilogue ride on the store as for a 1×1 convolution.
    static func im2colPointwiseForward(_ x: Tensor, _ weight: Tensor, _ geo: ConvGeometry, bias: Tensor?,
                                       epilogue: ChannelEpilogue?) -> Tensor {
        let p = geo.oh * geo.ow
        let columns = Tensor(uninitializedShape: [geo.n, geo.patch, 1, p])
        for i in 0..<geo.n { im2col(x.data + i * geo.c * geo.h * geo.w, columns.data + i * geo.patch * p, geo, group: 0) }
        let flat = ConvGeometry(n: geo.n, c: geo.patch, h: 1, w: p, o: geo.o, kh: 1, kw: 1, sh: 1, sw: 1, dh: 1, dw: 1,
                                groups: 1, pad: .zero)
        // A residual [N, O, oh, ow] has the memory layout of [N, O, 1, oh·ow], which is all the kernel reads.
        let out = pointwiseForward(columns, weight.reshaped([geo.o, geo.patch, 1, 1]), flat, bias: bias, epilogue: epilogue)
        return out.reshaped([geo.n, geo.o, geo.oh, geo.ow])
    }

    /// The per-channel map applied when a tile's last input-channel block is done.
    struct TileEpilogue {
        let scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, activation: ActivationKernel
    }

    /// One tile: up to 6 output channels × up to 16 pixels, summed over `depth` input channels with FMA in registers.
    ///
    /// `a`: the tile's first weight row (row stride `lda`); `b`: `depth` rows of 16 pixels (row stride `ldb`);
    /// `c`: the output tile (row stride `ldc`), read first when `accumulate`. Only `rows` × `width` values are stored.
    @inline(__always)
    static func pointwiseTile(depth: Int, a: UnsafePointer<Float>, lda: Int, rows: Int, b: UnsafePointer<Float>, ldb: Int,
                              c: UnsafeMutablePointer<Float>, ldc: Int, width: Int, accumulate: Bool,
                              finish: TileEpilogue?, channel: Int, residual: UnsafePointer<Float>?) {
        // Rows past the end re-read the first row; their sums are never stored.
        let a0 = a, a1 = rows > 1 ? a + lda : a, a2 = rows > 2 ? a + 2 * lda : a
        let a3 = rows > 3 ? a + 3 * lda : a, a4 = rows > 4 ? a + 4 * lda : a, a5 = rows > 5 ? a + 5 * lda : a
        // A last strip of at most 8 pixels (7×7 planes: 49 = 3·16 + 1) sums 8 lanes, not 16.
        let (s0, s1, s2, s3, s4, s5) = width <= 8
            ? widened(tileSums(depth: depth, a0, a1, a2, a3, a4, a5, b: b, ldb: ldb, SIMD8<Float>.self))
            : tileSums(depth: depth, a0, a1, a2, a3, a4, a5, b: b, ldb: ldb, Float16x.self)
        withUnsafeTemporaryAllocation(of: Float16x.self, capacity: 6) { sums in
            (sums[0], sums[1], sums[2], sums[3], sums[4], sums[5]) = (s0, s1, s2, s3, s4, s5)
            for i in 0..<rows {
                let row = c + i * ldc
                var v = sums[i]
                if accumulate { v += width == 16 ? load16(row) : partialLoad(UnsafePointer(row), width) }
                if let finish {
                    let ch = channel + i
                    v = finish.activation.apply(v * finish.scale[ch] + finish.shift[ch], channel: ch)
                    if let residual { v += width == 16 ? load16(residual + i * ldc) : partialLoad(residual + i * ldc, width) }
                }
                if width == 16 { store16(v, row) } else { for j in 0..<width { row[j] = v[j] } }
            }
        }
    }

    /// Σ_k a_i[k] · b[k, lanes] for six weight rows, in `V.scalarCount` lanes (12 AVX2 registers at 16 lanes).
    @inline(__always)
    static func tileSums<V: SIMD>(depth: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ a2: UnsafePointer<Float>,
                                  _ a3: UnsafePointer<Float>, _ a4: UnsafePointer<Float>, _ a5: UnsafePointer<Float>,
                                  b: UnsafePointer<Float>, ldb: Int, _: V.Type) -> (V, V, V, V, V, V) where V.Scalar == Float {
        var s0 = V(repeating: 0), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0
        var pb = b
        for kk in 0..<depth {
            let v = UnsafeRawPointer(pb).loadUnaligned(as: V.self)
            s0.addProduct(V(repeating: a0[kk]), v)
            s1.addProduct(V(repeating: a1[kk]), v)
            s2.addProduct(V(repeating: a2[kk]), v)
            s3.addProduct(V(repeating: a3[kk]), v)
            s4.addProduct(V(repeating: a4[kk]), v)
            s5.addProduct(V(repeating: a5[kk]), v)
            pb += ldb
        }
        return (s0, s1, s2, s3, s4, s5)
    }

    /// Eight-lane sums in the low half of 16 lanes.
    @inline(__always)
    static func widened(_ s: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>))
    -> (Float16x, Float16x, Float16x, Float16x, Float16x, Float16x) {
        let z = SIMD8<Float>(repeating: 0)
        return (Float16x(lowHalf: s.0, highHalf: z), Float16x(lowHalf: s.1, highHalf: z), Float16x(lowHalf: s.2, highHalf: z),
                Float16x(lowHalf: s.3, highHalf: z), Float16x(lowHalf: s.4, highHalf: z), Float16x(lowHalf: s.5, highHalf: z))
    }

    /// The first `n` (< 16) values at `p`, zeros after.
    @inline(__always)
    static func partialLoad(_ p: UnsafePointer<Float>, _ n: Int) -> Float16x {
        var v = Float16x(repeating: 0)
        for j in 0..<n { v[j] = p[j] }
        return v
    }
}
