import Foundation
import XCTest
import ForensightMedia
#if canImport(Glibc)
import Glibc
#endif

/// Every bad input the decoder must survive with a precise `MediaError` (never a crash, never a hang).
/// The bad files are made at test time in a scratch directory.
final class BadImageInputTests: XCTestCase {
    typealias S = MediaTestSupport

    private func write(_ bytes: [UInt8], _ name: String, in dir: URL) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func testMissingPathIsNotFound() {
        S.expectMediaError(.notFound) { try ImageDecoder.decode(path: "/nonexistent/dir/face.jpg") }
    }

    func testZeroByteFileIsEmpty() throws {
        let dir = try S.scratchDirectory(for: self)
        let path = try write([], "empty.jpg", in: dir)
        let error = S.expectMediaError(.empty) { try ImageDecoder.decode(path: path) }
        XCTAssertEqual(error?.path, path)
        S.expectMediaError(.empty) { try ImageDecoder.decode(data: []) }
    }

    func testTextFileNamedJPGIsUnsupported() throws {
        let dir = try S.scratchDirectory(for: self)
        let path = try write(Array("this is not an image, just some text\n".utf8), "notes.jpg", in: dir)
        let error = S.expectMediaError(.unsupportedFormat) { try ImageDecoder.decode(path: path) }
        XCTAssertTrue(error?.reason.contains("text") ?? false, error?.reason ?? "")
    }

    func testDirectoryIsUnreadable() throws {
        let dir = try S.scratchDirectory(for: self)
        let error = S.expectMediaError(.unreadable) { try ImageDecoder.decode(path: dir.path) }
        XCTAssertTrue(error?.reason.contains("directory") ?? false)
    }

    func testPermissionDeniedIsUnreadable() throws {
        if getuid() == 0 { throw XCTSkip("running as root: chmod 000 does not stop root from reading") }
        let dir = try S.scratchDirectory(for: self)
        let path = try write(S.fixtureBytes("pillow_q90.jpg"), "locked.jpg", in: dir)
        XCTAssertEqual(chmod(path, 0), 0)
        S.expectMediaError(.unreadable) { try ImageDecoder.decode(path: path) }
    }

    func testFIFOIsRefusedWithoutBlocking() throws {
        let dir = try S.scratchDirectory(for: self)
        let path = dir.appendingPathComponent("pipe.jpg").path
        XCTAssertEqual(mkfifo(path, 0o644), 0)
        S.expectMediaError(.unreadable) { try ImageDecoder.decode(path: path) }
    }

    func testTruncatedJPEGsAreTruncatedAtEveryCut() throws {
        let jpeg = try ImageEncoder.jpeg(S.source(), quality: 90)
        let progressive = try S.fixtureBytes("progressive.jpg")
        for (label, bytes) in [("baseline", jpeg), ("progressive", progressive)] {
            // Cuts in the header, in the first scan, mid-image and just before the end.
            for cut in [1, 2, 3, 20, 150, bytes.count / 3, bytes.count / 2, bytes.count - 40, bytes.count - 3] {
                let error = S.expectMediaError(.truncated) {
                    try ImageDecoder.decode(data: Array(bytes.prefix(cut)), name: "\(label)-cut\(cut).jpg")
                }
                XCTAssertTrue(error?.reason.contains("truncated") ?? false, "\(label) \(cut): \(error?.reason ?? "")")
            }
        }
        // A baseline file that lost only its final EOI marker still has all its data and is accepted (as Pillow and
        // OpenCV do); a progressive one without EOI may be missing whole scans, so it counts as truncated.
        XCTAssertEqual(try ImageDecoder.decode(data: Array(jpeg.dropLast(2))), try ImageDecoder.decode(data: jpeg))
        S.expectMediaError(.truncated) { try ImageDecoder.decode(data: Array(progressive.dropLast(2))) }
    }

    func testTruncatedPNGsAreTruncated() throws {
        let png = try ImageEncoder.png(S.source())
        // In the signature, the header, the image data, the last IDAT's CRC.
        for cut in [4, 8, 20, 33, 60, png.count / 2, png.count - 20, png.count - 14] {
            let error = S.expectMediaError(.truncated) {
                try ImageDecoder.decode(data: Array(png.prefix(cut)), name: "cut\(cut).png")
            }
            XCTAssertTrue(error?.reason.contains("truncated") ?? false, "\(cut): \(error?.reason ?? "")")
        }
        // Losing only the trailing IEND chunk leaves every pixel intact: accepted.
        XCTAssertEqual(try ImageDecoder.decode(data: Array(png.dropLast(12))), try S.source())
        // An interlaced PNG cut in its last pass.
        let interlaced = try S.fixtureBytes("png_rgb8_interlaced.png")
        S.expectMediaError(.truncated) { try ImageDecoder.decode(data: Array(interlaced.dropLast(40))) }
    }

    func testCorruptJPEGDataIsReportedNotFatal() throws {
        var jpeg = try ImageEncoder.jpeg(S.source(), quality: 90)
        // A Huffman table with impossible code counts makes libjpeg call error_exit (a fatal error).
        guard let dht = (0..<(jpeg.count - 1)).first(where: { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC4 }) else {
            return XCTFail("no DHT marker")
        }
        for i in 0..<16 { jpeg[dht + 5 + i] = 0xFF }
        let error = S.expectMediaError(.corrupt) { try ImageDecoder.decode(data: jpeg, name: "bad-huffman.jpg") }
        XCTAssertTrue(error?.reason.contains("Huffman") ?? false, error?.reason ?? "")
        // The thread-exit recovery can be used again and again.
        for _ in 0..<20 { S.expectMediaError(.corrupt) { try ImageDecoder.decode(data: jpeg) } }
        // Flipping bytes inside the entropy-coded data is only a libjpeg warning: the image still decodes.
        var noisy = try ImageEncoder.jpeg(S.source(), quality: 90)
        for i in stride(from: noisy.count - 300, to: noisy.count - 200, by: 7) where noisy[i] < 0xFE { noisy[i] ^= 0x01 }
        XCTAssertNoThrow(try ImageDecoder.decode(data: noisy))
    }

