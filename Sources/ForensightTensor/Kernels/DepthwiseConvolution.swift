/// Direct depthwise convolution kernels (one filter per channel), parallel over (image, channel) planes.
extension Tensor {
    /// Output columns x whose input column x·s − left + kj·d lies inside [0, w).
    @inline(__always)
    static func validColumns(_ geo: ConvGeometry, kj: Int) -> Range<Int> {
        let offset = kj * geo.dw - geo.pad.left
        let lo = offset >= 0 ? 0 : (-offset + geo.sw - 1) / geo.sw
        let hiIncl = geo.w - 1 - offset
        let hi = hiIncl < 0 ? 0 : Swift.min(geo.ow, hiIncl / geo.sw + 1)
        return lo..<Swift.max(lo, hi)
    }

    static func depthwiseForward(_ x: Tensor, _ weight: Tensor, _ geo: ConvGeometry) -> Tensor {
        let out = Tensor(uninitializedShape: [geo.n, geo.o, geo.oh, geo.ow])
        let (oh, ow, h, w) = (geo.oh, geo.ow, geo.h, geo.w)
        let src = x.data, dst = out.data, wt = weight.data
        parallelChunks(geo.n * geo.c, minimumPerThread: 1) { planes in
            for pl in planes {
                let c = pl % geo.c
                let inp = src + pl * h * w, o = dst + pl * oh * ow, k = wt + c * geo.kh * geo.kw
                o.update(repeating: 0, count: oh * ow)
                for ki in 0..<geo.kh {
                    for kj in 0..<geo.kw {
                        let wv = k[ki * geo.kw + kj]
                        let cols = validColumns(geo, kj: kj)
                        if cols.isEmpty { continue }
                        let xoff = kj * geo.dw - geo.pad.left
                        for y in 0..<oh {
                            let iy = y * geo.sh - geo.pad.top + ki * geo.dh
                            if iy < 0 || iy >= h { continue }
                            let line = inp + iy * w + xoff, orow = o + y * ow
                            if geo.sw == 1 {
                                for xx in cols { orow[xx] += wv * line[xx] }
                            } else {
                                let s = geo.sw
                                for xx in cols { orow[xx] += wv * line[xx * s] }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    static func depthwiseBackward(_ x: Tensor, _ weight: Tensor, _ g: Tensor, _ geo: ConvGeometry,
                                  needX: Bool, needW: Bool) -> (Tensor?, Tensor?) {
        let (oh, ow, h, w) = (geo.oh, geo.ow, geo.h, geo.w)
        let gx = needX ? Tensor.zeros(x.shape) : nil
        // Per-plane weight gradients, summed over the batch afterwards (no shared writes across threads).
        let gwPlanes = needW ? Tensor.zeros([geo.n, geo.c, geo.kh * geo.kw]) : nil
        let src = x.data, gout = g.data, wt = weight.data
        parallelChunks(geo.n * geo.c, minimumPerThread: 1) { planes in
            for pl in planes {
                let c = pl % geo.c
                let inp = src + pl * h * w, go = gout + pl * oh * ow, k = wt + c * geo.kh * geo.kw
                for ki in 0..<geo.kh {
                    for kj in 0..<geo.kw {
                        let cols = validColumns(geo, kj: kj)
                        if cols.isEmpty { continue }
                        let xoff = kj * geo.dw - geo.pad.left, s = geo.sw
                        var acc: Float = 0
                        let wv = k[ki * geo.kw + kj]
                        for y in 0..<oh {
                            let iy = y * geo.sh - geo.pad.top + ki * geo.dh
                            if iy < 0 || iy >= h { continue }
                            let row = iy * w + xoff, grow = go + y * ow
                            if gwPlanes != nil { for xx in cols { acc += grow[xx] * inp[row + xx * s] } }
                            if let gx { let gi = gx.data + pl * h * w + row; for xx in cols { gi[xx * s] += wv * grow[xx] } }
                        }
                        if let gwPlanes { gwPlanes.data[pl * geo.kh * geo.kw + ki * geo.kw + kj] = acc }
                    }
                }
            }
        }
        let gw = gwPlanes.map { $0.sum(axes: [0]).reshaped(weight.shape) }
        return (gx, gw)
    }
}
