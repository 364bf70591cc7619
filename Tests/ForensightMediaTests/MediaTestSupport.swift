import Foundation
import XCTest
import ForensightMedia

/// Shared helpers of the image tests: fixture paths, pixel statistics, scratch directories, CRC-32.
enum MediaTestSupport {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func fixturePath(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    static func fixtureBytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: fixtures.appendingPathComponent(name)))
    }

    static func fixtureImage(_ name: String) throws -> RGBImage {
        try ImageDecoder.decode(path: fixturePath(name))
    }

    /// Mean and maximum absolute difference of two same-sized images, per sample.
    static func difference(_ a: RGBImage, _ b: RGBImage) -> (mean: Double, max: Int, differing: Double) {
        precondition(a.width == b.width && a.height == b.height, "\(a.width)×\(a.height) vs \(b.width)×\(b.height)")
        var total = 0, largest = 0, count = 0
        for (x, y) in zip(a.pixels, b.pixels) {
            let d = abs(Int(x) - Int(y))
            total += d; largest = max(largest, d); count += d > 0 ? 1 : 0
        }
        let n = Double(max(a.pixels.count, 1))
        return (Double(total) / n, largest, Double(count) / n)
    }

    /// A fresh directory under the system temporary directory, removed by the test's teardown.
    static func scratchDirectory(for test: XCTestCase) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-media-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock {
            _ = try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
            if let items = try? FileManager.default.contentsOfDirectory(atPath: url.path) {
                for item in items { _ = try? FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: url.appendingPathComponent(item).path) }
            }
            try? FileManager.default.removeItem(at: url)
        }
        return url
    }

    /// The IEEE CRC-32 used by PNG chunks.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    /// A PNG chunk: length, type, data, CRC.
    static func pngChunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    /// The synthetic test image (the fixture script's source.png).
    static func source() throws -> RGBImage { try fixtureImage("source.png") }

    /// Asserts that `body` throws a `MediaError` of `kind`, and returns it.
    @discardableResult
    static func expectMediaError(_ kind: MediaError.Kind, file: StaticString = #filePath, line: UInt = #line,
                                 _ body: () throws -> Any) -> MediaError? {
        do {
            _ = try body()
            XCTFail("expected MediaError .\(kind), got a result", file: file, line: line)
        } catch let error as MediaError {
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            return error
        } catch {
            XCTFail("expected MediaError .\(kind), got \(error)", file: file, line: line)
        }
        return nil
    }
}
