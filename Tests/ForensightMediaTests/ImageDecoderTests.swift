import Foundation
import XCTest
import ForensightMedia
#if canImport(Glibc)
import Glibc
#endif

/// Decoding against Pillow's own decodes (fixtures by scripts/reference/make_jpeg_fixtures.py).
final class ImageDecoderTests: XCTestCase {
    typealias S = MediaTestSupport

    func testJPEGDecodeMatchesPillowExactly() throws {
        for quality in [100, 90, 75, 50, 30] {
            let ours = try S.fixtureImage("pillow_q\(quality).jpg")
            let pillow = try S.fixtureImage("pillow_q\(quality)_decoded.png")
            XCTAssertEqual(ours.width, 64); XCTAssertEqual(ours.height, 48)
            XCTAssertEqual(S.difference(ours, pillow).max, 0, "q\(quality)")
        }
    }

    func testGrayCMYKAndProgressiveJPEGMatchPillow() throws {
        for name in ["gray", "cmyk", "progressive"] {
            let ours = try S.fixtureImage("\(name).jpg")
            let pillow = try S.fixtureImage("\(name)_decoded.png")
            let d = S.difference(ours, pillow)
            XCTAssertEqual(d.max, 0, "\(name): mean \(d.mean)")
        }
    }

    func testEXIFOrientationIsAppliedLikePillowExifTranspose() throws {
        for orientation in 2...8 {
            let ours = try S.fixtureImage("exif_orientation_\(orientation).jpg")
            let pillow = try S.fixtureImage("exif_orientation_\(orientation)_upright.png")
            XCTAssertEqual(ours.width, pillow.width, "orientation \(orientation)")
            XCTAssertEqual(ours.height, pillow.height, "orientation \(orientation)")
            if ours.width == pillow.width && ours.height == pillow.height {
                XCTAssertEqual(S.difference(ours, pillow).max, 0, "orientation \(orientation)")
            }
        }
        // Orientation 6 turns the stored 40×24 landscape into an upright 24×40 portrait.
        XCTAssertEqual(try S.fixtureImage("exif_orientation_6.jpg").width, 24)
    }

