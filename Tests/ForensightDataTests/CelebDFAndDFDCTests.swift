import Foundation
import XCTest
import ForensightData

/// Celeb-DF v2 (folders + test list with its reversed flag) and DFDC (per-part metadata.json).
final class CelebDFAndDFDCTests: XCTestCase {
    typealias S = DataTestSupport

    func makeCelebDF(_ root: String) throws {
        try S.touch(root, ["Celeb-real/id0_0000.mp4", "Celeb-real/id0_0001.mp4", "Celeb-real/id1_0000.mp4",
                           "YouTube-real/00170.mp4", "YouTube-real/00171.mp4",
                           "Celeb-synthesis/id0_id1_0000.mp4", "Celeb-synthesis/id1_id0_0000.mp4", "Celeb-synthesis/id0_id1_0001.mp4"])
    }

    func testCelebDFWithTestList() throws {
        let root = try S.scratch(for: self)
        try makeCelebDF(root)
        try S.write("1 YouTube-real/00170.mp4\n0 Celeb-synthesis/id1_id0_0000.mp4\r\n\n1 Celeb-real/id1_0000.mp4\n", root, "List_of_testing_videos.txt")
        let m = try CelebDFImporter(root: root).load()
        XCTAssertEqual(m.count, 8)
        XCTAssertEqual(m.summary.byMethod, ["Celeb-real": 3, "YouTube-real": 2, "Celeb-synthesis": 3])
        XCTAssertEqual([m.summary.real, m.summary.fake], [5, 3])
        XCTAssertEqual(m.filter(split: "test").map(\.videoID), ["id1_0000", "00170", "id1_id0_0000"])
        XCTAssertEqual(m.filter(split: "train").count, 5)
        let fake = try XCTUnwrap(m.first { $0.videoID == "id1_id0_0000" })
        XCTAssertEqual(fake.label, 1)   // flag 0 in the list = synthesized = our 1
        XCTAssertEqual([fake.identity, fake.sourceIdentity, fake.originalVideoID], ["id1", "id0", "id1_0000"])
        XCTAssertEqual(fake.id, "Celeb-DF-v2:Celeb-synthesis/id1_id0_0000.mp4")
        let youtube = try XCTUnwrap(m.first { $0.videoID == "00170" })
        XCTAssertEqual(youtube.label, 0)
        XCTAssertNil(youtube.identity)
        XCTAssertEqual(m.first { $0.videoID == "id0_0001" }?.identity, "id0")
    }

    func testCelebDFWithoutListOrYouTubeReal() throws {
        let root = try S.scratch(for: self)
        try S.touch(root, ["Celeb-real/id0_0000.mp4", "Celeb-synthesis/id0_id1_0000.mp4"])
        let m = try CelebDFImporter(root: root).load()
        XCTAssertEqual(m.map(\.label), [0, 1])
        XCTAssertTrue(m.allSatisfy { $0.split == nil })
        S.expectError(.missingFile) { try CelebDFImporter(root: root, testList: root + "/elsewhere.txt").load() }
    }

    func testCelebDFBadDatasets() throws {
        let root = try S.scratch(for: self)
        try S.touch(root, ["Celeb-real/id0_0000.mp4"])
        XCTAssertEqual(S.expectError(.missingFolder) { try CelebDFImporter(root: root).load() }?.reason,
                       "expected folder Celeb-synthesis is absent (Celeb-DF layout)")
        try FileManager.default.createDirectory(atPath: root + "/Celeb-synthesis", withIntermediateDirectories: true)
        XCTAssertEqual(S.expectError(.empty) { try CelebDFImporter(root: root).load() }?.path, root + "/Celeb-synthesis")
        try makeCelebDF(root)
        let list = "List_of_testing_videos.txt"
        try S.write("0 Celeb-real/id0_0000.mp4\n", root, list)    // flag says synthesized, folder says real
        XCTAssertEqual(S.expectError(.labelConflict) { try CelebDFImporter(root: root).load() }?.reason,
                       "Celeb-real/id0_0000.mp4 is flagged 0 (synthesized) but lies in Celeb-real")
        try S.write("1 Celeb-real/id0_0000.mp4\nreal Celeb-real/id0_0001.mp4\n", root, list)
        XCTAssertEqual(S.expectError(.malformedList) { try CelebDFImporter(root: root).load() }?.reason,
                       "line 2: expected \"<1 real | 0 synthesized> <folder>/<video>.mp4\", found \"real Celeb-real/id0_0001.mp4\"")
        let absent = (1...7).map { "0 Celeb-synthesis/id9_id8_000\($0).mp4" }.joined(separator: "\n")
        try S.write("1 Celeb-real/id0_0000.mp4\n" + absent, root, list)
        let missing = S.expectError(.missingMedia) { try CelebDFImporter(root: root).load() }
        XCTAssertEqual(missing?.path, root + "/" + list)
        XCTAssertEqual(missing?.reason, "names 7 videos that are absent: Celeb-synthesis/id9_id8_0001.mp4, Celeb-synthesis/id9_id8_0002.mp4, "
                       + "Celeb-synthesis/id9_id8_0003.mp4, Celeb-synthesis/id9_id8_0004.mp4, Celeb-synthesis/id9_id8_0005.mp4, …")
        try S.write("\n\n", root, list)
        S.expectError(.empty) { try CelebDFImporter(root: root).load() }
    }

