import XCTest
import Foundation
import ForensightTensor

final class SafetensorsTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-st-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func sample() -> [String: Tensor] {
        ["a.weight": Tensor([1, -2, 3.5, 0.25, 65504, -1e-6], shape: [2, 3]), "b": Tensor([7], shape: []), "empty": .zeros([0, 4])]
    }

    func testRoundTripF32IsExact() throws {
        try Safetensors.write(sample(), to: path("x.safetensors"), metadata: ["format": "pt"])
        let file = try SafetensorsFile(path: path("x.safetensors"))
        XCTAssertEqual(file.names, ["a.weight", "b", "empty"])
        XCTAssertEqual(file.metadata, ["format": "pt"])
        for (k, t) in sample() {
            let r = try file.tensor(k)
            XCTAssertEqual(r.shape, t.shape); XCTAssertEqual(r.scalars, t.scalars, k)
        }
        // The header is 8-byte aligned and the data follows it.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path("x.safetensors")))
        let n = bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        XCTAssertEqual((8 + Int(n)) % 8, 0)
    }

    /// A prefixed part of a file reads as a file of its own, with the given metadata, and outlives the file it came from.
    func testSubsetIsAPrefixedViewThatKeepsTheMappingAlive() throws {
        try Safetensors.write(sample().merging(["a.bias": Tensor([4, 5], shape: [2]), "ab": Tensor([9], shape: [1])]) { $1 },
                              to: path("s.safetensors"), metadata: ["format": "pt"])
        var parent: SafetensorsFile? = try SafetensorsFile(path: path("s.safetensors"))
        let view = parent!.subset(prefix: "a.", metadata: ["k": "v"])
        parent = nil
        XCTAssertEqual(view.names, ["bias", "weight"])
        XCTAssertEqual(view.metadata, ["k": "v"])
        XCTAssertEqual(view.path, path("s.safetensors"))
        XCTAssertEqual(try view.tensor("weight").scalars, sample()["a.weight"]!.scalars)
        XCTAssertEqual(try view.allTensors()["bias"]?.scalars, [4, 5])
        XCTAssertThrowsError(try view.tensor("ab"))
        XCTAssertEqual(view.subset(prefix: "we", metadata: [:]).names, ["ight"])   // a view of a view
    }

    func testHalfPrecisionRoundsToNearest() throws {
        try Safetensors.write(sample(), to: path("h.safetensors"), dtype: .f16)
        let a = try SafetensorsFile(path: path("h.safetensors")).tensor("a.weight")
        XCTAssertEqual(Array(a.scalars.prefix(5)), [1, -2, 3.5, 0.25, 65504])
        XCTAssertEqual(a.scalars[5], -1e-6, accuracy: 6e-8)   // a float16 subnormal
        try Safetensors.write(sample(), to: path("b.safetensors"), dtype: .bf16)
        let b = try SafetensorsFile(path: path("b.safetensors")).tensor("a.weight")
        XCTAssertEqual(b.scalars[2], 3.5)
        XCTAssertEqual(b.scalars[4], 65536)   // bfloat16 has 8 bits of mantissa
        for bits: UInt16 in [0x0000, 0x8000, 0x3C00, 0x7BFF, 0x0001, 0x03FF, 0x7C00, 0xFC00] {
            XCTAssertEqual(halfBits(from: floatFromHalfBits(bits)), bits, "half \(String(bits, radix: 16))")
        }
    }

    /// Every corruption gives a `SafetensorsError` naming the file, never a crash.
    func testCorruptFilesThrowClearErrors() throws {
        try Safetensors.write(sample(), to: path("ok.safetensors"))
        let good = try Data(contentsOf: URL(fileURLWithPath: path("ok.safetensors")))
        var cases: [(String, Data)] = [("empty", Data()), ("short", good.prefix(5)), ("text", Data("hello world, not weights".utf8))]
        for cut in [8, 9, 20, good.count / 2, good.count - 1] { cases.append(("cut\(cut)", good.prefix(cut))) }
        var huge = good; huge.replaceSubrange(0..<8, with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        cases.append(("huge header length", huge))
        var badJSON = good; badJSON[8] = UInt8(ascii: "[")
        cases.append(("bad json", badJSON))
        let header = #"{"x":{"dtype":"F32","shape":[1000000000000,1000000000000],"data_offsets":[0,4]}}"#
        var overflow = Data(); withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { overflow.append(contentsOf: $0) }
        overflow.append(Data(header.utf8)); overflow.append(Data(count: 4))
        cases.append(("overflowing shape", overflow))
        let wrong = #"{"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#
        var wrongType = Data(); withUnsafeBytes(of: UInt64(wrong.utf8.count).littleEndian) { wrongType.append(contentsOf: $0) }
        wrongType.append(Data(wrong.utf8)); wrongType.append(Data(count: 8))
        cases.append(("unsupported dtype", wrongType))
        for (name, data) in cases {
            let p = path("\(name).safetensors")
            try data.write(to: URL(fileURLWithPath: p))
            XCTAssertThrowsError(try SafetensorsFile(path: p).allTensors(), name) { error in
                let e = error as? SafetensorsError
                XCTAssertNotNil(e, "\(name): \(error)")
                XCTAssertTrue(e?.description.hasPrefix(p) ?? false, "\(name): \(error)")
            }
        }
        XCTAssertThrowsError(try SafetensorsFile(path: path("missing.safetensors")))
        XCTAssertThrowsError(try SafetensorsFile(path: dir.path))   // a directory
    }

    func testUnknownTensorNameThrows() throws {
        try Safetensors.write(sample(), to: path("ok.safetensors"))
        XCTAssertThrowsError(try SafetensorsFile(path: path("ok.safetensors")).tensor("nope"))
    }
}