    func testBigEndianEXIFOrientation() throws {
        // The Pillow fixtures are little endian ("II"); splice a big-endian ("MM") APP1 with orientation 3 after SOI.
        let plain = try ImageEncoder.jpeg(S.source(), quality: 95)
        var tiff: [UInt8] = Array("MM".utf8) + [0, 42, 0, 0, 0, 8]          // header, IFD0 at offset 8
        tiff += [0, 2]                                                    // two entries
        tiff += [0x01, 0x0F, 0, 2, 0, 0, 0, 4] + Array("Cam\0".utf8)        // Make (ASCII), a distractor
        tiff += [0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 3, 0, 0]                // Orientation = 3 (SHORT)
        tiff += [0, 0, 0, 0]                                              // no next IFD
        let payload = Array("Exif".utf8) + [0, 0] + tiff
        let length = payload.count + 2
        let app1: [UInt8] = [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
        let rotated = try ImageDecoder.decode(data: Array(plain[0..<2]) + app1 + Array(plain[2...]), name: "mm.jpg")
        let upright = try ImageDecoder.decode(data: plain, name: "plain.jpg")
        let expected = ImageGeometry.applyEXIFOrientation(upright, orientation: 3)
        XCTAssertEqual(rotated, expected)
        XCTAssertEqual(rotated[0, 0].0, upright[63, 47].0)
    }

    func testPNGVariantsMatchExpectedSamples() throws {
        let names = ["png_rgb8", "png_rgb8_interlaced", "png_gray8", "png_gray1", "png_rgb16", "png_gray16_interlaced",
                     "png_rgba8", "png_rgba16", "png_gray_alpha8", "png_palette4", "png_palette8_trns"]
        for name in names {
            let ours = try S.fixtureImage("\(name).png")
            let expected = try S.fixtureImage("\(name)_expected.png")
            let d = S.difference(ours, expected)
            // Exact: alpha/tRNS dropped, 16-bit samples reduced to their high byte (as Pillow and OpenCV do).
            XCTAssertEqual(d.max, 0, "\(name): mean \(d.mean)")
        }
    }

    func testFFmpegFormatsDecodeToTheSourcePixels() throws {
        let source = try S.source()
        for name in ["source.bmp", "source.tiff", "source_lossless.webp"] {
            XCTAssertEqual(try S.fixtureImage(name), source, name)
        }
        XCTAssertEqual(S.difference(try S.fixtureImage("source.gif"), try S.fixtureImage("source_gif_decoded.png")).max, 0)
        // From memory too (staged through a temporary file), and the format is sniffed, not taken from the name.
        XCTAssertEqual(try ImageDecoder.decode(data: S.fixtureBytes("source.bmp"), name: "misnamed.jpg"), source)
    }

    func testSniffingUsesContentNotExtension() throws {
        XCTAssertEqual(ImageFormat.sniff(try S.fixtureBytes("pillow_q90.jpg")), .jpeg)
        XCTAssertEqual(ImageFormat.sniff(try S.fixtureBytes("source.png")), .png)
        XCTAssertEqual(ImageFormat.sniff(try S.fixtureBytes("source_lossless.webp")), .webp)
        XCTAssertEqual(ImageFormat.sniff(try S.fixtureBytes("source.gif")), .gif)
        XCTAssertEqual(ImageFormat.sniff(try S.fixtureBytes("source.tiff")), .tiff)
        XCTAssertEqual(ImageFormat.sniff(try S.fixtureBytes("source.bmp")), .bmp)
        XCTAssertNil(ImageFormat.sniff(Array("hello".utf8)))
        let dir = try S.scratchDirectory(for: self)
        let png = dir.appendingPathComponent("really-a-png.jpg")
        try Data(S.fixtureBytes("source.png")).write(to: png)
        XCTAssertEqual(try ImageDecoder.decode(path: png.path), try S.source())
    }

    func testRealUTKFaceJPEGs() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../shared/datasets/utkface-real/images").standardized
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path), !names.isEmpty else {
            throw XCTSkip("UTKFace folder not present at \(folder.path)")
        }
        for name in names.sorted().prefix(8) where name.lowercased().hasSuffix(".jpg") {
            let image = try ImageDecoder.decode(path: folder.appendingPathComponent(name).path)
            XCTAssertGreaterThan(image.width, 16, name)
            XCTAssertGreaterThan(image.height, 16, name)
            XCTAssertGreaterThan(Set(image.pixels.prefix(3000)).count, 10, "\(name) should not be flat")
        }
    }

    func testPixelLimitIsConfigurable() throws {
        let path = S.fixturePath("pillow_q90.jpg")
        S.expectMediaError(.tooLarge) { try ImageDecoder.decode(path: path, maxPixels: 64 * 48 - 1) }
        XCTAssertNoThrow(try ImageDecoder.decode(path: path, maxPixels: 64 * 48))
        S.expectMediaError(.tooLarge) { try ImageDecoder.decode(path: S.fixturePath("source.png"), maxPixels: 100) }
        S.expectMediaError(.tooLarge) { try ImageDecoder.decode(path: S.fixturePath("source.bmp"), maxPixels: 100) }
    }

    func testMissingFFmpegIsReportedWithAnInstallHint() throws {
        let error = S.expectMediaError(.toolMissing) {
            try ImageDecoder.decodeWithFFmpeg(path: S.fixturePath("source.bmp"), searchPath: "/nonexistent-bin")
        }
        XCTAssertEqual(error?.hint, MediaTool.installHint)
        XCTAssertTrue(error?.hint?.contains("apt-get install ffmpeg") == true)
    }
}
