/// Register-blocked depthwise rows for the common windows (3×3 and 5×5 at stride 1 and 2), generated straight-line
/// code: for each window row, the k tap weights sit in registers and every input column of the 8 outputs' span is
/// loaded once and applied to each output it reaches (stride 1: 8 + k − 1 loads for 8k FMAs, where one load per FMA
/// would be 8k). The input row must be readable for 8·stride + k − 1 columns from `ix0`.
extension BlockedDepthwiseConvolution {
    /// Whether `unrolledColumns` has a kernel for this window.
    static func hasUnrolledColumns(kernel: Int, stride: Int) -> Bool { (kernel == 3 || kernel == 5) && (stride == 1 || stride == 2) }

    /// 8 adjacent output columns (only the first `count` stored) of a k×k window at `stride`; see `columns`.
    @inline(__always)
    static func unrolledColumns(_ input: UnsafePointer<Float>, rowWidth: Int, iy0: Int, ix0: Int, kiLo: Int, kiHi: Int,
                                kernel k: Int, stride s: Int, taps: UnsafePointer<Float>, count: Int,
                                out: UnsafeMutablePointer<Float>, scale: Float16x, shift: Float16x, low: Float16x, high: Float16x) {
        let z = Float16x(repeating: 0)
        var (a0, a1, a2, a3, a4, a5, a6, a7) = (z, z, z, z, z, z, z, z)
        switch (k, s) {
        case (3, 1):
            for ki in kiLo..<kiHi {
                let line = input + ((iy0 + ki) * rowWidth + ix0) * 16, t = taps + ki * 3 * 16
                let w0 = load16(t + 0), w1 = load16(t + 16), w2 = load16(t + 32)
                do { let v = load16(line + 0); a0.addProduct(v, w0) }
                do { let v = load16(line + 16); a1.addProduct(v, w0); a0.addProduct(v, w1) }
                do { let v = load16(line + 32); a2.addProduct(v, w0); a1.addProduct(v, w1); a0.addProduct(v, w2) }
                do { let v = load16(line + 48); a3.addProduct(v, w0); a2.addProduct(v, w1); a1.addProduct(v, w2) }
                do { let v = load16(line + 64); a4.addProduct(v, w0); a3.addProduct(v, w1); a2.addProduct(v, w2) }
                do { let v = load16(line + 80); a5.addProduct(v, w0); a4.addProduct(v, w1); a3.addProduct(v, w2) }
                do { let v = load16(line + 96); a6.addProduct(v, w0); a5.addProduct(v, w1); a4.addProduct(v, w2) }
                do { let v = load16(line + 112); a7.addProduct(v, w0); a6.addProduct(v, w1); a5.addProduct(v, w2) }
                do { let v = load16(line + 128); a7.addProduct(v, w1); a6.addProduct(v, w2) }
                do { let v = load16(line + 144); a7.addProduct(v, w2) }
            }
        case (3, 2):
            for ki in kiLo..<kiHi {
                let line = input + ((iy0 + ki) * rowWidth + ix0) * 16, t = taps + ki * 3 * 16
                let w0 = load16(t + 0), w1 = load16(t + 16), w2 = load16(t + 32)
                do { let v = load16(line + 0); a0.addProduct(v, w0) }
                do { let v = load16(line + 16); a0.addProduct(v, w1) }
                do { let v = load16(line + 32); a1.addProduct(v, w0); a0.addProduct(v, w2) }
                do { let v = load16(line + 48); a1.addProduct(v, w1) }
                do { let v = load16(line + 64); a2.addProduct(v, w0); a1.addProduct(v, w2) }
                do { let v = load16(line + 80); a2.addProduct(v, w1) }
                do { let v = load16(line + 96); a3.addProduct(v, w0); a2.addProduct(v, w2) }
                do { let v = load16(line + 112); a3.addProduct(v, w1) }
                do { let v = load16(line + 128); a4.addProduct(v, w0); a3.addProduct(v, w2) }
                do { let v = load16(line + 144); a4.addProduct(v, w1) }
                do { let v = load16(line + 160); a5.addProduct(v, w0); a4.addProduct(v, w2) }
                do { let v = load16(line + 176); a5.addProduct(v, w1) }
                do { let v = load16(line + 192); a6.addProduct(v, w0); a5.addProduct(v, w2) }
                do { let v = load16(line + 208); a6.addProduct(v, w1) }
                do { let v = load16(line + 224); a7.addProduct(v, w0); a6.addProduct(v, w2) }
                do { let v = load16(line + 240); a7.addProduct(v, w1) }
                do { let v = load16(line + 256); a7.addProduct(v, w2) }
            }
        case (5, 1):
            for ki in kiLo..<kiHi {
                let line = input + ((iy0 + ki) * rowWidth + ix0) * 16, t = taps + ki * 5 * 16
                let w0 = load16(t + 0), w1 = load16(t + 16), w2 = load16(t + 32), w3 = load16(t + 48), w4 = load16(t + 64)
                do { let v = load16(line + 0); a0.addProduct(v, w0) }
                do { let v = load16(line + 16); a1.addProduct(v, w0); a0.addProduct(v, w1) }
                do { let v = load16(line + 32); a2.addProduct(v, w0); a1.addProduct(v, w1); a0.addProduct(v, w2) }
                do { let v = load16(line + 48); a3.addProduct(v, w0); a2.addProduct(v, w1); a1.addProduct(v, w2); a0.addProduct(v, w3) }
                do { let v = load16(line + 64); a4.addProduct(v, w0); a3.addProduct(v, w1); a2.addProduct(v, w2); a1.addProduct(v, w3); a0.addProduct(v, w4) }
                do { let v = load16(line + 80); a5.addProduct(v, w0); a4.addProduct(v, w1); a3.addProduct(v, w2); a2.addProduct(v, w3); a1.addProduct(v, w4) }
                do { let v = load16(line + 96); a6.addProduct(v, w0); a5.addProduct(v, w1); a4.addProduct(v, w2); a3.addProduct(v, w3); a2.addProduct(v, w4) }
                do { let v = load16(line + 112); a7.addProduct(v, w0); a6.addProduct(v, w1); a5.addProduct(v, w2); a4.addProduct(v, w3); a3.addProduct(v, w4) }
                do { let v = load16(line + 128); a7.addProduct(v, w1); a6.addProduct(v, w2); a5.addProduct(v, w3); a4.addProduct(v, w4) }
                do { let v = load16(line + 144); a7.addProduct(v, w2); a6.addProduct(v, w3); a5.addProduct(v, w4) }
                do { let v = load16(line + 160); a7.addProduct(v, w3); a6.addProduct(v, w4) }
                do { let v = load16(line + 176); a7.addProduct(v, w4) }
            }
        case (5, 2):
            for ki in kiLo..<kiHi {
                let line = input + ((iy0 + ki) * rowWidth + ix0) * 16, t = taps + ki * 5 * 16
                let w0 = load16(t + 0), w1 = load16(t + 16), w2 = load16(t + 32), w3 = load16(t + 48), w4 = load16(t + 64)
                do { let v = load16(line + 0); a0.addProduct(v, w0) }
                do { let v = load16(line + 16); a0.addProduct(v, w1) }
                do { let v = load16(line + 32); a1.addProduct(v, w0); a0.addProduct(v, w2) }
                do { let v = load16(line + 48); a1.addProduct(v, w1); a0.addProduct(v, w3) }
                do { let v = load16(line + 64); a2.addProduct(v, w0); a1.addProduct(v, w2); a0.addProduct(v, w4) }
                do { let v = load16(line + 80); a2.addProduct(v, w1); a1.addProduct(v, w3) }
                do { let v = load16(line + 96); a3.addProduct(v, w0); a2.addProduct(v, w2); a1.addProduct(v, w4) }
                do { let v = load16(line + 112); a3.addProduct(v, w1); a2.addProduct(v, w3) }
                do { let v = load16(line + 128); a4.addProduct(v, w0); a3.addProduct(v, w2); a2.addProduct(v, w4) }
                do { let v = load16(line + 144); a4.addProduct(v, w1); a3.addProduct(v, w3) }
                do { let v = load16(line + 160); a5.addProduct(v, w0); a4.addProduct(v, w2); a3.addProduct(v, w4) }
                do { let v = load16(line + 176); a5.addProduct(v, w1); a4.addProduct(v, w3) }
                do { let v = load16(line + 192); a6.addProduct(v, w0); a5.addProduct(v, w2); a4.addProduct(v, w4) }
                do { let v = load16(line + 208); a6.addProduct(v, w1); a5.addProduct(v, w3) }
                do { let v = load16(line + 224); a7.addProduct(v, w0); a6.addProduct(v, w2); a5.addProduct(v, w4) }
                do { let v = load16(line + 240); a7.addProduct(v, w1); a6.addProduct(v, w3) }
                do { let v = load16(line + 256); a7.addProduct(v, w2); a6.addProduct(v, w4) }
                do { let v = load16(line + 272); a7.addProduct(v, w3) }
                do { let v = load16(line + 288); a7.addProduct(v, w4) }
            }
        default:
            preconditionFailure("unrolledColumns: no kernel for \(k)×\(k) at stride \(s)")
        }
        @inline(__always) func put(_ v: Float16x, _ j: Int) {
            if j < count { store16(vmin(vmax(v * scale + shift, low), high), out + j * 16) }
        }
        put(a0, 0); put(a1, 1); put(a2, 2); put(a3, 3); put(a4, 4); put(a5, 5); put(a6, 6); put(a7, 7)
    }
}
