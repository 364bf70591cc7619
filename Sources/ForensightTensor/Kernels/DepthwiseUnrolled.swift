/// Depthwise forward kernels with the taps unrolled, for the square 3×3 and 5×5 filters at stride 1 or 2 that
/// MobileNet-style networks use (EfficientNet-Lite has only these).
///
/// Each (image, channel) plane is copied once into a zero-padded scratch plane. At stride 2 every padded row is
/// split into its even and odd columns, so tap kj of output column x reads column x + kj/2 of one half: contiguous
/// loads, no lane shuffles. Two output rows are computed at once and the taps alternate between two accumulators,
/// giving the FMA units independent chains to overlap.
extension Tensor {
    /// Whether `geo` has an unrolled kernel.
    static func unrolledDepthwiseApplies(_ geo: ConvGeometry) -> Bool {
        geo.kh == geo.kw && (geo.kh == 3 || geo.kh == 5) && geo.sh == geo.sw && (geo.sh == 1 || geo.sh == 2)
            && geo.dh == 1 && geo.dw == 1
    }

    /// Writes `count` values of one input row into a stride-2 padded row: padded column `firstColumn + j` goes to
    /// `(column & 1) · half + column / 2`, i.e. even columns to the first half, odd ones to the second.
    @inline(__always)
    static func splitColumns(_ source: UnsafePointer<Float>, count: Int, into row: UnsafeMutablePointer<Float>,
                             firstColumn: Int, half: Int) {
        let evenStart = row + (firstColumn & 1) * half + firstColumn >> 1             // where j = 0, 2, 4, … go
        let oddStart = row + ((firstColumn + 1) & 1) * half + (firstColumn + 1) >> 1  // where j = 1, 3, 5, … go
        let pairs = count >> 1
        var t = 0
        while t + 16 <= pairs {
            let v = UnsafeRawPointer(source + 2 &* t).loadUnaligned(as: SIMD32<Float>.self)
            store16(v.evenHalf, evenStart + t)
            store16(v.oddHalf, oddStart + t)
            t += 16
        }
        for t in t..<pairs {
            evenStart[t] = source[2 &* t]
            oddStart[t] = source[2 &* t &+ 1]
        }
        if count & 1 == 1 { evenStart[pairs] = source[count - 1] }
    }

    /// Forward depthwise convolution with the bias and `epilogue` applied as each output vector is stored.
    static func unrolledDepthwiseForward(_ x: Tensor, _ weight: Tensor, _ geo: ConvGeometry, bias: Tensor?,
                                         epilogue: ChannelEpilogue?) -> Tensor {
        let out = Tensor(uninitializedShape: [geo.n, geo.o, geo.oh, geo.ow])
        let (h, w, k, s) = (geo.h, geo.w, geo.kh, geo.sh)
        let lanes = geo.ow <= 8 ? 8 : 16
        let blocks = (geo.ow + lanes - 1) / lanes
        let paddedWidth = w + geo.pad.left + geo.pad.right
        // Row layout: stride 1, one padded row; stride 2, its even columns then its odd columns, `half` apart.
        let half = Swift.max((paddedWidth + 1) / 2, blocks * lanes + k / 2 + 1)
        let rowStride = s == 1 ? Swift.max(paddedWidth, blocks * lanes + k) : 2 * half
        let paddedRows = h + geo.pad.top + geo.pad.bottom + s   // an unpaired last row still reads s rows further
        let (scale, shift) = Tensor.foldedAffine(channels: geo.o, bias: bias, epilogue: epilogue)
        let affine = Tensor(scale + shift, shape: [2 * geo.o])
        let (act, slopeStorage) = ActivationKernel.of(epilogue)
        let plan = DepthwisePlan(geo: geo, rowStride: rowStride, half: half, scale: UnsafePointer(affine.data),
                                 shift: UnsafePointer(affine.data + geo.o), activation: act)
        let src = UnsafePointer(x.data), dst = out.data, wt = UnsafePointer(weight.data)
        let residual = epilogue?.residual.map { UnsafePointer($0.data) }
        parallelChunks(geo.n * geo.c, minimumPerThread: 1) { planes in
            let padded = UnsafeMutablePointer<Float>.allocate(capacity: paddedRows * rowStride)
            defer { padded.deallocate() }
            // Padding cells are never written after this, so they stay zero for every plane.
            padded.initialize(repeating: 0, count: paddedRows * rowStride)
            for pl in planes {
                let plane = src + pl * h * w
                for i in 0..<h {
                    let row = padded + (i + geo.pad.top) * rowStride
                    if s == 1 { (row + geo.pad.left).update(from: plane + i * w, count: w); continue }
                    splitColumns(plane + i * w, count: w, into: row, firstColumn: geo.pad.left, half: half)
                }
                let c = pl % geo.c
                let job = DepthwisePlane(input: UnsafePointer(padded), taps: wt + c * k * k, output: dst + pl * geo.oh * geo.ow,
                                         residual: residual.map { $0 + pl * geo.oh * geo.ow }, channel: c)
                switch (k, s, lanes) {
                case (3, 1, 16): plan.run(job, Taps3.self, Stride1.self, SIMD16<Float>.self)
                case (3, 2, 16): plan.run(job, Taps3.self, Stride2.self, SIMD16<Float>.self)
                case (5, 1, 16): plan.run(job, Taps5.self, Stride1.self, SIMD16<Float>.self)
                case (5, 2, 16): plan.run(job, Taps5.self, Stride2.self, SIMD16<Float>.self)
                case (3, 1, _): plan.run(job, Taps3.self, Stride1.self, SIMD8<Float>.self)
                case (3, 2, _): plan.run(job, Taps3.self, Stride2.self, SIMD8<Float>.self)
                case (5, 1, _): plan.run(job, Taps5.self, Stride1.self, SIMD8<Float>.self)
                default: plan.run(job, Taps5.self, Stride2.self, SIMD8<Float>.self)
                }
            }
        }
        withExtendedLifetime((affine, slopeStorage, x, weight, epilogue)) {}
        return out
    }
}

