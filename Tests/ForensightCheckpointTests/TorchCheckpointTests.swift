import Foundation
import XCTest
import ForensightCheckpoint

/// Tests for `TorchCheckpoint` against fixtures written by
/// `scripts/reference/make_torch_checkpoint_fixtures.py` (values from `torch.load`), plus
/// corrupt variants generated in memory.
final class TorchCheckpointTests: XCTestCase {
    private static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    private func fixture(_ name: String) throws -> Data {
        try Data(contentsOf: Self.fixtures.appendingPathComponent(name))
    }

    private func expected() throws -> [String: Any] {
        let data = try fixture("expected.json")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// JSON numbers as Double/Int whatever Foundation decoded them to.
    private func doubles(_ value: Any?) -> [Double]? {
        (value as? [Any])?.compactMap { ($0 as? NSNumber)?.doubleValue }
    }

    private func number(_ value: Any?) throws -> Double {
        try XCTUnwrap((value as? NSNumber)?.doubleValue)
    }

    /// The fixtures that load successfully.
    private func loadableFixtures() throws -> [String] {
        try XCTUnwrap(expected()["files"] as? [String: String]).keys.sorted()
    }

    // MARK: - Values

    func testFixturesMatchTorch() throws {
        let json = try expected()
        let files = try XCTUnwrap(json["files"] as? [String: String])
        let sets = try XCTUnwrap(json["sets"] as? [String: [String: [String: Any]]])
        XCTAssertEqual(files.count, 7)
        for (file, set) in files.sorted(by: { $0.key < $1.key }) {
            let tensors = try TorchCheckpoint.read(path: Self.fixtures.appendingPathComponent(file).path)
            let want = try XCTUnwrap(sets[set])
            XCTAssertEqual(Set(tensors.keys), Set(want.keys), file)
            for (name, entry) in want {
                guard let tensor = tensors[name] else { continue }
                let context = "\(file): \(name)"
                XCTAssertEqual(tensor.shape.map(Double.init), doubles(entry["shape"]), context)
                XCTAssertEqual(tensor.dtype.rawValue, entry["dtype"] as? String, context)
                XCTAssertEqual(tensor.values.count, tensor.shape.reduce(1, *), context)
                let sum = tensor.values.reduce(0.0) { $0 + Double($1) }
                let absSum = tensor.values.reduce(0.0) { $0 + abs(Double($1)) }
                let wantAbsSum = try number(entry["abs_sum"])
                XCTAssertEqual(sum, try number(entry["sum"]), accuracy: 1e-6 * max(1, wantAbsSum), context)
                XCTAssertEqual(absSum, wantAbsSum, accuracy: 1e-6 * max(1, wantAbsSum), context)
                // Conversions to Float are exact, so listed values must match bit for bit.
                let listed = try XCTUnwrap(doubles(entry["values"] ?? entry["first"]), context)
                XCTAssertEqual(Array(tensor.values.prefix(listed.count)), listed.map { Float($0) }, context)
            }
        }
    }

    func testLayoutsAndNesting() throws {
        let tensors = try TorchCheckpoint.read(data: try fixture("state_legacy.pt"), name: "state_legacy.pt")
        // shared.base = arange(24).reshape(4, 6); the others are views of its storage.
        XCTAssertEqual(tensors["shared.row"]?.values, [12, 13, 14, 15, 16, 17])
        XCTAssertEqual(tensors["shared.col"]?.values, [1, 7, 13, 19])
        XCTAssertEqual(tensors["shared.block"]?.values, [8, 9, 10, 14, 15, 16])
        XCTAssertEqual(tensors["shared.block"]?.shape, [2, 3])
        XCTAssertEqual(tensors["bn.num_batches_tracked"]?.shape, [])
        XCTAssertEqual(tensors["bn.num_batches_tracked"]?.values, [123])
        XCTAssertEqual(tensors["bn.num_batches_tracked"]?.dtype, .int64)
        XCTAssertEqual(tensors["half.specials"]?.values, [0, -0, 0x1p-24, 65504, -2, 0.333251953125])
        XCTAssertEqual(tensors["nested.inner.w"]?.shape, [2, 3])
        XCTAssertEqual(tensors["empty"]?.shape, [0, 3])
        XCTAssertNil(tensors["epoch_int"])
        XCTAssertNil(tensors["note"])
        // {"epoch", "state_dict": ..., "optimizer": ...} yields only the state dict.
        let wrapped = try TorchCheckpoint.read(data: try fixture("wrapped_zip.pt"), name: "wrapped_zip.pt")
        XCTAssertEqual(wrapped["1.num_batches_tracked"]?.values, [42])
        XCTAssertFalse(wrapped.keys.contains { $0.hasPrefix("optimizer") || $0.hasPrefix("state_dict") })
    }

    func testUnsupportedDtypesAreRejected() throws {
        let mustFail = try XCTUnwrap(expected()["must_fail"] as? [String: String])
        for (file, needle) in mustFail {
            XCTAssertThrowsError(try TorchCheckpoint.read(data: try fixture(file), name: file), file) { error in
                let description = "\(error)"
                XCTAssertTrue(description.contains(needle) && description.contains(file), description)
            }
        }
    }

    // MARK: - Corruption

    /// Asserts that reading `data` throws a `CheckpointError` with a one-line description.
    private func assertRejects(_ data: Data, _ label: @autoclosure () -> String, line: UInt = #line) {
        do {
            _ = try TorchCheckpoint.read(data: data, name: "corrupt")
            XCTFail("\(label()) was accepted", line: line)
        } catch let error as CheckpointError {
            XCTAssertFalse(error.description.contains("\n"), line: line)
            XCTAssertEqual(error.file, "corrupt", line: line)
        } catch {
            XCTFail("\(label()) threw a non-CheckpointError: \(error)", line: line)
        }
    }

    func testTruncationsThrow() throws {
        for file in try loadableFixtures() {
            let data = try fixture(file)
            // Every prefix of the small legacy file; a spread of cuts for the others.
            let step = file == "state_legacy.pt" ? 1 : 7
            for cut in Set(Array(stride(from: 0, to: data.count, by: step)) + [data.count - 1, data.count - 22]) {
                assertRejects(data.prefix(cut), "\(file) cut at \(cut)")
            }
        }
    }

    func testNonCheckpointsThrow() throws {
        var random = SplitMix64(seed: 42)
        assertRejects(Data(), "empty file")
        assertRejects(Data(count: 4096), "zero bytes")
        assertRejects(Data("not a checkpoint\n".utf8), "text")
        assertRejects(try fixture("expected.json"), "JSON file")
        for length in [1, 2, 3, 21, 22, 100, 4096] {
            let noise = Data((0..<length).map { _ in random.nextByte() })
            assertRejects(noise, "\(length) random bytes")
            assertRejects(Data([0x80, 0x02]) + noise, "pickle header + \(length) random bytes")
            assertRejects(Data([0x50, 0x4B, 0x03, 0x04]) + noise, "ZIP header + \(length) random bytes")
        }
    }

    /// Zip checkpoints carry CRC-32s, so any flipped byte inside the data of an entry
    /// the reader uses (the pickle, byte order, storages) must be detected.
    func testZipByteFlipsInEntriesThrow() throws {
        let ranges = try XCTUnwrap(expected()["zip_data_ranges"] as? [String: [[Int]]])
        XCTAssertEqual(ranges.count, 3)
        for (file, fileRanges) in ranges {
            let data = try fixture(file)
            XCTAssertGreaterThan(fileRanges.count, 2, file)
            for range in fileRanges {
                for position in range[0]..<range[1] {
                    var corrupt = data
                    corrupt[position] ^= 0x5A
                    assertRejects(corrupt, "\(file) flipped at \(position)")
                }
            }
        }
    }

    /// Flips anywhere (legacy pickles, ZIP headers, storages) never crash: the reader
    /// throws, or returns tensors when the flip hit bytes that do not affect validity
    /// (weights, unused memo indices, ZIP timestamps and padding). Legacy files have no
    /// checksum, so every position is tried there; ZIP files are sampled.
    func testByteFlipsAnywhereNeverCrash() throws {
        for file in try loadableFixtures() + ["unsupported_uint16.pt", "unsupported_int16_legacy.pt"] {
            let data = try fixture(file)
            let step = file.contains("legacy") ? 1 : 5
            var rejected = 0
            for position in stride(from: 0, to: data.count, by: step) {
                var corrupt = data
                corrupt[position] ^= position % 2 == 0 ? 0xFF : 0x01
                do {
                    let tensors = try TorchCheckpoint.read(data: corrupt, name: file)
                    for tensor in tensors.values {
                        XCTAssertEqual(tensor.values.count, tensor.shape.reduce(1, *), file)
                    }
                } catch is CheckpointError {
                    rejected += 1
                }
            }
            XCTAssertGreaterThan(rejected, 0, file)
        }
    }

    func testBogusSizesAreRejected() throws {
        // Sanity: the hand-built legacy checkpoint is valid as built.
        let valid = try TorchCheckpoint.read(data: LegacyBuilder.build(size: [2], stride: [1], storageCount: 2), name: "built")
        XCTAssertEqual(valid["w"]?.values, [1, 2])
        assertRejects(LegacyBuilder.build(size: [3], stride: [1], storageCount: 2), "view past its storage")
        assertRejects(LegacyBuilder.build(size: [1 << 40], stride: [0], storageCount: 2), "huge broadcast view")
        assertRejects(LegacyBuilder.build(size: [1 << 40, 1 << 40], stride: [1, 1], storageCount: 2), "overflowing size")
        assertRejects(LegacyBuilder.build(size: [2], stride: [1], storageCount: 2, declaredCount: 1 << 50), "huge storage")
        assertRejects(LegacyBuilder.build(size: [2], stride: [1], storageCount: 2, storedCount: 3), "mismatched count")
        assertRejects(LegacyBuilder.build(size: [2], stride: [1], storageCount: 2) + Data([0]), "trailing byte")
        // A BINUNICODE claiming 4 GiB in a tiny file.
        assertRejects(Data([0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0xFF, 0x41, 0x2E]), "bogus string length")
    }

    func testDeepNestingDoesNotOverflowTheStack() {
        let depth = 200_000
        var lists = Data([0x80, 0x02])
        lists += Data(repeating: 0x5D, count: depth) + Data(repeating: 0x61, count: depth - 1) + Data([0x2E])
        assertRejects(lists, "deeply nested lists")
        var tuples = Data([0x80, 0x02, 0x29])
        tuples += Data(repeating: 0x85, count: depth) + Data([0x2E])
        assertRejects(tuples, "deeply nested tuples")
        // A self-referencing dict in the state-dict position: {'a': <itself>}.
        let cyclic = LegacyBuilder.prelude + Data([0x80, 0x02, 0x7D, 0x71, 0x00, 0x8C, 0x01, 0x61, 0x68, 0x00, 0x73, 0x2E])
        assertRejects(cyclic, "cyclic dict")
    }

    // MARK: - Real checkpoint

    /// Reads MTCNN's P-Net from the facenet-pytorch wheel when it is available locally.
    func testRealMTCNNPNet() throws {
        var candidates: [String] = []
        if let directory = ProcessInfo.processInfo.environment["FORENSIGHT_FACENET_DIR"] {
            candidates += ["\(directory)/pnet.pt", "\(directory)/data/pnet.pt", "\(directory)/facenet_pytorch/data/pnet.pt"]
        }
        candidates.append(NSHomeDirectory() + "/.cache/forensight/wheels/facenet_pytorch/data/pnet.pt")
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw XCTSkip("pnet.pt not found (set FORENSIGHT_FACENET_DIR to facenet-pytorch's data directory)")
        }
        let tensors = try TorchCheckpoint.read(path: path)
        // Shapes and float64 sums from torch.load (facenet-pytorch 2.6.0).
        let expected: [String: ([Int], Double)] = [
            "conv1.weight": ([10, 3, 3, 3], 2.3487670375034213), "conv1.bias": ([10], 2.8166785170324147),
            "prelu1.weight": ([10], -2.3045754581689835),
            "conv2.weight": ([16, 10, 3, 3], -38.56578886404168), "conv2.bias": ([16], 20.170246325433254),
            "prelu2.weight": ([16], 1.459170639864169),
            "conv3.weight": ([32, 16, 3, 3], -43.27973151439073), "conv3.bias": ([32], 14.904955178499222),
            "prelu3.weight": ([32], -0.13740601483732462),
            "conv4_1.weight": ([2, 32, 1, 1], -0.6180732490029186), "conv4_1.bias": ([2], 2.2583466488867998e-05),
            "conv4_2.weight": ([4, 32, 1, 1], 0.17496657329320442), "conv4_2.bias": ([4], -0.0945487953722477),
        ]
        XCTAssertEqual(Set(tensors.keys), Set(expected.keys))
        for (name, (shape, sum)) in expected {
            XCTAssertEqual(tensors[name]?.shape, shape, name)
            XCTAssertEqual(tensors[name]?.dtype, .float32, name)
            let actual = tensors[name]?.values.reduce(0.0) { $0 + Double($1) } ?? .nan
            XCTAssertEqual(actual, sum, accuracy: 1e-9 + 1e-9 * abs(sum), name)
        }
    }
}

