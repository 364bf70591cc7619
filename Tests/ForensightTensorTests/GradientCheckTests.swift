import XCTest
import ForensightTensor
import ForensightTestSupport

/// Finite-difference checks of every differentiable op's backward pass.
final class GradientCheckTests: XCTestCase {
    var rng = SeededRandom(seed: 42)

    /// A random input that needs gradients, kept at least `gap` away from 0 (the kinks of relu, abs, …).
    func input(_ shape: [Int], gap: Float = 0.05, scale: Float = 1) -> Tensor {
        let t = Tensor.randn(shape, std: scale, using: &rng)
        for i in 0..<t.count where Swift.abs(t.data[i]) < gap { t.data[i] = t.data[i] < 0 ? -gap - 0.01 : gap + 0.01 }
        t.requiresGrad = true
        return t
    }

    func check(_ inputs: [Tensor], eps: Float = 1e-3, atol: Float = 3e-3, rtol: Float = 3e-2,
               file: StaticString = #filePath, line: UInt = #line, _ f: @escaping ([Tensor]) -> Tensor) {
        let (passed, result) = checkGradients(inputs, eps: eps, atol: atol, rtol: rtol, f)
        XCTAssertTrue(passed, result.description, file: file, line: line)
        XCTAssertGreaterThan(result.checked, 0, file: file, line: line)
    }

    func testBroadcastArithmetic() {
        check([input([2, 3, 4]), input([3, 1])]) { $0[0] + $0[1] }
        check([input([2, 3, 4]), input([4])]) { $0[0] - $0[1] }
        check([input([2, 1, 4]), input([3, 1])]) { $0[0] * $0[1] }
        check([input([2, 3]), input([3], gap: 0.5)]) { $0[0] / $0[1] }
        check([input([5])]) { -$0[0] * 3 + 2 }
        check([input([40])]) { $0[0].affine(scale: 0.25, shift: -1) }
        check([input([5], gap: 0.5)]) { 2 / $0[0] - 1 }
        check([input([2, 3]), input([2, 3])]) { Tensor.maximum($0[0], $0[1]) }
        check([input([3, 1])]) { $0[0].expand(to: [2, 3, 4]) }
    }

    func testPointwiseMath() {
        check([input([6])]) { $0[0].exp() }
        check([input([6]).abs().detach().withGrad()]) { ($0[0] + 0.5).log() }
        check([input([6]).abs().detach().withGrad()]) { ($0[0] + 0.5).sqrt() }
        check([input([6])]) { $0[0].squared() }
        check([input([6]).abs().detach().withGrad()]) { ($0[0] + 0.5).pow(1.7) }
        check([input([6])]) { $0[0].abs() }
        check([input([8], scale: 2)]) { $0[0].clamped(min: -1, max: 1) }
    }

    func testActivations() {
        check([input([3, 7], scale: 2)]) { $0[0].relu() }
        check([input([3, 7], scale: 4)]) { ($0[0] + 3).relu6() }
        check([input([2, 3, 4, 4]), input([3])]) { $0[0].prelu($0[1]) }
        check([input([3, 7], scale: 2)]) { $0[0].gelu() }
        check([input([3, 7], scale: 2)]) { $0[0].quickGelu() }
        check([input([3, 7], scale: 2)]) { $0[0].silu() }
        check([input([3, 7], scale: 2)]) { $0[0].sigmoid() }
        check([input([3, 7])]) { $0[0].tanh() }
        check([input([3, 7])]) { $0[0].softmax(axis: 1) }
        check([input([4, 3, 2])]) { $0[0].softmax(axis: 0) }
        check([input([3, 7])]) { $0[0].logSoftmax(axis: -1) }
    }

    func testMatrixProducts() {
        check([input([3, 4]), input([4, 5])]) { Tensor.matmul($0[0], $0[1]) }
        check([input([4, 3]), input([5, 4])]) { Tensor.matmul($0[0], $0[1], transposeA: true, transposeB: true) }
        check([input([2, 1, 3, 4]), input([3, 4, 5])]) { Tensor.matmul($0[0], $0[1]) }
        check([input([2, 3, 6]), input([4, 6]), input([4])]) { Tensor.linear($0[0], weight: $0[1], bias: $0[2]) }
    }

