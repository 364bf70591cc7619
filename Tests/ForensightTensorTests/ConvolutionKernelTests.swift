import XCTest
import ForensightTensor

/// The fast convolution kernels (tiled pointwise GEMM, unrolled depthwise) against a plain scalar convolution, over
/// shapes that reach every edge: channel counts that are not multiples of the 6-row tile, pixel counts with partial
/// 16-column strips, more than 256 input channels (several accumulation passes), 7- and 14-wide planes (8- and 16-lane
/// rows stored whole), stride 2 with odd sizes, shallow k×k convolutions through im2col and the pointwise kernel, and
/// the fused epilogue (affine, activation, residual).
final class ConvolutionKernelTests: XCTestCase {
    /// out[n, o, y, x] = Σ_{c, i, j} w[o, c − g·cg, i, j] · x[n, c, y·s − pt + i, x·s − pl + j], zero outside, then the
    /// epilogue in float64.
    func reference(_ x: Tensor, _ w: Tensor, bias: Tensor?, stride s: Int, pad: Padding2D, groups: Int,
                   epilogue: ChannelEpilogue?) -> [Float] {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let oh = (h + pad.top + pad.bottom - kh) / s + 1, ow = (wd + pad.left + pad.right - kw) / s + 1
        let og = o / groups
        var out = [Float](repeating: 0, count: n * o * oh * ow)
        for b in 0..<n { for oc in 0..<o { for y in 0..<oh { for xx in 0..<ow {
            var sum = Double(bias?.data[oc] ?? 0)
            let g = oc / og
            for ci in 0..<cg { for i in 0..<kh { for j in 0..<kw {
                let iy = y * s - pad.top + i, ix = xx * s - pad.left + j
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                let cin = g * cg + ci
                sum += Double(w.data[((oc * cg + ci) * kh + i) * kw + j]) * Double(x.data[((b * c + cin) * h + iy) * wd + ix])
            } } }
            let index = ((b * o + oc) * oh + y) * ow + xx
            if let epilogue {
                sum = sum * Double(epilogue.scale?[oc] ?? 1) + Double(epilogue.shift?[oc] ?? 0)
                if epilogue.activation == .relu6 { sum = Swift.min(Swift.max(sum, 0), 6) }
                if let r = epilogue.residual { sum += Double(r.data[index]) }
            }
            out[index] = Float(sum)
        } } } }
        return out
    }

    func check(batch: Int, channels c: Int, outputs o: Int, size: Int, kernel k: Int, stride s: Int, pad: Padding2D,
               groups: Int, fused: Bool, file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededRandom(seed: UInt64(c * 1000 + o * 10 + size + k))
        let x = Tensor.randn([batch, c, size, size], using: &rng)
        let w = Tensor.randn([o, c / groups, k, k], using: &rng) * (1 / Float(c / groups * k * k).squareRoot())
        let bias = Tensor.randn([o], using: &rng)
        let oh = (size + pad.top + pad.bottom - k) / s + 1
        var epilogue: ChannelEpilogue?
        if fused {
            let scale = (0..<o).map { Float($0 % 5) * 0.3 + 0.5 }, shift = (0..<o).map { Float($0 % 3) - 1 }
            epilogue = ChannelEpilogue(scale: scale, shift: shift, activation: .relu6,
                                       residual: Tensor.randn([batch, o, oh, oh], using: &rng))
        }
        let got = withoutGrad { Tensor.conv2d(x, weight: w, bias: bias, stride: (s, s), padding: pad, groups: groups, epilogue: epilogue) }
        let want = reference(x, w, bias: bias, stride: s, pad: pad, groups: groups, epilogue: epilogue)
        XCTAssertEqual(got.shape, [batch, o, oh, oh], file: file, line: line)
        var worst: Float = 0
        for i in 0..<want.count { worst = Swift.max(worst, Swift.abs(got.data[i] - want[i]) / Swift.max(1, Swift.abs(want[i]))) }
        XCTAssertLessThan(worst, 1e-5, "c \(c) o \(o) size \(size) k \(k) s \(s) groups \(groups) fused \(fused)",
                          file: file, line: line)
    }

    func testPointwiseTilesStripsAndPasses() {
        for (c, o, size) in [(16, 96, 12), (5, 7, 7), (300, 13, 9), (40, 24, 4), (600, 11, 3), (3, 1, 17)] {
            check(batch: 2, channels: c, outputs: o, size: size, kernel: 1, stride: 1, pad: .zero, groups: 1, fused: false)
            check(batch: 1, channels: c, outputs: o, size: size, kernel: 1, stride: 1, pad: .zero, groups: 1, fused: true)
        }
    }

    func testPointwiseGradientsStillFlow() {
        var rng = SeededRandom(seed: 9)
        let x = Tensor.randn([2, 7, 5, 5], using: &rng, requiresGrad: true)
        let w = Tensor.randn([9, 7, 1, 1], using: &rng, requiresGrad: true)
        Tensor.conv2d(x, weight: w).sum().backward()
        // d/dx of Σ out = Σ_o w[o, c]; d/dw = Σ over pixels of x[c].
        for ci in 0..<7 {
            let dx = (0..<9).reduce(Float(0)) { $0 + w.data[$1 * 7 + ci] }
            XCTAssertEqual(x.grad!.data[ci * 25 + 3], dx, accuracy: 1e-4)
        }
        let dw = (0..<2).reduce(Float(0)) { b, n in b + (0..<25).reduce(Float(0)) { $0 + x.data[(n * 7 + 2) * 25 + $1] } }
        XCTAssertEqual(w.grad!.data[4 * 7 + 2], dw, accuracy: 1e-3)
    }

    /// One-group convolutions with C·kh·kw ≤ 256 (im2col + the pointwise kernel), beside a deeper one (OpenBLAS).
    func testShallowConvolutionsThroughThePointwiseKernel() {
        for (c, o, size, k, s) in [(3, 32, 17, 3, 2), (3, 10, 12, 5, 1), (8, 7, 9, 3, 1), (28, 6, 8, 3, 2), (32, 5, 7, 3, 1)] {
            let same = Padding2D.same(height: size, width: size, kernel: (k, k), stride: (s, s))
            check(batch: 2, channels: c, outputs: o, size: size, kernel: k, stride: s, pad: same, groups: 1, fused: true)
            check(batch: 1, channels: c, outputs: o, size: size, kernel: k, stride: s, pad: .symmetric(k / 2, k / 2),
                  groups: 1, fused: false)
        }
    }

    func testDepthwiseUnrolledShapes() {
        for (k, s) in [(3, 1), (3, 2), (5, 1), (5, 2)] {
            for size in [7, 14, 13, 30, 56] {
                let same = Padding2D.same(height: size, width: size, kernel: (k, k), stride: (s, s))
                check(batch: 2, channels: 6, outputs: 6, size: size, kernel: k, stride: s, pad: same, groups: 6, fused: true)
                check(batch: 1, channels: 5, outputs: 5, size: size, kernel: k, stride: s, pad: .symmetric(k / 2, k / 2),
                      groups: 5, fused: false)
            }
        }
    }

    func testDepthwiseOtherGeometriesKeepTheGenericPath() {
        check(batch: 1, channels: 4, outputs: 4, size: 11, kernel: 3, stride: 1, pad: .zero, groups: 4, fused: false)
        check(batch: 1, channels: 4, outputs: 4, size: 11, kernel: 7, stride: 3, pad: .symmetric(1, 1), groups: 4, fused: true)
    }
}
