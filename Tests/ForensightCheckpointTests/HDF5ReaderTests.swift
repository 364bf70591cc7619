import Foundation
import XCTest
import ForensightCheckpoint

/// `HDF5File` against small files written by h5py (scripts/reference/make_keras_mesonet_fixtures.py): every value
/// equals what h5py wrote (small_expected.json), in both the default and the libver="latest" format; what the reader
/// does not read is one clear error, and a damaged file an error, never a crash.
final class HDF5ReaderTests: XCTestCase {
    private static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/hdf5")

    private func path(_ name: String) -> String { Self.fixtures.appendingPathComponent(name).path }

    private func expected() throws -> [String: (shape: [Int], values: [Double])] {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("small_expected.json"))) as? [String: Any]
        let datasets = try XCTUnwrap(json?["datasets"] as? [String: [String: Any]])
        return datasets.mapValues { (($0["shape"] as? [Int]) ?? [], (($0["values"] as? [NSNumber]) ?? []).map(\.doubleValue)) }
    }

    func testDefaultFormatValuesEqualWhatH5pyWrote() throws {
        let file = try HDF5File(path: path("small_v0.h5"))
        let expected = try expected()
        for name in ["outer/inner/contiguous", "outer/inner/chunked", "double", "int16_be", "scalar", "compact"] {
            let want = try XCTUnwrap(expected[name], name)
            let (values, shape) = try file.object(at: name).readFloats()
            XCTAssertEqual(shape, want.shape, name)
            XCTAssertEqual(values, want.values.map { Float($0) }, name)
        }
        let attributes = try file.root.attributes()
        XCTAssertEqual(attributes["names"], .strings(["alpha", "be", "gamma_long_name"]))
        XCTAssertEqual(attributes["vlen"], .strings(["x", "yy", "zzz"]))
        XCTAssertEqual(attributes["empty"]?.stringList, [], "Keras's empty weight_names: an empty float64 array")
        XCTAssertEqual(attributes["ratio"], .numbers([0.25], shape: []))
        XCTAssertEqual(Set(try file.root.members().map(\.name)), ["outer", "double", "int16_be", "scalar", "compact"])
        XCTAssertTrue(try file.object(at: "outer/inner/chunked").isDataset)
        XCTAssertFalse(try file.object(at: "outer/inner").isDataset)
    }

    func testLatestFormatValuesEqualWhatH5pyWrote() throws {
        let file = try HDF5File(path: path("small_latest.h5"))
        let expected = try expected()
        for name in ["grp/contiguous", "grp/single_chunk"] {
            let want = try XCTUnwrap(expected["latest/" + name], name)
            let (values, shape) = try file.object(at: name).readFloats()
            XCTAssertEqual(shape, want.shape, name)
            XCTAssertEqual(values, want.values.map { Float($0) }, name)
        }
        XCTAssertEqual(try file.root.attributes()["names"], .strings(["one", "two"]))
    }

    /// Each unsupported or wrong input is one line naming the file and the cause.
    func testUnreadableFilesAreOneLineErrors() throws {
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "" } catch { return "\(error)" }
        }
        let dense = message { _ = try HDF5File(path: self.path("dense_links.h5")).root.members() }
        XCTAssertTrue(dense.contains("dense_links.h5") && dense.contains("dense storage") && dense.contains("libver"), dense)
        let gzip = message { _ = try HDF5File(path: self.path("gzip.h5")).object(at: "packed").readFloats() }
        XCTAssertTrue(gzip.contains("gzip.h5") && gzip.contains("gzip") && gzip.contains("without compression"), gzip)
        let notHDF5 = message { _ = try HDF5File(path: self.path("small_expected.json")) }
        XCTAssertTrue(notHDF5.contains("small_expected.json: not an HDF5 file"), notHDF5)
        let missing = message { _ = try HDF5File(path: self.path("small_v0.h5")).object(at: "outer/nothing") }
        XCTAssertTrue(missing.contains("no object outer/nothing"), missing)
        let keras = message { _ = try KerasWeightFile(path: self.path("small_v0.h5")) }
        XCTAssertTrue(keras.contains("not a Keras weight file"), keras)
        for text in [dense, gzip, notHDF5, missing, keras] { XCTAssertFalse(text.contains("\n"), text) }
    }

    /// Every truncation and a sweep of corrupted bytes give errors or values, never a crash.
    func testDamagedFilesNeverCrash() throws {
        let bytes = try [UInt8](Data(contentsOf: Self.fixtures.appendingPathComponent("small_v0.h5")))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hdf5-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var variants: [[UInt8]] = stride(from: 0, to: bytes.count, by: 97).map { Array(bytes[..<$0]) }
        for position in stride(from: 8, to: bytes.count, by: 53) {
            var damaged = bytes
            damaged[position] ^= 0xA5
            variants.append(damaged)
        }
        var errors = 0
        for (i, variant) in variants.enumerated() {
            let file = dir.appendingPathComponent("v\(i).h5")
            try Data(variant).write(to: file)
            do {
                let h5 = try HDF5File(path: file.path)
                _ = try h5.root.attributes()
                for name in ["outer/inner/contiguous", "outer/inner/chunked", "double", "int16_be"] { _ = try h5.object(at: name).readFloats() }
            } catch { errors += 1; XCTAssertFalse("\(error)".isEmpty) }
        }
        XCTAssertGreaterThan(errors, variants.count / 4)
    }
}
