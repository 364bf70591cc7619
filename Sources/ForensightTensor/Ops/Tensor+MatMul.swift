import CBLAS

/// C[M×N] = alpha · op(A) · op(B) + beta · C, row-major, through OpenBLAS `cblas_sgemm`.
@inline(__always)
public func sgemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard m > 0, n > 0 else { return }
    if k == 0 {
        if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        return
    }
    cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

extension Tensor {
    /// Matrix product over the last two axes with broadcast batch axes (like `torch.matmul` for rank ≥ 2).
    ///
    /// `a`: [..., M, K] (or [..., K, M] when `transposeA`), `b`: [..., K, N] (or [..., N, K] when `transposeB`).
    /// Returns [..., M, N].
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank >= 2 && b.rank >= 2, "matmul needs rank ≥ 2, got \(a.shape) and \(b.shape)")
        let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (m, k) = transposeA ? (ac, ar) : (ar, ac)
        let (k2, n) = transposeB ? (bc, br) : (br, bc)
        precondition(k == k2, "matmul inner extents differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
        let batch = broadcastShape(batchA, batchB)
        let out = Tensor(uninitializedShape: batch + [m, n])
        if b.rank == 2 && !transposeA {
            // Fold a's batch into rows: one GEMM.
            sgemm(transposeA: false, transposeB: transposeB, m: a.count / Swift.max(k, 1) , n: n, k: k,
                  a: a.data, lda: ac, b: b.data, ldb: bc, c: out.data, ldc: n)
        } else {
            let sa = broadcastStrides(batchA, to: batch), sb = broadcastStrides(batchB, to: batch)
            let batchCount = batch.reduce(1, *)
            let batchStrides = Tensor.strides(of: batch)
            for i in 0..<batchCount {
                var oa = 0, ob = 0, rem = i
                for d in 0..<batch.count { let idx = rem / batchStrides[d]; rem %= batchStrides[d]; oa += idx * sa[d]; ob += idx * sb[d] }
                sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                      a: a.data + oa * ar * ac, lda: ac, b: b.data + ob * br * bc, ldb: bc,
                      c: out.data + i * m * n, ldc: n)
            }
        }
        return out.recorded([a, b]) { g in
            var ga: Tensor?, gb: Tensor?
            if a.requiresGrad {
                ga = (transposeA ? matmul(b, g, transposeA: transposeB, transposeB: true)
                                 : matmul(g, b, transposeB: !transposeB)).sum(to: a.shape)
            }
            if b.requiresGrad {
                gb = (transposeB ? matmul(g, a, transposeA: true, transposeB: transposeA)
                                 : matmul(a, g, transposeA: !transposeA)).sum(to: b.shape)
            }
            return [ga, gb]
        }
    }

    /// Affine map y = x · Wᵀ + b over the last axis (PyTorch `nn.Linear` layout).
    ///
    /// `x`: [..., in], `weight`: [out, in], `bias`: [out] or nil. Returns [..., out].
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let inFeatures = x.shape.last ?? 1
        precondition(weight.rank == 2 && weight.shape[1] == inFeatures, "linear: input \(x.shape) with weight \(weight.shape)")
        let outFeatures = weight.shape[0], rows = x.count / Swift.max(inFeatures, 1)
        let out = Tensor(uninitializedShape: Array(x.shape.dropLast()) + [outFeatures])
        if let bias {
            precondition(bias.shape == [outFeatures], "linear bias \(bias.shape) for \(outFeatures) outputs")
            for r in 0..<rows { (out.data + r * outFeatures).update(from: bias.data, count: outFeatures) }
        }
        columnParallelLinear(rows: rows, outFeatures: outFeatures, inFeatures: inFeatures, x: x.data, weight: weight.data,
                             beta: bias == nil ? 0 : 1, out: out.data)
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return out.recorded(inputs) { g in
            var grads: [Tensor?] = [nil, nil, nil]
            if x.requiresGrad {
                let gx = Tensor(uninitializedShape: x.shape)
                sgemm(transposeA: false, transposeB: false, m: rows, n: inFeatures, k: outFeatures,
                      a: g.data, lda: outFeatures, b: weight.data, ldb: inFeatures, c: gx.data, ldc: inFeatures)
                grads[0] = gx
            }
            if weight.requiresGrad {
                let gw = Tensor(uninitializedShape: weight.shape)
                sgemm(transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows,
                      a: g.data, lda: outFeatures, b: x.data, ldb: inFeatures, c: gw.data, ldc: inFeatures)
                grads[1] = gw
            }
            if let bias, bias.requiresGrad { grads[2] = g.reshaped([rows, outFeatures]).sum(axes: [0]) }
            return grads
        }
    }
}

extension Tensor {
    /// out[rows × outFeatures] = x · Wᵀ (+ out when `beta` = 1), with the output features split over our worker pool
    /// and OpenBLAS single-threaded inside each slice: each thread packs only its share of the weights, and no
    /// OpenBLAS worker threads are left spinning beside our own kernels. Small products stay one call, and a single
    /// row is one matrix-vector product.
    static func columnParallelLinear(rows: Int, outFeatures: Int, inFeatures: Int, x: UnsafePointer<Float>,
                                     weight: UnsafePointer<Float>, beta: Float, out: UnsafeMutablePointer<Float>) {
        if rows == 1 && inFeatures > 0 {
            // A matrix-vector product (one image through a classifier): GEMM would pack the whole weight matrix only
            // to use each weight once.
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(outFeatures), Int32(inFeatures), 1, weight, Int32(inFeatures),
                        x, 1, beta, out, 1)
            return
        }
        let threads = ComputeThreads.available
        guard threads > 1, outFeatures >= 64 * threads, rows * outFeatures * inFeatures >= 1 << 22 else {
            sgemm(transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
                  b: weight, ldb: inFeatures, beta: beta, c: out, ldc: outFeatures)
            return
        }
        let block = ((outFeatures + threads - 1) / threads + 15) & ~15
        withSingleThreadedBLAS {
            parallelChunks(threads) { slices in
                for t in slices {
                    let start = t * block, count = Swift.min(block, outFeatures - start)
                    if count <= 0 { continue }
                    sgemm(transposeA: false, transposeB: true, m: rows, n: count, k: inFeatures, a: x, lda: inFeatures,
                          b: weight + start * inFeatures, ldb: inFeatures, beta: beta, c: out + start, ldc: outFeatures)
                }
            }
        }
    }
}
