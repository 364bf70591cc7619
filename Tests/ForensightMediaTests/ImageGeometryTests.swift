import Foundation
import XCTest
import ForensightMedia

/// Geometry and filters against OpenCV / Pillow outputs (fixtures by scripts/reference/make_geometry_fixtures.py).
final class ImageGeometryTests: XCTestCase {
    typealias S = MediaTestSupport

    private struct Case: Decodable {
        let file: String
        let op: String
        let method: String?
        let width: Int?
        let height: Int?
        let matrix: [[Double]]?
        let border: String?
        let fill: [UInt8]?
        let inverse: Bool?
        let sigma: Double?
        let factor: Double?
    }

    private struct Manifest: Decodable { let opencv: String; let pillow: String; let cases: [Case] }

    private func manifest() throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: S.fixtures.appendingPathComponent("geometry.json")))
    }

    private func output(of c: Case, on source: RGBImage) -> RGBImage {
        switch c.op {
        case "resize":
            return source.resized(width: c.width!, height: c.height!, method: ResizeMethod(rawValue: c.method!)!)
        case "warp":
            let border: ImageBorder = c.border == "replicate" ? .replicate : .constant(c.fill![0], c.fill![1], c.fill![2])
            return ImageGeometry.warpAffine(source, matrix: AffineMatrix(rows: c.matrix!), outputSize: (c.width!, c.height!),
                                            border: border, inverseMap: c.inverse!)
        case "blur":
            return Perturbation.gaussianBlur(sigma: c.sigma!).apply(to: source)
        case "downscale":
            return Perturbation.downscale(factor: c.factor!).apply(to: source)
        default:
            fatalError("unknown fixture op \(c.op)")
        }
    }

    /// Bit-exact everywhere except OpenCV's INTER_LINEAR upscale, where the first/last rows may differ by one level.
    func testAgainstOpenCVAndPillowFixtures() throws {
        let source = try S.source()
        let m = try manifest()
        var worst: [String: (mean: Double, max: Int)] = [:]
        for c in m.cases {
            let expected = try S.fixtureImage(c.file)
            let ours = output(of: c, on: source)
            guard ours.width == expected.width, ours.height == expected.height else {
                XCTFail("\(c.file): size \(ours.width)×\(ours.height), expected \(expected.width)×\(expected.height)"); continue
            }
            let d = S.difference(ours, expected)
            let upscaleLinear = (c.op == "resize" && c.method == "bilinear" && (c.width! > source.width || c.height! > source.height)) || c.op == "downscale"
            XCTAssertLessThanOrEqual(d.max, upscaleLinear ? 1 : 0, "\(c.file): mean \(d.mean)")
            XCTAssertLessThanOrEqual(d.differing, upscaleLinear ? 0.02 : 0, "\(c.file)")
            let key = c.op == "resize" ? "resize-\(c.method!)" : c.op
            let previous = worst[key] ?? (0, 0)
            worst[key] = (max(previous.mean, d.mean), max(previous.max, d.max))
        }
        print("geometry vs OpenCV \(m.opencv) / Pillow \(m.pillow):",
              worst.sorted { $0.key < $1.key }.map { "\($0.key) mean≤\($0.value.mean) max≤\($0.value.max)" }.joined(separator: "; "))
    }

    func testCropPadsOutsideWithTheFillColour() {
        let image = RGBImage(width: 3, height: 2, pixels: Array(1...18).map(UInt8.init))
        let crop = image.cropped(x: -1, y: 1, width: 3, height: 2, fill: (200, 201, 202))
        XCTAssertEqual(crop.pixels, [200, 201, 202, 10, 11, 12, 13, 14, 15,
                                     200, 201, 202, 200, 201, 202, 200, 201, 202])
        XCTAssertEqual(image.cropped(x: 0, y: 0, width: 3, height: 2), image)
        XCTAssertEqual(image.cropped(x: 10, y: 10, width: 2, height: 1, fill: (5, 5, 5)).pixels, [5, 5, 5, 5, 5, 5])
        let padded = ImageGeometry.pad(image, top: 1, left: 2, bottom: 0, right: 1, fill: (9, 9, 9))
        XCTAssertEqual(padded.width, 6); XCTAssertEqual(padded.height, 3)
        XCTAssertEqual(padded[2, 1].0, 1); XCTAssertEqual(padded[0, 0].0, 9); XCTAssertEqual(padded[5, 2].0, 9)
    }

    func testPasteCopiesTheTileAndClipsAtTheEdges() {
        var canvas = RGBImage(width: 5, height: 4, fill: (0, 0, 0))
        let tile = RGBImage(width: 3, height: 2, pixels: (0..<18).map { UInt8($0 + 1) })
        ImageGeometry.paste(tile, into: &canvas, x: 1, y: 1)
        XCTAssertEqual(canvas[1, 1].0, 1); XCTAssertEqual(canvas[3, 2].2, 18); XCTAssertEqual(canvas[0, 1].0, 0); XCTAssertEqual(canvas[4, 1].0, 0)
        // Hanging over the top-left and the right edge: only the overlap is written.
        var small = RGBImage(width: 2, height: 2, fill: (9, 9, 9))
        ImageGeometry.paste(tile, into: &small, x: -1, y: -1)
        XCTAssertEqual(small[0, 0].0, tile[1, 1].0)
        XCTAssertEqual(small[1, 0].0, tile[2, 1].0)
        XCTAssertEqual(small[0, 1].0, 9)
        ImageGeometry.paste(tile, into: &small, x: 7, y: 0)        // entirely outside: nothing changes
        XCTAssertEqual(small[1, 1].0, 9)
    }

    func testFlipAndOrientationsAreConsistent() throws {
        let source = try S.source()
        XCTAssertEqual(source.flippedHorizontally().flippedHorizontally(), source)
        XCTAssertEqual(source.flippedHorizontally()[0, 5].0, source[63, 5].0)
        // Rotating by 90° clockwise four times (orientation 6) is the identity; 6 then 8 undo each other.
        var r = source
        for _ in 0..<4 { r = ImageGeometry.applyEXIFOrientation(r, orientation: 6) }
        XCTAssertEqual(r, source)
        XCTAssertEqual(ImageGeometry.applyEXIFOrientation(ImageGeometry.applyEXIFOrientation(source, orientation: 6), orientation: 8), source)
    }

    func testAffineInverseAndIdentityWarp() throws {
        let m = AffineMatrix(a: 1.2, b: -0.3, c: 5, d: 0.4, e: 0.9, f: -2)
        let p = m.inverted().apply(x: m.apply(x: 3, y: 7).x, y: m.apply(x: 3, y: 7).y)
        XCTAssertEqual(p.x, 3, accuracy: 1e-12); XCTAssertEqual(p.y, 7, accuracy: 1e-12)
        let source = try S.source()
        XCTAssertEqual(ImageGeometry.warpAffine(source, matrix: .identity, outputSize: (64, 48)), source)
        // A pure integer translation moves pixels and fills the uncovered band.
        let shifted = ImageGeometry.warpAffine(source, matrix: AffineMatrix(a: 1, b: 0, c: 2, d: 0, e: 1, f: 0),
                                               outputSize: (64, 48), border: .constant(1, 2, 3))
        XCTAssertEqual(shifted[5, 9].0, source[3, 9].0)
        XCTAssertTrue(shifted[1, 9] == (1, 2, 3))
    }

    func testResizeKeepsFlatImagesFlat() {
        let flat = RGBImage(width: 37, height: 23, fill: (10, 120, 250))
        for method in ResizeMethod.allCases {
            for (w, h) in [(11, 7), (80, 50), (37, 5), (1, 1)] {
                XCTAssertEqual(flat.resized(width: w, height: h, method: method), RGBImage(width: w, height: h, fill: (10, 120, 250)),
                               "\(method) \(w)×\(h)")
            }
        }
    }
}
