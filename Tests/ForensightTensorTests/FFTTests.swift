import XCTest
import Foundation
import ForensightTensor

/// The mixed-radix FFT against a direct O(n²) DFT in double precision.
final class FFTTests: XCTestCase {
    func directDFT(_ re: [Float], _ im: [Float], inverse: Bool) -> ([Double], [Double]) {
        let n = re.count, sign = inverse ? 1.0 : -1.0
        var outRe = [Double](repeating: 0, count: n), outIm = outRe
        for k in 0..<n {
            for j in 0..<n {
                let angle = sign * 2 * Double.pi * Double(j * k % n) / Double(n)
                outRe[k] += Double(re[j]) * cos(angle) - Double(im[j]) * sin(angle)
                outIm[k] += Double(re[j]) * sin(angle) + Double(im[j]) * cos(angle)
            }
        }
        return (outRe, outIm)
    }

    func testLengthsUsedByTheModelsMatchTheDirectDFT() {
        var rng = SeededRandom(seed: 2)
        for n in [1, 2, 3, 5, 7, 8, 11, 14, 28, 49, 56, 97, 112, 224, 256] {
            for inverse in [false, true] {
                var re = (0..<n).map { _ in rng.nextNormal() }, im = (0..<n).map { _ in rng.nextNormal() }
                let (er, ei) = directDFT(re, im, inverse: inverse)
                re.withUnsafeMutableBufferPointer { r in
                    im.withUnsafeMutableBufferPointer { i in
                        FFTPlan.shared(n).transform(re: r.baseAddress!, im: i.baseAddress!, stride: 1,
                                                    direction: inverse ? .inverse : .forward)
                    }
                }
                let scale = max(er.map(abs).max()!, ei.map(abs).max()!)
                let err = (0..<n).map { max(abs(Double(re[$0]) - er[$0]), abs(Double(im[$0]) - ei[$0])) }.max()!
                XCTAssertLessThan(err / scale, 1e-5, "n = \(n) inverse = \(inverse)")
            }
        }
    }

    func testInverseUndoesForwardOn224Square() {
        var rng = SeededRandom(seed: 3)
        let x = Tensor.randn([2, 224, 224, 2], using: &rng)
        let back = x.fft2().ifft2()
        var worst: Float = 0
        for i in 0..<x.count { worst = max(worst, abs(back.data[i] - x.data[i])) }
        XCTAssertLessThan(worst, 1e-4)
        // Parseval: Σ|X|² = HW · Σ|x|².
        let energy = x.squared().sum().item, spectral = x.fft2().squared().sum().item
        XCTAssertEqual(spectral / (224 * 224), energy, accuracy: energy * 1e-4)
    }
}