    func testConvolutions() {
        check([input([1, 3, 7, 9]), input([4, 3, 3, 3]), input([4])]) {
            Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], stride: (2, 2), padding: .same(height: 7, width: 9, kernel: (3, 3), stride: (2, 2)))
        }
        check([input([2, 4, 8, 8]), input([6, 2, 3, 3])]) {
            Tensor.conv2d($0[0], weight: $0[1], padding: .symmetric(2, 2), dilation: (2, 2), groups: 2)
        }
        check([input([2, 5, 8, 7]), input([5, 1, 3, 3]), input([5])]) {
            Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], stride: (2, 2), padding: .symmetric(1, 1), groups: 5)
        }
        // Depthwise, stride 1 with TensorFlow "same" padding over more than one 16-column block, and dilated.
        check([input([2, 3, 5, 19]), input([3, 1, 5, 5])]) {
            Tensor.conv2d($0[0], weight: $0[1], padding: .same(height: 5, width: 19, kernel: (5, 5), stride: (1, 1)), groups: 3)
        }
        check([input([1, 2, 6, 18]), input([2, 1, 3, 3]), input([2])]) {
            Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], stride: (2, 2), padding: .same(height: 6, width: 18, kernel: (3, 3), stride: (2, 2)),
                          groups: 2)
        }
        check([input([1, 2, 7, 8]), input([2, 1, 3, 3])]) {
            Tensor.conv2d($0[0], weight: $0[1], padding: .symmetric(2, 2), dilation: (2, 2), groups: 2)
        }
        check([input([2, 6, 4, 5]), input([3, 6, 1, 1])]) { Tensor.conv2d($0[0], weight: $0[1]) }
        // Direct kernel (few channels, stride 1, no padding, ≥ 16 output columns; 5 channels = a partial block of 4).
        check([input([1, 3, 6, 21]), input([5, 3, 3, 3]), input([5])]) { Tensor.conv2d($0[0], weight: $0[1], bias: $0[2]) }
    }

    func testPoolingAndResampling() {
        check([input([2, 3, 9, 10])]) { $0[0].maxPool2d(kernel: (3, 3), stride: (2, 2), ceilMode: true) }
        check([input([1, 2, 7, 7])]) { $0[0].avgPool2d(kernel: (2, 2), stride: (2, 2), padding: .symmetric(1, 1)) }
        check([input([1, 2, 7, 9])]) { $0[0].adaptiveAvgPool2d((3, 4)) }
        check([input([1, 2, 5, 7])]) { $0[0].upsampleNearest((12, 9)) }
        check([input([1, 2, 5, 7])]) { $0[0].upsampleBilinear((9, 4)) }
        check([input([1, 2, 5, 7])]) { $0[0].upsampleBilinear((9, 11), alignCorners: true) }
        check([input([2, 2, 3, 4])]) { $0[0].zeroInserted() }
    }

    func testNormalization() {
        check([input([4, 3, 5, 5]), input([3]), input([3])]) {
            Tensor.batchNorm($0[0], runningMean: nil, runningVar: nil, weight: $0[1], bias: $0[2], eps: 1e-5).output
        }
        let mean = Tensor([0.1, -0.2, 0.3]), variance = Tensor([0.5, 1.5, 2])
        check([input([2, 3, 4, 4]), input([3]), input([3])]) {
            Tensor.batchNorm($0[0], runningMean: mean, runningVar: variance, weight: $0[1], bias: $0[2], eps: 1e-5).output
        }
        check([input([3, 10]), input([10]), input([10])]) { Tensor.layerNorm($0[0], weight: $0[1], bias: $0[2], eps: 1e-5) }
    }

    func testShapeOps() {
        check([input([2, 6])]) { $0[0].reshaped([3, 4]) }
        check([input([2, 3, 4])]) { $0[0].permuted([2, 0, 1]) }
        check([input([2, 3, 4])]) { $0[0].transposed(0, 2) }
        check([input([4, 5])]) { $0[0].slice(axis: 1, 1..<4) }
        check([input([4, 5])]) { let p = $0[0].split([2, 3], axis: 1); return p[1] * 2 + p[0].sum() }
        check([input([2, 3]), input([2, 2])]) { Tensor.concatenate([$0[0], $0[1]], axis: 1) }
        check([input([4, 3])]) { $0[0].gather([3, 0, 3, 1], axis: 0) }
        check([input([2, 3])]) { $0[0].padded([(1, 0), (2, 1)], value: 0.5) }
        check([input([2, 3, 4])]) { $0[0].flipped(axes: [0, 2]) }
    }

    func testReductions() {
        check([input([2, 3, 4])]) { $0[0].sum(axes: [0, 2]) }
        check([input([2, 3, 4])]) { $0[0].sum(axes: [1], keepDims: true) }
        check([input([2, 3, 4])]) { $0[0].mean(axes: [2]) }
        check([input([3, 4, 5])]) { $0[0].variance(axes: [0, 2], correction: 1) }
        check([input([3, 5])]) { $0[0].max(axis: 1).values }
        check([input([3, 5])]) { $0[0].mean() }
    }

    func testLosses() {
        check([input([4, 5])]) { Tensor.crossEntropy($0[0], targets: [1, 0, 4, 2], labelSmoothing: 0.1) }
        let targets = Tensor([1, 0, 0, 1, 1, 0])
        check([input([6], scale: 2)]) { Tensor.binaryCrossEntropyWithLogits($0[0], targets: targets) }
        check([input([3, 4]), input([3, 4])]) { Tensor.mseLoss($0[0], $0[1]) }
        check([input([3, 4]), input([3, 4])]) { Tensor.l1Loss($0[0], $0[1]) }
    }

    func testAttention() {
        let mask = Tensor.randn([5, 6], using: &rng)
        check([input([2, 3, 5, 4]), input([2, 3, 6, 4]), input([2, 3, 6, 3])]) {
            Tensor.scaledDotProductAttention($0[0], $0[1], $0[2], mask: mask)
        }
    }

    func testFourierTransforms() {
        check([input([2, 7, 14, 2])]) { $0[0].fft2() }
        check([input([1, 6, 4, 2])]) { $0[0].ifft2() }
        check([input([3, 5])]) { $0[0].reshaped([1, 3, 5]).asComplex().fft2().complexMagnitude() }
    }

    func testDropoutIsDeterministicMaskedScaling() {
        check([input([20])]) { var r = SeededRandom(seed: 3); return $0[0].dropout(0.3, using: &r) }
        var r = SeededRandom(seed: 3)
        let y = Tensor.ones([1000]).dropout(0.25, using: &r)
        let zeros = y.scalars.filter { $0 == 0 }.count
        XCTAssert((180...320).contains(zeros), "dropped \(zeros) of 1000 at p = 0.25")
        XCTAssert(y.scalars.allSatisfy { $0 == 0 || Swift.abs($0 - 4.0 / 3.0) < 1e-6 })
    }

    func testGradientReversalNegatesAndScales() {
        let x = input([4])
        let y = (x.gradientReversal(lambda: 0.5) * Tensor([1, 2, 3, 4])).sum()
        XCTAssertEqual(y.item, (0..<4).map { x.data[$0] * Float($0 + 1) }.reduce(0, +), accuracy: 1e-5)
        y.backward()
        XCTAssertEqual(x.grad!.scalars, [-0.5, -1, -1.5, -2])
    }
}

