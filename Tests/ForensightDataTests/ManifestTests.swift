import Foundation
import XCTest
import ForensightData

/// The manifest: JSON Lines round trip and format, atomic writes, parse errors, validation, summary and filters.
final class ManifestTests: XCTestCase {
    typealias S = DataTestSupport

    static let samples: Manifest = [
        Sample(id: "ff:033", path: "/d/033.mp4", label: 0, method: "original_youtube", dataset: "ff", videoID: "033",
               identity: "033", split: "train"),
        Sample(id: "ff:033_097", path: "/d/033_097.mp4", label: 1, method: "Deepfakes", dataset: "ff", videoID: "033_097",
               identity: "033", split: "train", sourceIdentity: "097", originalVideoID: "033"),
        Sample(id: "cdf:id0_0000/7", path: "/c/7.png", label: 0, dataset: "cdf", videoID: "id0_0000", frameIndex: 7),
    ]

    func testJSONLinesRoundTripAndKeyOrder() throws {
        let data = Self.samples.jsonLines()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        XCTAssertTrue(String(decoding: data, as: UTF8.self).hasSuffix("\n"))
        // DESIGN §4 keys always present, in order, null when unset; extension keys only when set.
        XCTAssertEqual(String(lines[2]), #"{"id":"cdf:id0_0000/7","path":"/c/7.png","label":0,"method":null,"dataset":"cdf","video_id":"id0_0000","identity":null,"split":null,"frame_index":7}"#)
        XCTAssertTrue(lines[1].contains(#""source_identity":"097","original_video_id":"033""#), String(lines[1]))
        XCTAssertEqual(try Manifest(jsonLines: data), Self.samples)
    }

    func testEscapingRoundTrips() throws {
        let odd = Sample(id: "q\"uo\\te\n\t\u{1}é🙂/x", path: "/a b/c.mp4", label: 1, dataset: "d")
        let data = Manifest([odd]).jsonLines()
        XCTAssertEqual(String(decoding: data, as: UTF8.self).filter { $0 == "\n" }.count, 1)
        XCTAssertTrue(String(decoding: data, as: UTF8.self).contains(#"q\"uo\\te\n\t\u0001é🙂/x"#))
        XCTAssertEqual(try Manifest(jsonLines: data)[0], odd)
        let viaFoundation = try JSONSerialization.jsonObject(with: data.dropLast()) as? [String: Any]
        XCTAssertEqual(viaFoundation?["id"] as? String, odd.id)
    }

    func testReadsMinimalLinesCRLFAndBlankLines() throws {
        let text = "{\"id\":\"a\",\"path\":\"x.jpg\",\"label\":1,\"dataset\":\"d\"}\r\n\n  \n{\"id\":\"b\",\"path\":\"y.jpg\",\"label\":0,\"dataset\":\"d\",\"frame_index\":3}"
        let m = try Manifest(jsonLines: Data(text.utf8))
        XCTAssertEqual(m.map(\.id), ["a", "b"])
        XCTAssertNil(m[0].method)
        XCTAssertEqual(m[1].frameIndex, 3)
    }

    func testAtomicWriteReplacesFileAndLeavesNoTemporaries() throws {
        let dir = try S.scratch(for: self)
        let path = dir + "/out/manifest.jsonl"
        try Manifest([Self.samples[0]]).write(to: path)
        try Self.samples.write(to: path)
        XCTAssertEqual(try Manifest.read(from: path), Self.samples)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/out"), ["manifest.jsonl"])
    }

    func testParseErrorsNameLineAndKey() {
        let cases: [(String, String)] = [
            ("{\"id\":\"a\",\"path\":\"p\",\"label\":2,\"dataset\":\"d\"}", "line 1: label: label must be 0 (real) or 1 (fake), found 2"),
            ("\n{\"id\":\"a\",\"path\":\"p\",\"label\":\"fake\",\"dataset\":\"d\"}", "line 2: label: expected Int"),
            ("{\"id\":\"a\",\"label\":0,\"dataset\":\"d\"}", "line 1: missing key path"),
            ("{\"id\":\"a\",\"path\":\"p\",\"label\":0,\"dataset\":\"d\",\"frame_index\":\"x\"}", "line 1: frame_index: expected Int"),
            ("{not json", "line 1: not valid JSON"),
        ]
        for (text, expected) in cases {
            let error = S.expectError(.malformedJSON) { try Manifest(jsonLines: Data(text.utf8), source: "m.jsonl") }
            XCTAssertEqual(error?.description, "m.jsonl: " + expected)
        }
        let missing = S.expectError(.missingFile) { try Manifest.read(from: "/nonexistent/m.jsonl") }
        XCTAssertEqual(missing?.path, "/nonexistent/m.jsonl")
    }

    func testValidationFindsEveryProblem() throws {
        var m = Self.samples
        XCTAssertEqual(m.validate(), [])
        XCTAssertNoThrow(try m.validated())
        m.samples.append(m[0])                                   // duplicate id
        var bad = m[1]; bad.id = "ff:x"; bad.label = 5; bad.videoID = nil          // invalid label
        var empty = m[2]; empty.id = "e"; empty.path = ""; empty.frameIndex = -1
        var conflict = m[0]; conflict.id = "ff:033b"; conflict.label = 1   // video 033 real and fake
        m.samples += [bad, empty, conflict]
        let kinds = m.validate().map(\.kind)
        XCTAssertEqual(kinds, [.duplicateID, .invalidLabel, .invalidField, .invalidField, .conflictingVideoLabel])
        let error = S.expectError(.invalidManifest) { try m.validated(source: "m.jsonl") }
        XCTAssertTrue(error?.reason.hasPrefix("5 problems: duplicateID: ff:033") ?? false, error?.reason ?? "")
    }

    func testValidationChecksFilesAndLeakageWhenAsked() throws {
        let dir = try S.scratch(for: self)
        try S.touch(dir, ["a.mp4"])
        let m: Manifest = [
            Sample(id: "a", path: dir + "/a.mp4", label: 0, dataset: "d", identity: "p1", split: "train"),
            Sample(id: "b", path: dir + "/b.mp4", label: 1, dataset: "d", identity: "p1", split: "test"),
            Sample(id: "c", path: dir + "/a.mp4", label: 1, dataset: "d", identity: "p2", split: "test", sourceIdentity: "p3"),
            Sample(id: "e", path: dir + "/a.mp4", label: 0, dataset: "d", identity: "p3", split: "train"),
        ]
        XCTAssertEqual(m.validate(), [])
        XCTAssertEqual(m.validate(checkFiles: true).map(\.subject), ["b"])
        let leaks = m.validate(checkLeakage: true)
        XCTAssertEqual(leaks.map(\.kind), [.identityInSeveralSplits])
        XCTAssertEqual(leaks.first?.subject, "d:p1")
        XCTAssertEqual(m.identitySplits(includingSources: true)["d:p3"], ["train", "test"])
    }

    func testSummaryAndFilters() {
        let m = Self.samples
        let s = m.summary
        XCTAssertEqual([s.total, s.real, s.fake, s.videos, s.identities], [3, 2, 1, 3, 1])
        XCTAssertEqual(s.byDataset, ["ff": 2, "cdf": 1])
        XCTAssertEqual(s.byMethod, ["original_youtube": 1, "Deepfakes": 1, ManifestSummary.unset: 1])
        XCTAssertEqual(s.bySplit, ["train": 2, ManifestSummary.unset: 1])
        XCTAssertEqual(s.bySplitAndLabel["train"], [0: 1, 1: 1])
        XCTAssertEqual(s.byLabel, [0: 2, 1: 1])
        XCTAssertTrue(s.description.contains("samples: 3 (real 2, fake 1)"), s.description)
        XCTAssertEqual(m.filter(dataset: "ff", label: 1).map(\.id), ["ff:033_097"])
        XCTAssertEqual(m.filter(split: "train").count, 2)
        XCTAssertEqual(m.filter { $0.frameIndex != nil }.map(\.id), ["cdf:id0_0000/7"])
        var merged = m
        merged.append(contentsOf: m, skippingDuplicateIDs: true)
        XCTAssertEqual(merged, m)
        merged.append(contentsOf: m)
        XCTAssertEqual(merged.count, 6)
    }
}
