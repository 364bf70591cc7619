import Dispatch
/// Zero padding of a 2-D convolution or pooling window, per side.
public struct Padding2D: Equatable, Sendable {
    public var top: Int, bottom: Int, left: Int, right: Int
    public init(top: Int, bottom: Int, left: Int, right: Int) {
        precondition(top >= 0 && bottom >= 0 && left >= 0 && right >= 0, "negative padding")
        (self.top, self.bottom, self.left, self.right) = (top, bottom, left, right)
    }
    /// The same padding on both sides of each axis (PyTorch `padding=(h, w)`).
    public static func symmetric(_ h: Int, _ w: Int) -> Padding2D { Padding2D(top: h, bottom: h, left: w, right: w) }
    /// No padding.
    public static let zero = Padding2D(top: 0, bottom: 0, left: 0, right: 0)
    /// TensorFlow "SAME": output extent ⌈in/stride⌉, the odd pixel of padding goes after (bottom/right).
    public static func same(height: Int, width: Int, kernel: (Int, Int), stride: (Int, Int), dilation: (Int, Int) = (1, 1)) -> Padding2D {
        func split(_ input: Int, _ k: Int, _ s: Int, _ d: Int) -> (Int, Int) {
            let out = (input + s - 1) / s
            let total = Swift.max((out - 1) * s + (k - 1) * d + 1 - input, 0)
            return (total / 2, total - total / 2)
        }
        let (t, b) = split(height, kernel.0, stride.0, dilation.0), (l, r) = split(width, kernel.1, stride.1, dilation.1)
        return Padding2D(top: t, bottom: b, left: l, right: r)
    }
}

/// Geometry of one 2-D convolution, shared by the kernels and their backward passes.
struct ConvGeometry {
    let n: Int, c: Int, h: Int, w: Int, o: Int, kh: Int, kw: Int
    let sh: Int, sw: Int, dh: Int, dw: Int, groups: Int, pad: Padding2D
    var oh: Int { (h + pad.top + pad.bottom - dh * (kh - 1) - 1) / sh + 1 }
    var ow: Int { (w + pad.left + pad.right - dw * (kw - 1) - 1) / sw + 1 }
    var cg: Int { c / groups }
    var og: Int { o / groups }
    var patch: Int { cg * kh * kw }
    var isPointwise: Bool { kh == 1 && kw == 1 && sh == 1 && sw == 1 && pad == .zero }
    var isDepthwise: Bool { groups == c && o == c && groups > 1 }
}