/// Deterministic random bytes for corrupt inputs.
private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func nextByte() -> UInt8 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return UInt8(truncatingIfNeeded: z ^ (z >> 31))
    }
}

/// Hand-assembles a legacy checkpoint `{'w': FloatStorage tensor}` with chosen geometry.
private enum LegacyBuilder {
    /// Magic number, protocol version 1001 and an empty sys_info dict, each pickled.
    static let prelude = Data([0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E])
        + Data([0x80, 0x02, 0x4D, 0xE9, 0x03, 0x2E]) + Data([0x80, 0x02, 0x7D, 0x2E])

    static func build(size: [Int], stride: [Int], storageCount: Int,
                      declaredCount: Int? = nil, storedCount: Int? = nil) -> Data {
        func text(_ string: String) -> Data { Data([0x8C, UInt8(string.utf8.count)]) + Data(string.utf8) }
        func integer(_ value: Int) -> Data { Data([0x8A, 0x08]) + withUnsafeBytes(of: Int64(value).littleEndian) { Data($0) } }
        func tuple(_ values: [Int]) -> Data { Data([0x28]) + values.reduce(Data()) { $0 + integer($1) } + Data([0x74]) }
        func global(_ module: String, _ name: String) -> Data { Data([0x63]) + Data("\(module)\n\(name)\n".utf8) }
        var main = Data([0x80, 0x02, 0x7D]) + text("w") + global("torch._utils", "_rebuild_tensor_v2") + Data([0x28])
        main += Data([0x28]) + text("storage") + global("torch", "FloatStorage") + text("0") + text("cpu")
        main += integer(declaredCount ?? storageCount) + Data([0x4E, 0x74, 0x51])  // NONE, TUPLE, BINPERSID
        main += integer(0) + tuple(size) + tuple(stride) + Data([0x89])
        main += global("collections", "OrderedDict") + Data([0x29, 0x52, 0x74, 0x52, 0x73, 0x2E])
        let keys = Data([0x80, 0x02, 0x5D, 0x28]) + text("0") + Data([0x65, 0x2E])
        var storage = withUnsafeBytes(of: Int64(storedCount ?? storageCount).littleEndian) { Data($0) }
        for index in 0..<storageCount { storage += withUnsafeBytes(of: Float(index + 1).bitPattern.littleEndian) { Data($0) } }
        return prelude + main + keys + storage
    }
}
