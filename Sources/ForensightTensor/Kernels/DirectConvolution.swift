/// Direct convolution for layers with few channels (MTCNN-sized: C·kh·kw ≤ 256, stride 1, no padding, no groups),
/// where im2col would write kh·kw copies of the input only to read them once.
extension Tensor {
    /// Whether `geo` suits the direct kernel.
    static func directConvolutionApplies(_ geo: ConvGeometry) -> Bool {
        geo.groups == 1 && geo.sh == 1 && geo.sw == 1 && geo.dh == 1 && geo.dw == 1 && geo.pad == .zero
            && geo.patch <= 256 && geo.ow >= 16 && geo.kh * geo.kw > 1
    }

    /// 16 output columns × 4 output channels per step, accumulated with FMA in registers; the last column block of a
    /// row is shifted left to end at the row's end (recomputing a few outputs instead of reading past the input).
    static func directConvForward(_ x: Tensor, _ weight: Tensor, _ geo: ConvGeometry, bias: Tensor?,
                                  epilogue: ChannelEpilogue?) -> Tensor {
        let (scale, shift) = foldedAffine(channels: geo.o, bias: bias, epilogue: epilogue)
        let out = Tensor(uninitializedShape: [geo.n, geo.o, geo.oh, geo.ow])
        let (c, h, w, kh, kw, oh, ow, o) = (geo.c, geo.h, geo.w, geo.kh, geo.kw, geo.oh, geo.ow, geo.o)
        let blocks = (o + 3) / 4
        let src = x.data, dst = out.data, wt = weight.data
        let affine = Tensor(scale + shift, shape: [2 * o])
        let sp = UnsafePointer(affine.data), tp = UnsafePointer(affine.data + o)
        let (act, slopeStorage) = ActivationKernel.of(epilogue)
        parallelChunks(geo.n * blocks * oh, minimumPerThread: 8) { range in
            for job in range {
                let y = job % oh, ob = (job / oh) % blocks, n = job / (oh * blocks)
                let o0 = ob * 4, count = Swift.min(4, o - o0)
                let image = src + n * c * h * w
                let w0 = wt + o0 * geo.patch
                let w1 = count > 1 ? w0 + geo.patch : w0, w2 = count > 2 ? w0 + 2 * geo.patch : w0, w3 = count > 3 ? w0 + 3 * geo.patch : w0
                var xb = 0
                while xb < ow {
                    let x0 = Swift.min(xb, ow - 16)
                    var a0 = Float16x(repeating: 0), a1 = a0, a2 = a0, a3 = a0
                    var t = 0
                    for ci in 0..<c {
                        for ki in 0..<kh {
                            let row = image + (ci * h + y + ki) * w + x0
                            for kj in 0..<kw {
                                let v = load16(row + kj)
                                a0.addProduct(Float16x(repeating: w0[t]), v)
                                a1.addProduct(Float16x(repeating: w1[t]), v)
                                a2.addProduct(Float16x(repeating: w2[t]), v)
                                a3.addProduct(Float16x(repeating: w3[t]), v)
                                t += 1
                            }
                        }
                    }
                    let base = dst + ((n * o + o0) * oh + y) * ow + x0
                    @inline(__always) func finish(_ acc: Float16x, _ i: Int) {
                        var v = acc * sp[o0 + i] + tp[o0 + i]
                        v = act.apply(v, channel: o0 + i)
                        store16(v, base + i * oh * ow)
                    }
                    finish(a0, 0)
                    if count > 1 { finish(a1, 1) }
                    if count > 2 { finish(a2, 2) }
                    if count > 3 { finish(a3, 3) }
                    xb = x0 + 16
                }
            }
        }
        withExtendedLifetime((affine, slopeStorage)) {}
        return out
    }
}