extension Tensor {
    /// A copy that needs gradients (test convenience).
    func withGrad() -> Tensor { let t = detached(); t.requiresGrad = true; return t }
}

/// The checker itself must catch a wrong backward pass.
final class GradientCheckerTests: XCTestCase {
    func testCheckerRejectsAWrongGradient() {
        var rng = SeededRandom(seed: 1)
        let x = Tensor.randn([5], using: &rng, requiresGrad: true)
        // Forward is the identity, backward negates: a deliberately wrong gradient.
        let (passed, result) = checkGradients([x]) { $0[0].gradientReversal() }
        XCTAssertFalse(passed, result.description)
        XCTAssertGreaterThan(result.maxAbsoluteError, 0.1)
    }
}

/// The packed self-attention fast path equals the taped composition.
final class PackedAttentionTests: XCTestCase {
    func testInferencePathMatchesTapedPath() {
        var rng = SeededRandom(seed: 5)
        let qkv = Tensor.randn([2, 7, 3 * 12], using: &rng)
        let fast = withoutGrad { Tensor.packedSelfAttention(qkv, heads: 3) }
        let taped = Tensor.packedSelfAttention(qkv.withGrad(), heads: 3)
        var worst: Float = 0
        for i in 0..<fast.count { worst = Swift.max(worst, Swift.abs(fast.data[i] - taped.data[i])) }
        XCTAssertLessThan(worst, 1e-5)
        XCTAssertEqual(fast.shape, [2, 7, 12])
    }
}

