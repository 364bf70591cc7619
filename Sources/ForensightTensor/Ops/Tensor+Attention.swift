/// Fused scaled-dot-product attention.
extension Tensor {
    /// softmax(q·kᵀ·scale + mask)·v over the last two axes (PyTorch `F.scaled_dot_product_attention`).
    ///
    /// `q`: [B, H, L, D], `k`: [B, H, S, D], `v`: [B, H, S, Dv]; `mask`: additive, broadcastable to [B, H, L, S], or nil;
    /// `scale` defaults to 1/√D. Returns [B, H, L, Dv]. The backward pass reuses the stored probabilities.
    public static func scaledDotProductAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor? = nil,
                                                 scale: Float? = nil) -> Tensor {
        precondition(q.rank == 4 && k.rank == 4 && v.rank == 4, "attention needs [B, H, L, D] tensors")
        let (b, h, l, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let s = k.shape[2], dv = v.shape[3]
        precondition(k.shape == [b, h, s, d] && v.shape == [b, h, s, dv], "attention shapes q \(q.shape) k \(k.shape) v \(v.shape)")
        let alpha = scale ?? 1 / Float(d).squareRoot()
        let heads = b * h
        let recording = GradMode.isEnabled && (q.requiresGrad || k.requiresGrad || v.requiresGrad)
        let threads = ComputeThreads.available
        if !recording && heads >= threads && threads > 1 {
            return attentionHeadsInParallel(q, k, v, mask: mask, alpha: alpha)
        }
        let probs = Tensor(uninitializedShape: [b, h, l, s])
        for i in 0..<heads {
            sgemm(transposeA: false, transposeB: true, m: l, n: s, k: d, alpha: alpha, a: q.data + i * l * d, lda: d,
                  b: k.data + i * s * d, ldb: d, c: probs.data + i * l * s, ldc: s)
        }
        let scores: Tensor = mask.map { probs + $0 } ?? probs
        let p = scores.data, pp = probs.data
        parallelChunks(heads * l, minimumPerThread: 16) { rows in
            for r in rows { softmaxRow(p + r * s, pp + r * s, n: s, stride: 1, log: false) }
        }
        let out = Tensor(uninitializedShape: [b, h, l, dv])
        for i in 0..<heads {
            sgemm(transposeA: false, transposeB: false, m: l, n: dv, k: s, a: probs.data + i * l * s, lda: s,
                  b: v.data + i * s * dv, ldb: dv, c: out.data + i * l * dv, ldc: dv)
        }
        return out.recorded([q, k, v]) { g in
            let gq = Tensor(uninitializedShape: q.shape), gk = Tensor(uninitializedShape: k.shape)
            let gv = Tensor(uninitializedShape: v.shape), dp = Tensor(uninitializedShape: [l, s])
            for i in 0..<heads {
                let pi = probs.data + i * l * s, gi = g.data + i * l * dv
                // dV = Pᵀ·dO ; dP = dO·Vᵀ
                sgemm(transposeA: true, transposeB: false, m: s, n: dv, k: l, a: pi, lda: s, b: gi, ldb: dv,
                      c: gv.data + i * s * dv, ldc: dv)
                sgemm(transposeA: false, transposeB: true, m: l, n: s, k: dv, a: gi, lda: dv, b: v.data + i * s * dv, ldb: dv,
                      c: dp.data, ldc: s)
                // dS = P ⊙ (dP − rowsum(dP ⊙ P)) · scale
                for r in 0..<l {
                    let prow = pi + r * s, drow = dp.data + r * s
                    var dot: Float = 0
                    for j in 0..<s { dot += prow[j] * drow[j] }
                    for j in 0..<s { drow[j] = prow[j] * (drow[j] - dot) * alpha }
                }
                // dQ = dS·K ; dK = dSᵀ·Q
                sgemm(transposeA: false, transposeB: false, m: l, n: d, k: s, a: dp.data, lda: s, b: k.data + i * s * d, ldb: d,
                      c: gq.data + i * l * d, ldc: d)
                sgemm(transposeA: true, transposeB: false, m: s, n: d, k: l, a: dp.data, lda: s, b: q.data + i * l * d, ldb: d,
                      c: gk.data + i * s * d, ldc: d)
            }
            return [gq, gk, gv]
        }
    }

    /// Inference: every (batch, head) pair runs QKᵀ → softmax → ·V on one thread, heads spread over the threads,
    /// OpenBLAS single-threaded meanwhile (small GEMMs lose more to thread hand-offs than they gain).
    static func attentionHeadsInParallel(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor?, alpha: Float) -> Tensor {
        let (b, h, l, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let s = k.shape[2], dv = v.shape[3]
        let out = Tensor(uninitializedShape: [b, h, l, dv])
        let fullMask = mask.map { $0.shape == [b, h, l, s] ? $0 : $0.expand(to: [b, h, l, s]) }
        let (qp, kp, vp, op) = (q.data, k.data, v.data, out.data)
        forEachHead(b * h, l: l, s: s, alpha: alpha) { i in
            HeadOperands(q: qp + i * l * d, ldq: d, k: kp + i * s * d, ldk: d, v: vp + i * s * dv, ldv: dv, d: d, dv: dv,
                         out: op + i * l * dv, ldo: dv, mask: fullMask.map { UnsafePointer($0.data + i * l * s) })
        }
        return out
    }

    /// Where one head's operands live: q [l, d], k [s, d], v [s, dv] and out [l, dv], each with a leading dimension.
    struct HeadOperands {
        let q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int
        let d: Int, dv: Int
        let out: UnsafeMutablePointer<Float>, ldo: Int
        let mask: UnsafePointer<Float>?
    }

    /// Inference attention over `heads` heads spread over our threads, OpenBLAS single-threaded inside:
    /// for each head, out = softmax(alpha·q·kᵀ + mask)·v.
    static func forEachHead(_ heads: Int, l: Int, s: Int, alpha: Float, _ operands: @escaping (Int) -> HeadOperands) {
        withSingleThreadedBLAS {
            // One head per item, taken as threads come free (a slow vCPU takes fewer heads).
            parallelItems(heads) { i in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: l * s)
                defer { scores.deallocate() }
                do {
                    let o = operands(i)
                    sgemm(transposeA: false, transposeB: true, m: l, n: s, k: o.d, alpha: alpha, a: o.q, lda: o.ldq,
                          b: o.k, ldb: o.ldk, c: scores, ldc: s)
                    if let mp = o.mask { for j in 0..<(l * s) { scores[j] += mp[j] } }
                    for r in 0..<l { softmaxRow(scores + r * s, scores + r * s, n: s, stride: 1, log: false) }
                    sgemm(transposeA: false, transposeB: false, m: l, n: o.dv, k: s, a: scores, lda: s,
                          b: o.v, ldb: o.ldv, c: o.out, ldc: o.ldo)
                }
            }
        }
    }
}