/// A compile-time integer (filter size or stride), so generic specialisation unrolls the tap loops.
protocol KernelConstant { static var value: Int { get } }
enum Taps3: KernelConstant { static var value: Int { 3 } }
enum Taps5: KernelConstant { static var value: Int { 5 } }
enum Stride1: KernelConstant { static var value: Int { 1 } }
enum Stride2: KernelConstant { static var value: Int { 2 } }

/// One plane's pointers for `DepthwisePlan.run`.
struct DepthwisePlane {
    let input: UnsafePointer<Float>, taps: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>
    let residual: UnsafePointer<Float>?, channel: Int
}

/// What every plane of one depthwise convolution shares: geometry, scratch layout, the folded affine map.
struct DepthwisePlan {
    let outputRows: Int, outputColumns: Int, rowStride: Int, half: Int
    let scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, activation: ActivationKernel

    init(geo: ConvGeometry, rowStride: Int, half: Int, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
         activation: ActivationKernel) {
        (outputRows, outputColumns, self.rowStride, self.half) = (geo.oh, geo.ow, rowStride, half)
        (self.scale, self.shift, self.activation) = (scale, shift, activation)
    }

    /// Computes one plane with a `K.value`² filter at stride `S.value`, `V.scalarCount` output columns at a time.
    func run<K: KernelConstant, S: KernelConstant, V: SIMD>(_ job: DepthwisePlane, _: K.Type, _: S.Type, _: V.Type)
    where V.Scalar == Float {
        let (oh, ow, lanes, k, stride) = (outputRows, outputColumns, V.scalarCount, K.value, S.value)
        @inline(__always) func taps(_ a0: inout V, _ a1: inout V, row: UnsafePointer<Float>, filterRow: Int) {
            for kj in 0..<k {
                let v = load(row + (stride == 1 ? kj : (kj & 1) * half + kj >> 1), V.self)
                let tap = V(repeating: job.taps[filterRow * k + kj])
                if kj & 1 == 0 { a0.addProduct(tap, v) } else { a1.addProduct(tap, v) }
            }
        }
        var y = 0
        // Rows y and y + 1 together: input row r feeds row y through filter row r and row y + 1 through r − stride.
        while y + 1 < oh {
            var xb = 0
            while xb < ow {
                var a0 = V(repeating: 0), a1 = a0, b0 = a0, b1 = a0
                let base = job.input + y * stride * rowStride + xb
                for r in 0..<stride { taps(&a0, &a1, row: base + r * rowStride, filterRow: r) }
                for r in stride..<k {
                    taps(&a0, &a1, row: base + r * rowStride, filterRow: r)
                    taps(&b0, &b1, row: base + r * rowStride, filterRow: r - stride)
                }
                for r in k..<(k + stride) { taps(&b0, &b1, row: base + r * rowStride, filterRow: r - stride) }
                let m = Swift.min(lanes, ow - xb)
                finish(a0 + a1, job, offset: y * ow + xb, count: m)
                finish(b0 + b1, job, offset: (y + 1) * ow + xb, count: m)
                xb += lanes
            }
            y += 2
        }
        if y < oh {
            var xb = 0
            while xb < ow {
                var a0 = V(repeating: 0), a1 = a0
                let base = job.input + y * stride * rowStride + xb
                for r in 0..<k { taps(&a0, &a1, row: base + r * rowStride, filterRow: r) }
                finish(a0 + a1, job, offset: y * ow + xb, count: Swift.min(lanes, ow - xb))
                xb += lanes
            }
        }
    }

    @inline(__always)
    func load<V: SIMD>(_ p: UnsafePointer<Float>, _: V.Type) -> V where V.Scalar == Float {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    /// Affine map, activation and residual on `count` outputs from `offset`, then the store (in 16 lanes: the
    /// vector helpers are written for that width).
    @inline(__always)
    func finish<V: SIMD>(_ sum: V, _ job: DepthwisePlane, offset: Int, count: Int) where V.Scalar == Float {
        let c = job.channel
        var v = V.self == Float16x.self ? unsafeBitCast(sum, to: Float16x.self)
            : Float16x(lowHalf: unsafeBitCast(sum, to: SIMD8<Float>.self), highHalf: SIMD8(repeating: 0))
        v = activation.apply(v * scale[c] + shift[c], channel: c)
        let out = job.output + offset
        // When a row is one partial vector, it is stored whole if it stays inside the plane: the columns it spills
        // into are the next row's, stored later (rows go top to bottom), which overwrites them.
        let spill = outputColumns < V.scalarCount && outputRows * outputColumns - offset >= V.scalarCount
        if count == 16 || (V.scalarCount == 16 && spill) {
            if let r = job.residual { v += load16(r + offset) }
            store16(v, out)
        } else if count == 8 || (V.scalarCount == 8 && spill) {
            var low = v.lowHalf
            if let r = job.residual { low += UnsafeRawPointer(r + offset).loadUnaligned(as: SIMD8<Float>.self) }
            UnsafeMutableRawPointer(out).storeBytes(of: low, as: SIMD8<Float>.self)
        } else {
            for j in 0..<count { out[j] = v[j] + (job.residual?[offset + j] ?? 0) }
        }
    }
}