/// Ops with a separate inference path (no tape) give the taped path's values.
final class InferencePathTests: XCTestCase {
    func assertSame(_ op: (Tensor) -> Tensor, _ shape: [Int], file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededRandom(seed: 11)
        let x = Tensor.randn(shape, using: &rng)
        let fast = withoutGrad { op(x) }
        let taped = op(x.withGrad())
        XCTAssertEqual(fast.shape, taped.shape, file: file, line: line)
        var worst: Float = 0
        for i in 0..<fast.count { worst = Swift.max(worst, Swift.abs(fast.data[i] - taped.data[i])) }
        XCTAssertLessThan(worst, 1e-5, file: file, line: line)
    }

    func testPoolingPReLUAndConvolutionPaths() {
        assertSame({ $0.maxPool2d(kernel: (3, 3), stride: (2, 2), ceilMode: true) }, [2, 3, 13, 10])
        assertSame({ $0.maxPool2d(kernel: (2, 2), stride: (2, 2), padding: .symmetric(1, 1)) }, [1, 2, 7, 9])
        assertSame({ $0.maxPool2d(kernel: (2, 2), stride: (2, 2), ceilMode: true) }, [1, 3, 37, 75])   // vector path + odd edges
        assertSame({ $0.maxPool2d(kernel: (2, 2), stride: (2, 2)) }, [2, 2, 8, 40])
        assertSame({ $0.maxPool2d(kernel: (3, 3), stride: (2, 2), ceilMode: true) }, [1, 3, 23, 71])   // vector path + edges
        assertSame({ $0.maxPool2d(kernel: (3, 3), stride: (2, 2)) }, [1, 2, 9, 40])
        assertSame({ $0.maxPool2d(kernel: (3, 3), stride: (2, 2), ceilMode: true) }, [2, 3, 22, 22])   // R-Net: 8-wide path + tail
        assertSame({ $0.maxPool2d(kernel: (3, 3), stride: (2, 2), ceilMode: true) }, [1, 2, 46, 45])   // O-Net widths
        assertSame({ $0.maxPool2d(kernel: (3, 3), stride: (2, 2), ceilMode: true) }, [1, 2, 5, 4])     // edges only
        assertSame({ $0.adaptiveAvgPool2d((5, 3)) }, [2, 3, 13, 10])
        assertSame({ $0.adaptiveAvgPool2d((24, 24)) }, [1, 3, 31, 50])
        assertSame({ $0.prelu(Tensor([0.1, -0.3, 0.5])) }, [2, 3, 4, 5])
    }
}

extension InferencePathTests {
    func testRegionAveragingEqualsCropThenPool() {
        var rng = SeededRandom(seed: 12)
        let x = Tensor.randn([1, 3, 40, 50], using: &rng)
        let direct = x.regionAdaptiveAverage(rows: 5..<31, columns: 17..<46, size: (24, 24))
        let viaCrop = withoutGrad { x.slice(axis: 2, 5..<31).slice(axis: 3, 17..<46).adaptiveAvgPool2d((24, 24)) }
        XCTAssertEqual(direct.shape, [1, 3, 24, 24])
        for i in 0..<direct.count { XCTAssertEqual(direct.data[i], viaCrop.data[i], accuracy: 1e-5) }
    }
}

extension InferencePathTests {
    func testAttentionHeadsInParallelMatchTheTapedPath() {
        var rng = SeededRandom(seed: 13)
        let (q, k, v) = (Tensor.randn([2, 3, 5, 4], using: &rng), Tensor.randn([2, 3, 6, 4], using: &rng), Tensor.randn([2, 3, 6, 3], using: &rng))
        let mask = Tensor.randn([5, 6], using: &rng)
        let fast = withoutGrad { Tensor.scaledDotProductAttention(q, k, v, mask: mask) }
        let taped = Tensor.scaledDotProductAttention(q.withGrad(), k, v, mask: mask)
        for i in 0..<fast.count { XCTAssertEqual(fast.data[i], taped.data[i], accuracy: 1e-5) }
    }
}
