import XCTest
import Foundation
import ForensightTensor

/// The 16-lane math helpers and the vector softmax row against float64 references.
final class VectorMathTests: XCTestCase {
    func testExpAndErfMatchFoundation() {
        for start in stride(from: -20.0, to: 20.0, by: 0.37) {
            let x = Float16x((0..<16).map { Float(start + Double($0) * 0.011) })
            let e = vexp(x), f = verf(x)
            for j in 0..<16 {
                let v = Double(x[j])
                XCTAssertEqual(Double(e[j]), Foundation.exp(v), accuracy: 2e-6 * Foundation.exp(v), "exp(\(v))")
                XCTAssertEqual(Double(f[j]), Foundation.erf(v), accuracy: 2e-6, "erf(\(v))")
            }
        }
    }

    /// Row lengths around the 16-lane width (whole vectors, a tail, a tail only), with large values and −∞ entries
    /// (masked attention scores), at scales 1 and 1/8.
    func testSoftmaxRowsOfEveryLength() {
        var rng = SeededRandom(seed: 5)
        for n in [1, 5, 15, 16, 17, 31, 32, 40, 197] {
            for scale: Float in [1, 0.125] {
                let noise = Tensor.randn([n], using: &rng)
                var row = (0..<n).map { noise.data[$0] * 30 }
                if n > 3 { row[1] = -.infinity; row[n - 1] = -.infinity }
                var out = [Float](repeating: 0, count: n)
                row.withUnsafeBufferPointer { src in
                    out.withUnsafeMutableBufferPointer { softmaxRow(src.baseAddress!, $0.baseAddress!, n: n, stride: 1, log: false, scale: scale) }
                }
                let m = row.map { Double($0) * Double(scale) }.max()!
                let e = row.map { Foundation.exp(Double($0) * Double(scale) - m) }
                let sum = e.reduce(0, +)
                for j in 0..<n { XCTAssertEqual(Double(out[j]), e[j] / sum, accuracy: 1e-6, "n \(n) scale \(scale) j \(j)") }
            }
        }
    }
}