extension Tensor {
    /// Multi-head self-attention from a packed projection: `qkv` [B, L, 3·E] laid out as (q | k | v), each split into
    /// `heads` contiguous groups of E/heads features (PyTorch `in_proj` and timm `qkv` layouts). Returns [B, L, E] with the
    /// heads concatenated in order.
    ///
    /// For inference the heads are read in place through GEMM leading dimensions (no split or permute copies);
    /// when recording gradients it is the composition of reshape, permute and `scaledDotProductAttention`.
    public static func packedSelfAttention(_ qkv: Tensor, heads: Int, mask: Tensor? = nil) -> Tensor {
        precondition(qkv.rank == 3 && qkv.shape[2] % (3 * heads) == 0, "packed qkv \(qkv.shape) for \(heads) heads")
        let (b, l, e) = (qkv.shape[0], qkv.shape[1], qkv.shape[2] / 3)
        let d = e / heads
        let recording = GradMode.isEnabled && qkv.requiresGrad
        if recording || mask != nil {
            let parts = qkv.reshaped([b, l, 3, heads, d]).permuted([2, 0, 3, 1, 4]).split([1, 1, 1], axis: 0)
            let shape = [b, heads, l, d]
            let o = scaledDotProductAttention(parts[0].reshaped(shape), parts[1].reshaped(shape), parts[2].reshaped(shape), mask: mask)
            return o.permuted([0, 2, 1, 3]).reshaped([b, l, e])
        }
        let out = Tensor(uninitializedShape: [b, l, e])
        let (src, dst) = (UnsafePointer(qkv.data), out.data)
        forEachHead(b * heads, l: l, s: l, alpha: 1 / Float(d).squareRoot()) { i in
            let (bi, h) = (i / heads, i % heads)
            let base = src + bi * l * 3 * e + h * d
            return HeadOperands(q: base, ldq: 3 * e, k: base + e, ldk: 3 * e, v: base + 2 * e, ldv: 3 * e, d: d, dv: d,
                                out: dst + bi * l * e + h * d, ldo: e, mask: nil)
        }
        return out
    }
}
