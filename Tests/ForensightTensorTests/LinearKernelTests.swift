import XCTest
import ForensightTensor

/// `linear` on its three paths: one row (a matrix-vector product), a few rows (one GEMM) and many rows with many
/// output features (split over the worker pool), against a float64 sum (within 1e-5 of the sum of |terms|).
final class LinearKernelTests: XCTestCase {
    func check(rows: Int, inFeatures: Int, outFeatures: Int, bias: Bool, file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededRandom(seed: UInt64(rows * 7919 + inFeatures * 31 + outFeatures))
        let x = Tensor.randn([rows, inFeatures], using: &rng), w = Tensor.randn([outFeatures, inFeatures], using: &rng)
        let b = bias ? Tensor.randn([outFeatures], using: &rng) : nil
        let got = withoutGrad { Tensor.linear(x, weight: w, bias: b) }
        XCTAssertEqual(got.shape, [rows, outFeatures], file: file, line: line)
        var worst = 0.0
        for r in 0..<rows {
            for o in 0..<outFeatures {
                var sum = Double(b?.data[o] ?? 0), magnitude = Swift.abs(sum)
                for c in 0..<inFeatures {
                    let term = Double(x.data[r * inFeatures + c]) * Double(w.data[o * inFeatures + c])
                    (sum, magnitude) = (sum + term, magnitude + Swift.abs(term))
                }
                // Relative to Σ|terms|, the scale of a float32 sum's rounding; one wrong term is ~1/k of it.
                worst = Swift.max(worst, Swift.abs(Double(got.data[r * outFeatures + o]) - sum) / Swift.max(1, magnitude))
            }
        }
        XCTAssertLessThan(worst, 1e-5, "rows \(rows) in \(inFeatures) out \(outFeatures) bias \(bias)", file: file, line: line)
    }

    func testOneRowFewRowsAndSplitProducts() {
        for bias in [false, true] {
            check(rows: 1, inFeatures: 1280, outFeatures: 1000, bias: bias)
            check(rows: 1, inFeatures: 7, outFeatures: 1, bias: bias)
            check(rows: 3, inFeatures: 64, outFeatures: 10, bias: bias)
            check(rows: 40, inFeatures: 300, outFeatures: 520, bias: bias)
        }
    }

    func testOneRowGradientsMatchTheGeneralPath() {
        var rng = SeededRandom(seed: 3)
        let x = Tensor.randn([1, 9], using: &rng, requiresGrad: true), w = Tensor.randn([5, 9], using: &rng, requiresGrad: true)
        Tensor.linear(x, weight: w, bias: nil).sum().backward()
        for c in 0..<9 {
            let want = (0..<5).reduce(Float(0)) { $0 + w.data[$1 * 9 + c] }
            XCTAssertEqual(x.grad!.data[c], want, accuracy: 1e-5)
            XCTAssertEqual(w.grad!.data[2 * 9 + c], x.data[c], accuracy: 1e-6)
        }
    }
}
