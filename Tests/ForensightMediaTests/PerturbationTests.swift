import Foundation
import XCTest
import ForensightMedia

final class PerturbationTests: XCTestCase {
    typealias S = MediaTestSupport

    func testNamesForReports() {
        XCTAssertEqual(Perturbation.jpeg(quality: 50).description, "jpeg-q50")
        XCTAssertEqual(Perturbation.gaussianBlur(sigma: 1.5).description, "blur-sigma1.5")
        XCTAssertEqual(Perturbation.gaussianBlur(sigma: 2).description, "blur-sigma2")
        XCTAssertEqual(Perturbation.gaussianNoise(sigma: 10, seed: 7).description, "noise-sigma10-seed7")
        XCTAssertEqual(Perturbation.downscale(factor: 2).description, "downscale-2x")
        XCTAssertEqual(Set(Perturbation.standardSuite.map(\.description)).count, Perturbation.standardSuite.count)
    }

    func testEveryPerturbationKeepsTheSize() throws {
        let source = try S.source()
        for p in Perturbation.standardSuite {
            let out = p.apply(to: source)
            XCTAssertEqual(out.width, source.width, p.description)
            XCTAssertEqual(out.height, source.height, p.description)
        }
    }

    func testJPEGPerturbationIsAnEncodeDecodeRoundTrip() throws {
        let source = try S.source()
        for quality in [100, 90, 75, 50, 30] {
            let expected = try ImageDecoder.decode(data: ImageEncoder.jpeg(source, quality: quality))
            XCTAssertEqual(Perturbation.jpeg(quality: quality).apply(to: source), expected)
            // …which is also what Pillow's JPEG at that quality decodes to.
            let pillow = try S.fixtureImage("pillow_q\(quality)_decoded.png")
            XCTAssertLessThanOrEqual(S.difference(expected, pillow).mean, 0.25, "q\(quality)")
        }
    }

    func testGaussianNoiseIsSeededAndHasTheRequestedSpread() {
        let gray = RGBImage(width: 100, height: 100, fill: (128, 128, 128))
        let a = Perturbation.gaussianNoise(sigma: 10, seed: 42).apply(to: gray)
        XCTAssertEqual(a, Perturbation.gaussianNoise(sigma: 10, seed: 42).apply(to: gray))
        XCTAssertNotEqual(a, Perturbation.gaussianNoise(sigma: 10, seed: 43).apply(to: gray))
        let deviations = a.pixels.map { Double($0) - 128 }
        let mean = deviations.reduce(0, +) / Double(deviations.count)
        let std = (deviations.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(deviations.count)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.2)
        XCTAssertEqual(std, 10, accuracy: 0.3)  // rounding adds variance 1/12: √(100 + 1/12) ≈ 10.004
        // Clipping at the ends of the range.
        let white = Perturbation.gaussianNoise(sigma: 30, seed: 1).apply(to: RGBImage(width: 20, height: 20, fill: (255, 255, 255)))
        XCTAssertEqual(white.pixels.max(), 255)
        XCTAssertEqual(Perturbation.gaussianNoise(sigma: 0, seed: 1).apply(to: gray), gray)
    }

    func testBlurAndDownscaleSmooth() throws {
        let source = try S.source()
        func roughness(_ image: RGBImage) -> Double {
            var total = 0
            for y in 0..<image.height { for x in 1..<image.width { total += abs(Int(image[x, y].2) - Int(image[x - 1, y].2)) } }
            return Double(total)
        }
        XCTAssertLessThan(roughness(Perturbation.gaussianBlur(sigma: 2).apply(to: source)), roughness(source) / 2)
        XCTAssertLessThan(roughness(Perturbation.downscale(factor: 4).apply(to: source)), roughness(source))
        XCTAssertEqual(Perturbation.downscale(factor: 1).apply(to: source), source)
        XCTAssertEqual(Perturbation.gaussianBlur(sigma: 0).apply(to: source), source)
    }
}