    func testCorruptJPEGHeaders() throws {
        let jpeg = try ImageEncoder.jpeg(S.source(), quality: 90)
        guard let sof = (0..<(jpeg.count - 1)).first(where: { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 }) else {
            return XCTFail("no SOF0 marker")
        }
        var zeroWidth = jpeg
        zeroWidth[sof + 7] = 0; zeroWidth[sof + 8] = 0
        S.expectMediaError(.corrupt) { try ImageDecoder.decode(data: zeroWidth) }
        var twelveBit = jpeg
        twelveBit[sof + 4] = 12
        S.expectMediaError(.unsupportedFormat) { try ImageDecoder.decode(data: twelveBit) }
        var badLength = jpeg
        badLength[4] = 0; badLength[5] = 1  // APP0 length 1
        S.expectMediaError(.corrupt) { try ImageDecoder.decode(data: badLength) }
    }

    func testPNGHeaderClaiming30000SquaredFailsFastAsTooLarge() throws {
        var ihdr = S.bigEndian(30000) + S.bigEndian(30000)
        ihdr += [8, 2, 0, 0, 0]  // 8-bit RGB, deflate, no filter method, no interlace
        let bomb = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + S.pngChunk("IHDR", ihdr)
            + S.pngChunk("IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]) + S.pngChunk("IEND", [])
        let dir = try S.scratchDirectory(for: self)
        let path = try write(bomb, "bomb.png", in: dir)
        // Refused from the header alone: 30000² × 3 bytes would be 2.7 GB.
        let error = S.expectMediaError(.tooLarge) { try ImageDecoder.decode(path: path) }
        XCTAssertTrue(error?.reason.contains("30000×30000") ?? false, error?.reason ?? "")
    }

    func testJPEGHeaderClaimingHugeSizeIsTooLarge() throws {
        var jpeg = try ImageEncoder.jpeg(S.source(), quality: 90)
        guard let sof = (0..<(jpeg.count - 1)).first(where: { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 }) else {
            return XCTFail("no SOF0 marker")
        }
        jpeg[sof + 5] = 0xFF; jpeg[sof + 6] = 0xFF; jpeg[sof + 7] = 0xFF; jpeg[sof + 8] = 0xFF  // 65535 × 65535
        S.expectMediaError(.tooLarge) { try ImageDecoder.decode(data: jpeg) }
    }

    func testCorruptPNGData() throws {
        var png = try ImageEncoder.png(S.source())
        // Damage the compressed stream inside IDAT (keeping the chunk structure): libpng reports an error.
        guard let idat = (0..<(png.count - 4)).first(where: { Array(png[$0..<($0 + 4)]) == Array("IDAT".utf8) }) else {
            return XCTFail("no IDAT")
        }
        for i in (idat + 6)..<(idat + 30) { png[i] ^= 0xA5 }
        S.expectMediaError(.corrupt) { try ImageDecoder.decode(data: png, name: "damaged.png") }
    }

    func testTinyPrefixesOfSignaturesAreTruncated() {
        S.expectMediaError(.truncated) { try ImageDecoder.decode(data: [0xFF, 0xD8]) }
        S.expectMediaError(.truncated) { try ImageDecoder.decode(data: [0x89, 0x50, 0x4E]) }
        S.expectMediaError(.unsupportedFormat) { try ImageDecoder.decode(data: [0x00, 0x01, 0x02, 0x03]) }
    }
}

/// Deterministic mutation fuzzing: whatever the bytes, decoding returns an image or throws a `MediaError`.
final class ImageDecoderFuzzTests: XCTestCase {
    typealias S = MediaTestSupport

    func testRandomMutationsNeverCrash() throws {
        var state: UInt64 = 0x5EED
        func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        let seeds = try ["pillow_q75.jpg", "progressive.jpg", "cmyk.jpg", "exif_orientation_6.jpg",
                         "png_rgb8_interlaced.png", "png_palette8_trns.png", "png_rgb16.png"].map(S.fixtureBytes)
        var outcomes: [String: Int] = [:]
        for round in 0..<600 {
            var bytes = seeds[round % seeds.count]
            switch next(4) {
            case 0: for _ in 0..<(1 + next(8)) { bytes[next(bytes.count)] = UInt8(next(256)) }     // byte noise
            case 1: bytes.removeLast(next(bytes.count - 4))                                     // truncation
            case 2: let at = next(min(bytes.count, 200)); bytes[at] ^= UInt8(1 << next(8))        // header bit flip
            default:                                                                            // splice garbage
                let at = next(bytes.count)
                bytes.insert(contentsOf: (0..<next(64)).map { _ in UInt8(next(256)) }, at: at)
            }
            do {
                let image = try ImageDecoder.decode(data: bytes, name: "fuzz-\(round)")
                XCTAssertEqual(image.pixels.count, image.width * image.height * 3)
                outcomes["decoded", default: 0] += 1
            } catch let error as MediaError {
                outcomes[error.kind.rawValue, default: 0] += 1
            }
        }
        print("fuzz outcomes:", outcomes.sorted { $0.key < $1.key })
        XCTAssertGreaterThan(outcomes.count, 2)
    }
}
