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

    /// Forward depthwise convolution with the bias and `epilogue` applied in the same pass.
    ///
    /// Each (image, channel) plane is copied into a zero-padded scratch plane, so the inner loop has no bounds checks:
    /// 16 output columns at a time, loaded contiguously (stride 1) or as the even lanes of 32 (stride 2).
    static func depthwiseForward(_ x: Tensor, _ weight: Tensor, _ geo: ConvGeometry, bias: Tensor?,
                                 epilogue: ChannelEpilogue?) -> Tensor {
        if unrolledDepthwiseApplies(geo) { return unrolledDepthwiseForward(x, weight, geo, bias: bias, epilogue: epilogue) }
        let out = Tensor(uninitializedShape: [geo.n, geo.o, geo.oh, geo.ow])
        let (oh, ow, h, w, kh, kw) = (geo.oh, geo.ow, geo.h, geo.w, geo.kh, geo.kw)
        let ph = h + geo.pad.top + geo.pad.bottom
        let rowStride = w + geo.pad.left + geo.pad.right + 16 * geo.sw + kw * geo.dw + 16
        let src = x.data, dst = out.data, wt = weight.data, residual = epilogue?.residual?.data
        let (scale, shift) = Tensor.foldedAffine(channels: geo.o, bias: bias, epilogue: epilogue)
        let (act, slopeStorage) = ActivationKernel.of(epilogue)
        defer { withExtendedLifetime(slopeStorage) {} }
        parallelChunks(geo.n * geo.c, minimumPerThread: 1) { planes in
            let padded = UnsafeMutablePointer<Float>.allocate(capacity: ph * rowStride)
            defer { padded.deallocate() }
            padded.initialize(repeating: 0, count: ph * rowStride)
            for pl in planes {
                let c = pl % geo.c
                for i in 0..<h { (padded + (i + geo.pad.top) * rowStride + geo.pad.left).update(from: src + pl * h * w + i * w, count: w) }
                let o = dst + pl * oh * ow
                let tp = UnsafePointer(wt + c * kh * kw)   // this channel's kh × kw taps
                for y in 0..<oh {
                    var xb = 0
                    while xb < ow {
                        var acc = Float16x(repeating: 0)
                        for ki in 0..<kh {
                            let row = padded + (y * geo.sh + ki * geo.dh) * rowStride + xb * geo.sw
                            let kt = tp + ki * kw
                            // One loop per stride so the innermost loop has no branch.
                            switch geo.sw {
                            case 1: for kj in 0..<kw { acc.addProduct(Float16x(repeating: kt[kj]), load16(row + kj * geo.dw)) }
                            case 2:
                                for kj in 0..<kw {
                                    let pair = UnsafeRawPointer(row + kj * geo.dw).loadUnaligned(as: SIMD32<Float>.self)
                                    acc.addProduct(Float16x(repeating: kt[kj]), pair.evenHalf)
                                }
                            default:
                                for kj in 0..<kw {
                                    var g = Float16x(repeating: 0)
                                    for j in 0..<16 { g[j] = row[kj * geo.dw + j * geo.sw] }
                                    acc.addProduct(Float16x(repeating: kt[kj]), g)
                                }
                            }
                        }
                        acc = acc * scale[c] + shift[c]
                        acc = act.apply(acc, channel: c)
                        let m = Swift.min(16, ow - xb), dp = o + y * ow + xb
                        if let residual {
                            let rp = residual + pl * oh * ow + y * ow + xb
                            if m == 16 { acc += load16(rp) } else { for j in 0..<m { acc[j] += rp[j] } }
                        }
                        if m == 16 { store16(acc, dp) } else { for j in 0..<m { dp[j] = acc[j] } }
                        xb += 16
                    }
                }
            }
        }
        return out
    }

    /// Per-channel scale and shift combining a conv bias with an epilogue: y = conv·s + (b·s + t).
    static func foldedAffine(channels: Int, bias: Tensor?, epilogue: ChannelEpilogue?) -> ([Float], [Float]) {
        let scale = epilogue?.scale ?? [Float](repeating: 1, count: channels)
        var shift = epilogue?.shift ?? [Float](repeating: 0, count: channels)
        if let bias { for c in 0..<channels { shift[c] += bias.data[c] * scale[c] } }
        return (scale, shift)
    }

    static func depthwiseBackward(_ x: Tensor, _ weight: Tensor, _ g: Tensor, _ geo: ConvGeometry,
                                  needX: Bool, needW: Bool) -> (Tensor?, Tensor?) {
        let (oh, ow, h, w, kh, kw) = (geo.oh, geo.ow, geo.h, geo.w, geo.kh, geo.kw)
        let gx = needX ? Tensor(uninitializedShape: x.shape) : nil
        // Per-plane weight gradients, summed over the batch afterwards (no shared writes across threads).
        let gwPlanes = needW ? Tensor.zeros([geo.n, geo.c, kh * kw]) : nil
        let ph = h + geo.pad.top + geo.pad.bottom + 1
        let blocks = (ow + 15) / 16
        let rowStride = w + geo.pad.left + geo.pad.right + 32 * geo.sw + kw * geo.dw + 32
        let src = x.data, gout = g.data, wt = weight.data
        parallelChunks(geo.n * geo.c, minimumPerThread: 1) { planes in
            // Zero-padded copies: the input (for the weight gradient), the input gradient being accumulated, and one
            // output-gradient row rounded up to whole 16-lane blocks.
            let padded = UnsafeMutablePointer<Float>.allocate(capacity: ph * rowStride)
            let gpad = UnsafeMutablePointer<Float>.allocate(capacity: ph * rowStride)
            let grow = UnsafeMutablePointer<Float>.allocate(capacity: blocks * 16)
            defer { padded.deallocate(); gpad.deallocate(); grow.deallocate() }
            padded.initialize(repeating: 0, count: ph * rowStride)
            grow.initialize(repeating: 0, count: blocks * 16)
            var taps = [Float](repeating: 0, count: kh * kw)
            for pl in planes {
                let c = pl % geo.c
                if needW {
                    for i in 0..<h { (padded + (i + geo.pad.top) * rowStride + geo.pad.left).update(from: src + pl * h * w + i * w, count: w) }
                }
                if needX { gpad.initialize(repeating: 0, count: ph * rowStride) }
                let k = wt + c * kh * kw
                var accs = [Float16x](repeating: Float16x(repeating: 0), count: kh * kw)
                for y in 0..<oh {
                    grow.update(from: gout + pl * oh * ow + y * ow, count: ow)
                    for ki in 0..<kh {
                        let rowOffset = (y * geo.sh + ki * geo.dh) * rowStride
                        for kj in 0..<kw {
                            let t = ki * kw + kj
                            let wv = Float16x(repeating: k[t])
                            for b in 0..<blocks {
                                let gv = load16(grow + b * 16)
                                let offset = rowOffset + b * 16 * geo.sw + kj * geo.dw
                                if geo.sw == 1 {
                                    if needW { accs[t].addProduct(gv, load16(padded + offset)) }
                                    if needX { store16(load16(gpad + offset) + wv * gv, gpad + offset) }
                                } else {
                                    if needW {
                                        var xv = Float16x(repeating: 0)
                                        for j in 0..<16 { xv[j] = padded[offset + j * geo.sw] }
                                        accs[t].addProduct(gv, xv)
                                    }
                                    if needX { for j in 0..<16 { gpad[offset + j * geo.sw] += k[t] * gv[j] } }
                                }
                            }
                        }
                    }
                }
                if let gwPlanes { for t in 0..<kh * kw { taps[t] = accs[t].sum() }
                    (gwPlanes.data + pl * kh * kw).update(from: taps, count: kh * kw) }
                if let gx {
                    for i in 0..<h { (gx.data + pl * h * w + i * w).update(from: gpad + (i + geo.pad.top) * rowStride + geo.pad.left, count: w) }
                }
            }
        }
        let gw = gwPlanes.map { $0.sum(axes: [0]).reshaped(weight.shape) }
        return (gx, gw)
    }
}
