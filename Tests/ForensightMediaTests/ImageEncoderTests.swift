import Foundation
import XCTest
import ForensightMedia

final class ImageEncoderTests: XCTestCase {
    typealias S = MediaTestSupport

    /// Our JPEG encoder against Pillow's `save(quality=q)` of the same image, compared after decoding both with our
    /// decoder. Tolerance: mean absolute difference ≤ 0.25 level and max ≤ 2 per sample (identical settings give 0).
    func testJPEGEncoderMatchesPillowAtStandardQualities() throws {
        let source = try S.source()
        var report: [String] = []
        for quality in [100, 90, 75, 50, 30] {
            let ours = try ImageEncoder.jpeg(source, quality: quality)
            let pillowBytes = try S.fixtureBytes("pillow_q\(quality).jpg")
            let d = S.difference(try ImageDecoder.decode(data: ours), try ImageDecoder.decode(data: pillowBytes))
            report.append("q\(quality): mean \(d.mean) max \(d.max) bytes \(ours == pillowBytes ? "identical" : "\(ours.count) vs \(pillowBytes.count)")")
            XCTAssertLessThanOrEqual(d.mean, 0.25, "q\(quality)")
            XCTAssertLessThanOrEqual(d.max, 2, "q\(quality)")
        }
        print("JPEG encoder vs Pillow:", report.joined(separator: "; "))
    }

    func testJPEGQualityOrdersFileSizeAndError() throws {
        let source = try S.source()
        let sizes = try [30, 50, 75, 90, 100].map { try ImageEncoder.jpeg(source, quality: $0).count }
        XCTAssertEqual(sizes, sizes.sorted())
        let q100 = S.difference(try ImageDecoder.decode(data: ImageEncoder.jpeg(source, quality: 100)), source).mean
        let q30 = S.difference(try ImageDecoder.decode(data: ImageEncoder.jpeg(source, quality: 30)), source).mean
        XCTAssertLessThan(q100, q30)
        // Out-of-range qualities are clamped rather than rejected.
        XCTAssertEqual(try ImageEncoder.jpeg(source, quality: 0), try ImageEncoder.jpeg(source, quality: 1))
        XCTAssertEqual(try ImageEncoder.jpeg(source, quality: 150), try ImageEncoder.jpeg(source, quality: 100))
    }

    func testPNGRoundTripIsLossless() throws {
        let source = try S.source()
        XCTAssertEqual(try ImageDecoder.decode(data: ImageEncoder.png(source)), source)
        let odd = RGBImage(width: 1, height: 3, pixels: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        XCTAssertEqual(try ImageDecoder.decode(data: ImageEncoder.png(odd)), odd)
    }

    /// Our PNG writer (zlib behind the Up filter) is read back by libpng, which checks every chunk's CRC and the zlib
    /// stream, to the same pixels for noise, flat and gradient images of awkward sizes; a damaged CRC is refused.
    func testPNGWriterIsReadByLibpngForAnySizeAndContent() throws {
        var state: UInt32 = 5
        func next() -> UInt8 { state = state &* 1_664_525 &+ 1_013_904_223; return UInt8(state >> 24) }
        for (w, h) in [(1, 1), (3, 7), (257, 5), (64, 64), (5, 300)] {
            let noise = RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { _ in next() })
            let ramp = RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { UInt8(($0 * 7 + $0 / (w * 3)) % 256) })
            let flat = RGBImage(width: w, height: h, fill: (255, 0, 128))
            for image in [noise, ramp, flat] {
                let bytes = try ImageEncoder.png(image)
                XCTAssertEqual(ImageFormat.sniff(bytes), .png)
                XCTAssertEqual(try ImageDecoder.decode(data: bytes), image, "\(w)×\(h)")
            }
        }
        let flat = try ImageEncoder.png(RGBImage(width: 64, height: 64, fill: (9, 9, 9)))
        XCTAssertLessThan(flat.count, 400, "a flat image compresses (12,288 bytes of pixels)")
        var damaged = try ImageEncoder.png(try S.source())
        damaged[29] ^= 0xFF  // inside IHDR's CRC
        XCTAssertThrowsError(try ImageDecoder.decode(data: damaged))
    }

    func testEmptyImagesCannotBeEncoded() {
        let empty = RGBImage(width: 0, height: 0, pixels: [])
        S.expectMediaError(.writeFailed) { try ImageEncoder.jpeg(empty) }
        S.expectMediaError(.writeFailed) { try ImageEncoder.png(empty) }
    }

    func testWritePicksFormatFromExtensionAndReplacesAtomically() throws {
        let dir = try S.scratchDirectory(for: self)
        let source = try S.source()
        let png = dir.appendingPathComponent("out.PNG").path
        try ImageEncoder.write(source, to: png)
        XCTAssertEqual(ImageFormat.sniff(try Data(contentsOf: URL(fileURLWithPath: png))), .png)
        XCTAssertEqual(try ImageDecoder.decode(path: png), source)
        let jpg = dir.appendingPathComponent("out.jpeg").path
        try ImageEncoder.write(source, to: jpg, jpegQuality: 75)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: jpg)), Data(try ImageEncoder.jpeg(source, quality: 75)))
        // Overwriting replaces the file and leaves no temporary files behind.
        try ImageEncoder.write(RGBImage(width: 2, height: 2, fill: (9, 9, 9)), to: png)
        XCTAssertEqual(try ImageDecoder.decode(path: png).width, 2)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["out.PNG", "out.jpeg"])
        S.expectMediaError(.unsupportedFormat) { try ImageEncoder.write(source, to: dir.appendingPathComponent("out.gif").path) }
        S.expectMediaError(.writeFailed) { try ImageEncoder.write(source, to: "/nonexistent-dir/out.png") }
    }
}