    func makeDFDCPart(_ root: String, _ part: String, _ entries: [String: [String: Any]]) throws {
        try S.writeJSON(entries, root, part + "/metadata.json")
        try S.touch(root, entries.keys.map { part + "/" + $0 })
    }

    func testDFDCPartsAndSinglePart() throws {
        let root = try S.scratch(for: self)
        try makeDFDCPart(root, "dfdc_train_part_0", [
            "aaqaifqrwn.mp4": ["label": "FAKE", "split": "train", "original": "vpmyeepbep.mp4"],
            "vpmyeepbep.mp4": ["label": "REAL", "split": "train", "original": NSNull()],
        ])
        try makeDFDCPart(root, "dfdc_train_part_1", ["abarnvbtwb.mp4": ["label": "REAL", "split": "train"]])
        try S.touch(root, ["dfdc_train_part_1/unlisted.mp4", "notes/readme.txt"])
        let m = try DFDCImporter(root: root).load()
        XCTAssertEqual(m.map(\.id), ["DFDC:dfdc_train_part_0/aaqaifqrwn.mp4", "DFDC:dfdc_train_part_0/vpmyeepbep.mp4",
                                     "DFDC:dfdc_train_part_1/abarnvbtwb.mp4"])
        XCTAssertEqual(m.map(\.label), [1, 0, 0])
        XCTAssertEqual(m[0].originalVideoID, "vpmyeepbep")
        XCTAssertEqual(m[0].videoID, "aaqaifqrwn")
        XCTAssertNil(m[1].originalVideoID)
        XCTAssertTrue(m.allSatisfy { $0.split == "train" && $0.identity == nil })
        let part = try DFDCImporter(root: root + "/dfdc_train_part_1").load()
        XCTAssertEqual(part.map(\.id), ["DFDC:abarnvbtwb.mp4"])
        // A split by video keeps a fake with its original.
        let split = m.split(byIdentity: .trainVal, seed: 3, grouping: .video)
        XCTAssertEqual(split[0].split, split[1].split)
    }

    func testDFDCBadDatasets() throws {
        let root = try S.scratch(for: self)
        try S.touch(root, ["part/a.mp4"])
        XCTAssertEqual(S.expectError(.missingFile) { try DFDCImporter(root: root).load() }?.reason,
                       "no metadata.json in this folder or its part folders (DFDC layout)")
        try S.writeJSON(["a.mp4": ["label": "fake?"]], root, "part/metadata.json")
        XCTAssertEqual(S.expectError(.malformedJSON) { try DFDCImporter(root: root).load() }?.description,
                       root + "/part/metadata.json: [\"a.mp4\"].label: expected \"REAL\" or \"FAKE\", found \"fake?\"")
        try S.writeJSON(["a.mp4": ["split": "train"]], root, "part/metadata.json")
        XCTAssertEqual(S.expectError(.malformedJSON) { try DFDCImporter(root: root).load() }?.reason, "[\"a.mp4\"].label: missing or not a string")
        try S.writeJSON(["a.mp4": ["label": "REAL", "original": 5]], root, "part/metadata.json")
        XCTAssertEqual(S.expectError(.malformedJSON) { try DFDCImporter(root: root).load() }?.reason, "[\"a.mp4\"].original: expected a string or null")
        try S.writeJSON(["a.mp4", "b.mp4"], root, "part/metadata.json")
        XCTAssertTrue(S.expectError(.malformedJSON) { try DFDCImporter(root: root).load() }?.reason.hasPrefix("(top level)") ?? false)
        try S.write("{\"a.mp4\": {", root, "part/metadata.json")
        XCTAssertEqual(S.expectError(.malformedJSON) { try DFDCImporter(root: root).load() }?.reason, "metadata.json is not valid JSON")
        try S.writeJSON([String: Any](), root, "part/metadata.json")
        S.expectError(.empty) { try DFDCImporter(root: root).load() }
        try S.writeJSON(["a.mp4": ["label": "REAL"], "gone1.mp4": ["label": "FAKE"], "gone2.mp4": ["label": "FAKE"]], root, "part/metadata.json")
        let missing = S.expectError(.missingMedia) { try DFDCImporter(root: root).load() }
        XCTAssertEqual(missing?.description, root + "/part/metadata.json: names 2 videos that are absent: part/gone1.mp4, part/gone2.mp4")
    }
}