extension Tensor {
    /// 2-D cross-correlation (PyTorch `F.conv2d`).
    ///
    /// `x`: [N, C, H, W]; `weight`: [O, C/groups, kh, kw]; `bias`: [O] or nil.
    /// Output [N, O, (H + pt + pb − d(kh−1) − 1)/s + 1, …]. Depthwise convolutions (groups = C = O) use a direct kernel,
    /// pointwise ones (1×1, one group) our tiled GEMM, shallow one-group ones (C·kh·kw ≤ 256, e.g. a stem) im2col + our
    /// tiled GEMM, the rest im2col + OpenBLAS GEMM. An `epilogue` (inference only: nothing may
    /// need gradients) applies a per-channel affine map, an activation and a residual add in the same pass — e.g. a
    /// folded BatchNorm + ReLU6.
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1),
                              padding: Padding2D = .zero, dilation: (Int, Int) = (1, 1), groups: Int = 1,
                              epilogue: ChannelEpilogue? = nil) -> Tensor {
        precondition(x.rank == 4 && weight.rank == 4, "conv2d: input \(x.shape), weight \(weight.shape)")
        let geo = ConvGeometry(n: x.shape[0], c: x.shape[1], h: x.shape[2], w: x.shape[3], o: weight.shape[0],
                               kh: weight.shape[2], kw: weight.shape[3], sh: stride.0, sw: stride.1,
                               dh: dilation.0, dw: dilation.1, groups: groups, pad: padding)
        precondition(groups > 0 && geo.c % groups == 0 && geo.o % groups == 0 && weight.shape[1] == geo.cg,
                     "conv2d: \(geo.c) input channels, weight \(weight.shape), groups \(groups)")
        precondition(geo.oh > 0 && geo.ow > 0, "conv2d: input \(x.shape) too small for kernel \(weight.shape)")
        if let bias { precondition(bias.shape == [geo.o], "conv2d bias \(bias.shape) for \(geo.o) channels") }
        if let residual = epilogue?.residual { precondition(residual.shape == [geo.n, geo.o, geo.oh, geo.ow], "conv2d residual \(residual.shape)") }
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        precondition(epilogue == nil || !GradMode.isEnabled || !inputs.contains(where: \.requiresGrad),
                     "conv2d epilogues are for inference; run under withoutGrad or without requiresGrad")
        if geo.isDepthwise { return depthwiseForward(x, weight, geo, bias: bias, epilogue: epilogue).recorded(inputs) { g in
            let (gx, gw) = depthwiseBackward(x, weight, g, geo, needX: x.requiresGrad, needW: weight.requiresGrad)
            return [gx, gw, bias?.requiresGrad == true ? g.sum(axes: [0, 2, 3]) : nil]
        } }
        // Every non-depthwise forward kernel shares one backward: im2col + OpenBLAS GEMM.
        let gemmBackward = { (g: Tensor) -> [Tensor?] in
            let (gx, gw) = gemmConvBackward(x, weight, g, geo, needX: x.requiresGrad, needW: weight.requiresGrad)
            return [gx, gw, bias?.requiresGrad == true ? g.sum(axes: [0, 2, 3]) : nil]
        }
        let fast: Tensor?
        if pointwiseKernelApplies(geo) {
            fast = pointwiseForward(x, weight, geo, bias: bias, epilogue: epilogue)
        } else if directConvolutionApplies(geo) && epilogue?.residual == nil {
            fast = directConvForward(x, weight, geo, bias: bias, epilogue: epilogue)
        } else if im2colPointwiseApplies(geo) {
            fast = im2colPointwiseForward(x, weight, geo, bias: bias, epilogue: epilogue)
        } else {
            fast = nil
        }
        if let fast { return epilogue != nil ? fast : fast.recorded(inputs, gemmBackward) }
        let out = gemmConvForward(x, weight, geo)
        if let epilogue {
            let (scale, shift) = foldedAffine(channels: geo.o, bias: bias, epilogue: epilogue)
            var folded = epilogue
            (folded.scale, folded.shift) = (scale, shift)
            folded.apply(to: out)
            return out
        }
        if let bias { addChannelBias(out, bias) }
        return out.recorded(inputs, gemmBackward)
    }

    /// Adds `bias[c]` to every element of channel c of an [N, C, H, W] tensor, in place.
    static func addChannelBias(_ out: Tensor, _ bias: Tensor) {
        let (n, c) = (out.shape[0], out.shape[1]), plane = out.count / Swift.max(n * c, 1)
        let p = out.data, b = bias.data
        parallelChunks(n * c, minimumPerThread: Swift.max(1, 8192 / Swift.max(plane, 1))) { r in
            for i in r { let v = b[i % c]; let d = p + i * plane; for j in 0..<plane { d[j] += v } }
        }
    }

    /// Unfolds one image's group `g` into columns [cg·kh·kw, oh·ow].
    static func im2col(_ src: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, _ geo: ConvGeometry, group: Int) {
        let (oh, ow) = (geo.oh, geo.ow)
        parallelChunks(geo.patch, minimumPerThread: Swift.max(1, 4096 / Swift.max(oh * ow, 1))) { rows in
            for row in rows {
                let kj = row % geo.kw, ki = (row / geo.kw) % geo.kh, ch = row / (geo.kw * geo.kh) + group * geo.cg
                let plane = src + ch * geo.h * geo.w
                let dst = col + row * oh * ow
                for y in 0..<oh {
                    let iy = y * geo.sh - geo.pad.top + ki * geo.dh
                    let d = dst + y * ow
                    if iy < 0 || iy >= geo.h { d.update(repeating: 0, count: ow); continue }
                    let line = plane + iy * geo.w
                    let x0 = kj * geo.dw - geo.pad.left
                    // Output columns whose input column x·sw + x0 lies inside the row; zeros on either side.
                    let valid = validColumns(geo, kj: kj)
                    let (lo, hi) = (Swift.min(valid.lowerBound, ow), Swift.min(valid.upperBound, ow))
                    d.update(repeating: 0, count: lo)
                    if geo.sw == 1 { (d + lo).update(from: line + x0 + lo, count: hi - lo) }
                    else { for x in lo..<hi { d[x] = line[x &* geo.sw &+ x0] } }
                    (d + hi).update(repeating: 0, count: ow - hi)
                }
            }
        }
    }

    /// Adds columns [cg·kh·kw, oh·ow] back into one image's group `g` (the adjoint of `im2col`).
    static func col2im(_ col: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ geo: ConvGeometry, group: Int) {
        let (oh, ow) = (geo.oh, geo.ow)
        parallelChunks(geo.cg, minimumPerThread: 1) { chans in
            for cl in chans {
                let plane = dst + (cl + group * geo.cg) * geo.h * geo.w
                for ki in 0..<geo.kh {
                    for kj in 0..<geo.kw {
                        let src = col + ((cl * geo.kh + ki) * geo.kw + kj) * oh * ow
                        for y in 0..<oh {
                            let iy = y * geo.sh - geo.pad.top + ki * geo.dh
                            if iy < 0 || iy >= geo.h { continue }
                            for x in 0..<ow {
                                let ix = x * geo.sw - geo.pad.left + kj * geo.dw
                                if ix >= 0 && ix < geo.w { plane[iy * geo.w + ix] += src[y * ow + x] }
                            }
                        }
                    }
                }
            }
        }
    }

    static func gemmConvForward(_ x: Tensor, _ weight: Tensor, _ geo: ConvGeometry) -> Tensor {
        let out = Tensor(uninitializedShape: [geo.n, geo.o, geo.oh, geo.ow])
        let p = geo.oh * geo.ow
        let col = geo.isPointwise ? nil : TensorStorage(count: geo.patch * p)
        for i in 0..<geo.n {
            for g in 0..<geo.groups {
                let image = x.data + i * geo.c * geo.h * geo.w
                let b: UnsafePointer<Float>
                if let col { im2col(image, col.pointer, geo, group: g); b = UnsafePointer(col.pointer) }
                else { b = UnsafePointer(image + g * geo.cg * p) }
                columnParallelSgemm(m: geo.og, n: p, k: geo.patch, a: weight.data + g * geo.og * geo.patch, b: b,
                                    c: out.data + (i * geo.o + g * geo.og) * p)
            }
        }
        return out
    }

    static func gemmConvBackward(_ x: Tensor, _ weight: Tensor, _ g: Tensor, _ geo: ConvGeometry,
                                 needX: Bool, needW: Bool) -> (Tensor?, Tensor?) {
        let p = geo.oh * geo.ow
        let gx = needX ? Tensor.zeros(x.shape) : nil
        let gw = needW ? Tensor.zeros(weight.shape) : nil
        let col = TensorStorage(count: geo.patch * p)
        for i in 0..<geo.n {
            for grp in 0..<geo.groups {
                let gOut = g.data + (i * geo.o + grp * geo.og) * p
                if let gw {
                    let image = x.data + i * geo.c * geo.h * geo.w
                    let b: UnsafePointer<Float>
                    if geo.isPointwise { b = UnsafePointer(image + grp * geo.cg * p) }
                    else { im2col(image, col.pointer, geo, group: grp); b = UnsafePointer(col.pointer) }
                    sgemm(transposeA: false, transposeB: true, m: geo.og, n: geo.patch, k: p, a: gOut, lda: p,
                          b: b, ldb: p, beta: 1, c: gw.data + grp * geo.og * geo.patch, ldc: geo.patch)
                }
                if let gx {
                    let image = gx.data + i * geo.c * geo.h * geo.w
                    if geo.isPointwise {
                        sgemm(transposeA: true, transposeB: false, m: geo.patch, n: p, k: geo.og,
                              a: weight.data + grp * geo.og * geo.patch, lda: geo.patch, b: gOut, ldb: p,
                              beta: 1, c: image + grp * geo.cg * p, ldc: p)
                    } else {
                        sgemm(transposeA: true, transposeB: false, m: geo.patch, n: p, k: geo.og,
                              a: weight.data + grp * geo.og * geo.patch, lda: geo.patch, b: gOut, ldb: p,
                              c: col.pointer, ldc: p)
                        col2im(col.pointer, image, geo, group: grp)
                    }
                }
            }
        }
        return (gx, gw)
    }

    /// C[m×n] = A[m×k]·B[k×n] (row-major, contiguous) with the columns of B and C split over our threads and
    /// OpenBLAS single-threaded inside: convolution GEMMs have few rows (output channels) and many columns (pixels),
    /// a shape where OpenBLAS's own threading hands off more than it gains.
    static func columnParallelSgemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>) {
        let threads = ComputeThreads.available
        guard threads > 1, n >= 256 * threads, m <= 256 else {
            sgemm(transposeA: false, transposeB: false, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c, ldc: n)
            return
        }
        withSingleThreadedBLAS {
            let block = ((n + threads - 1) / threads + 15) & ~15
            ComputePool.shared.run(iterations: threads) { t in
                let start = t * block, count = Swift.min(block, n - start)
                if count > 0 {
                    sgemm(transposeA: false, transposeB: false, m: m, n: count, k: k, a: a, lda: k, b: b + start, ldb: n, c: c + start, ldc: n)
                }
            }
        }
    }
}
