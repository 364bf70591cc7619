import XCTest
import ForensightTensor

/// The channel-blocked inference kernels against the float64 convolution of `ConvolutionKernelTests`: channel counts
/// that leave a partial 16-channel block, output widths of 1–5 blocks (every register-tile width, and a second group
/// of four), pixel counts that leave partial 6-pixel tiles, depthwise windows that cross the padding on every side, and
/// the epilogue (scale, shift, ReLU6 clamp, residual).
extension ConvolutionKernelTests {
    /// A fused epilogue for `o` channels in both forms: the reference's and the blocked kernels'.
    func epilogues(_ o: Int, clamp: Bool, residual: Tensor?) -> (ChannelEpilogue, BlockedEpilogue) {
        let scale = (0..<o).map { Float($0 % 5) * 0.3 + 0.5 }, shift = (0..<o).map { Float($0 % 3) - 1 }
        return (ChannelEpilogue(scale: scale, shift: shift, activation: clamp ? .relu6 : nil, residual: residual),
                BlockedEpilogue(scale: scale, shift: shift, low: clamp ? 0 : -.infinity, high: clamp ? 6 : .infinity))
    }

    func assertClose(_ got: Tensor, _ want: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        var worst: Float = 0
        for i in 0..<Swift.min(got.count, want.count) {
            worst = Swift.max(worst, Swift.abs(got.data[i] - want[i]) / Swift.max(1, Swift.abs(want[i])))
        }
        XCTAssertLessThan(worst, 1e-5, what, file: file, line: line)
    }

    func testChannelBlockedLayoutRoundTripsAndPools() {
        var rng = SeededRandom(seed: 41)
        let x = Tensor.randn([2, 37, 5, 7], using: &rng)
        let blocked = ChannelBlocked(x)
        XCTAssertEqual(blocked.storage.shape, [2, 3, 5, 7, 16])
        XCTAssertEqual(blocked.unblocked().scalars, x.scalars)
        // Channels 37…47 of the last block are zero.
        for image in 0..<2 { for p in 0..<35 { for lane in 5..<16 {
            XCTAssertEqual(blocked.storage.data[((image * 3 + 2) * 35 + p) * 16 + lane], 0)
        } } }
        let pooled = blocked.globalAveragePool(), mean = x.adaptiveAvgPool2d((1, 1))
        XCTAssertEqual(pooled.shape, [2, 37])
        for i in 0..<(2 * 37) { XCTAssertEqual(pooled.data[i], mean.data[i], accuracy: 1e-5) }
    }

    func testBlockedPointwiseMatchesTheReference() {
        // (input channels, output channels, size, residual): 1–5 output blocks, partial input blocks, 1–169 pixels.
        let cases = [(20, 36, 7, false), (16, 96, 11, false), (300, 70, 5, true), (40, 24, 14, true), (3, 16, 1, false),
                     (64, 80, 13, false)]
        for (c, o, size, withResidual) in cases {
            var rng = SeededRandom(seed: UInt64(c * 100 + o))
            let x = Tensor.randn([2, c, size, size], using: &rng)
            let w = Tensor.randn([o, c, 1, 1], using: &rng) * (1 / Float(c).squareRoot())
            let residual = withResidual ? Tensor.randn([2, o, size, size], using: &rng) : nil
            let (reference, blocked) = epilogues(o, clamp: !withResidual, residual: residual)
            let conv = BlockedPointwiseConvolution(weight: w, epilogue: blocked)
            let got = conv(ChannelBlocked(x), residual: residual.map { ChannelBlocked($0) }).unblocked()
            let want = self.reference(x, w, bias: nil, stride: 1, pad: .zero, groups: 1, epilogue: reference)
            assertClose(got, want, "pointwise \(c)→\(o) @\(size)²")
        }
    }

    func testBlockedDepthwiseMatchesTheReference() {
        // (channels, size, kernel, stride, TF "same" or symmetric padding): planes up to 32 wide go through the padded
        // scratch copy (2×2 windows taller than the input included), wider ones read in place with checked edge columns,
        // whole 8-column groups and a partial last group; output widths of 7, 14 and 28 go in groups of 7. 7×7 windows
        // have no unrolled kernel.
        let cases = [(20, 7, 3, 1, true), (48, 14, 5, 1, true), (20, 15, 3, 2, true), (33, 29, 5, 2, true),
                     (16, 2, 5, 1, true), (24, 9, 3, 1, false), (17, 28, 3, 2, true), (16, 12, 5, 2, false),
                     (20, 45, 3, 1, true), (18, 47, 5, 2, true), (16, 37, 3, 2, false), (16, 40, 5, 1, false),
                     (16, 11, 7, 1, true), (16, 41, 7, 2, true), (16, 14, 5, 2, true), (16, 28, 5, 1, true)]
        for (c, size, k, s, same) in cases {
            var rng = SeededRandom(seed: UInt64(c * 100 + size * 10 + k))
            let x = Tensor.randn([2, c, size, size], using: &rng)
            let w = Tensor.randn([c, 1, k, k], using: &rng) * (1 / Float(k))
            let pad = same ? Padding2D.same(height: size, width: size, kernel: (k, k), stride: (s, s)) : .symmetric(k / 2, k / 2)
            let (reference, blocked) = epilogues(c, clamp: true, residual: nil)
            let conv = BlockedDepthwiseConvolution(weight: w, stride: s, epilogue: blocked)
            let got = conv(ChannelBlocked(x), padding: pad).unblocked()
            let want = self.reference(x, w, bias: nil, stride: s, pad: pad, groups: c, epilogue: reference)
            assertClose(got, want, "depthwise \(c) @\(size)² k\(k) s\(s) same \(same)")
        }
    }

    func testBlockedDirectConvolutionMatchesTheReference() {
        // A stem (3→32, 3×3, stride 2, TF "same"), and 3→20 5×5 at stride 1 on a non-square image. Output widths 15,
        // 13, 6 and 1 leave every remainder of the 8-column (AVX-512) and 6-column (AVX2) tiles.
        for (o, k, s, h, w) in [(32, 3, 2, 30, 30), (20, 5, 1, 17, 13), (16, 3, 2, 9, 11), (24, 3, 1, 5, 1)] {
            var rng = SeededRandom(seed: UInt64(o * 10 + k + h))
            let x = Tensor.randn([2, 3, h, w], using: &rng)
            let weight = Tensor.randn([o, 3, k, k], using: &rng) * (1 / Float(3 * k * k).squareRoot())
            let pad = s == 2 ? Padding2D.same(height: h, width: w, kernel: (k, k), stride: (s, s)) : .symmetric(k / 2, k / 2)
            let (reference, blocked) = epilogues(o, clamp: true, residual: nil)
            let got = BlockedDirectConvolution(weight: weight, stride: s, epilogue: blocked)(x, padding: pad).unblocked()
            let want = self.reference(x, weight, bias: nil, stride: s, pad: pad, groups: 1, epilogue: reference)
            assertClose(got, want, "direct 3→\(o) k\(k) s\(s) @\(h)×\(w)")
        }
    }
}
