import XCTest
import Foundation
import ForensightTensor

/// `PackedLinear` against a float64 sum: row counts that leave partial 6-row tiles, output widths of 1–5 blocks of 16
/// (and one that is not a multiple of 16), inputs deeper than one pass (512 inputs with AVX-512, 256 with AVX2), a batch dimension, GELU and a
/// residual on the store.
final class PackedLinearTests: XCTestCase {
    func check(shape: [Int], inFeatures k: Int, outFeatures o: Int, gelu: Bool, residual withResidual: Bool,
               file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededRandom(seed: UInt64(shape.reduce(1, *) * 7919 + k * 31 + o))
        let x = Tensor.randn(shape + [k], using: &rng), w = Tensor.randn([o, k], using: &rng) * (1 / Float(k).squareRoot())
        let b = Tensor.randn([o], using: &rng)
        let residual = withResidual ? Tensor.randn(shape + [o], using: &rng) : nil
        let got = PackedLinear(weight: w, bias: b)(x, activation: gelu ? .gelu : nil, residual: residual)
        XCTAssertEqual(got.shape, shape + [o], file: file, line: line)
        let rows = shape.reduce(1, *)
        var worst = 0.0
        for r in 0..<rows {
            for j in 0..<o {
                var sum = Double(b.data[j]), magnitude = Swift.abs(sum)
                for c in 0..<k {
                    let term = Double(x.data[r * k + c]) * Double(w.data[j * k + c])
                    (sum, magnitude) = (sum + term, magnitude + Swift.abs(term))
                }
                if gelu { sum = 0.5 * sum * (1 + erf(sum / 2.0.squareRoot())) }
                if let residual { sum += Double(residual.data[r * o + j]) }
                worst = Swift.max(worst, Swift.abs(Double(got.data[r * o + j]) - sum) / Swift.max(1, magnitude))
            }
        }
        XCTAssertLessThan(worst, 1e-5, "shape \(shape) in \(k) out \(o) gelu \(gelu) residual \(withResidual)", file: file, line: line)
    }

    func testTilesPassesAndEpilogues() {
        check(shape: [1], inFeatures: 20, outFeatures: 16, gelu: false, residual: false)
        check(shape: [2, 7], inFeatures: 64, outFeatures: 80, gelu: true, residual: false)
        check(shape: [13], inFeatures: 700, outFeatures: 48, gelu: false, residual: true)
        check(shape: [3, 5], inFeatures: 33, outFeatures: 40, gelu: false, residual: false)
        check(shape: [97], inFeatures: 1100, outFeatures: 32, gelu: true, residual: true)
        check(shape: [6], inFeatures: 8, outFeatures: 7, gelu: false, residual: false)
        // Exactly two AVX2 passes of 256 (one AVX-512 pass of 512), the epilogue on the second.
        check(shape: [8], inFeatures: 512, outFeatures: 64, gelu: true, residual: true)
    }
}
