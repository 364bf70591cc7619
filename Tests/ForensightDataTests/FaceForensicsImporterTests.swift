import Foundation
import XCTest
import ForensightData

/// FaceForensics++: the official download layout (with and without split files), the flattened re-host layout,
/// compression choice, and every bad-dataset case.
final class FaceForensicsImporterTests: XCTestCase {
    typealias S = DataTestSupport

    /// Official tree: 4 YouTube originals, 2 DFD actors, Deepfakes + Face2Face + DFD fakes, c23 and c40.
    func makeOfficial(_ root: String, compressions: [String] = ["c23"]) throws {
        var files: [String] = []
        for c in compressions {
            files += ["000", "003", "071", "054"].map { "original_sequences/youtube/\(c)/videos/\($0).mp4" }
            files += ["01__hugging_happy.mp4", "02__exit_phone_room.mp4"].map { "original_sequences/actors/\(c)/videos/\($0)" }
            for m in ["Deepfakes", "Face2Face"] {
                files += ["000_003", "003_000", "071_054", "054_071"].map { "manipulated_sequences/\(m)/\(c)/videos/\($0).mp4" }
            }
            files.append("manipulated_sequences/DeepFakeDetection/\(c)/videos/01_02__hugging_happy__YVGY8LOK.mp4")
        }
        let c = compressions[0]  // hidden files and non-videos are ignored
        try S.touch(root, files + ["original_sequences/youtube/\(c)/videos/.DS_Store", "manipulated_sequences/Deepfakes/\(c)/videos/notes.txt"])
    }

    func writeSplits(_ folder: String) throws {
        try S.writeJSON([["000", "003"]], folder, "train.json")
        try S.writeJSON([["071", "054"]], folder, "val.json")
        try S.writeJSON([[String]](), folder, "test.json")
    }

    func testOfficialLayoutWithoutSplits() throws {
        let root = try S.scratch(for: self)
        try makeOfficial(root, compressions: ["c23", "c40"])
        let m = try FaceForensicsImporter(root: root).load()
        XCTAssertEqual(m.count, 4 + 2 + 8 + 1)
        XCTAssertEqual(m.summary.byMethod, ["original_youtube": 4, "original_actors": 2, "Deepfakes": 4, "Face2Face": 4, "DeepFakeDetection": 1])
        XCTAssertEqual(m.summary.real, 6)
        XCTAssertTrue(m.allSatisfy { $0.split == nil && $0.frameIndex == nil && $0.dataset == "FaceForensics++" })
        XCTAssertTrue(m.allSatisfy { $0.path.contains("/c23/videos/") })
        let fake = try XCTUnwrap(m.first { $0.id == "FaceForensics++:manipulated_sequences/Deepfakes/c23/videos/071_054.mp4" })
        XCTAssertEqual(fake.path, root + "/manipulated_sequences/Deepfakes/c23/videos/071_054.mp4")
        XCTAssertEqual([fake.videoID, fake.identity, fake.sourceIdentity, fake.originalVideoID], ["071_054", "071", "054", "071"])
        XCTAssertEqual(fake.label, 1)
        let real = try XCTUnwrap(m.first { $0.videoID == "054" })
        XCTAssertEqual([real.identity, real.method], ["054", "original_youtube"])
        XCTAssertEqual(real.label, 0)
        XCTAssertNil(real.sourceIdentity)
        let dfd = try XCTUnwrap(m.first { $0.method == "DeepFakeDetection" })
        XCTAssertEqual([dfd.identity, dfd.sourceIdentity, dfd.originalVideoID], ["01", "02", "01__hugging_happy"])
        XCTAssertEqual(m.first { $0.method == "original_actors" }?.identity, "01")
        XCTAssertEqual(m.validate(checkFiles: true), [])
    }

    func testOfficialSplitsInRootFollowTargetID() throws {
        let root = try S.scratch(for: self)
        try makeOfficial(root)
        try writeSplits(root)
        let m = try FaceForensicsImporter(root: root, methods: ["Deepfakes"]).load()
        XCTAssertEqual(m.count, 8)  // no actors without DeepFakeDetection
        let split = Dictionary(uniqueKeysWithValues: m.map { ($0.videoID!, $0.split) })
        XCTAssertEqual(split, ["000": "train", "003": "train", "071": "val", "054": "val",
                               "000_003": "train", "003_000": "train", "071_054": "val", "054_071": "val"])
        XCTAssertEqual(m.validate(checkLeakage: true), [])
    }

    func testSplitsFolderOptionAndSplitsSubfolderAndDFDHasNoSplit() throws {
        let root = try S.scratch(for: self), elsewhere = try S.scratch(for: self)
        try makeOfficial(root)
        try writeSplits(elsewhere)
        let m = try FaceForensicsImporter(root: root, splitsFolder: elsewhere).load()
        XCTAssertEqual(m.filter(split: "train").count, 6)
        XCTAssertNil(m.first { $0.method == "DeepFakeDetection" }?.split)
        XCTAssertNil(m.first { $0.method == "original_actors" }?.split)
        try writeSplits(root + "/splits")
        XCTAssertEqual(try FaceForensicsImporter(root: root).load().filter(split: "val").count, 6)
    }

    func testCompressionChoiceAndRawAlias() throws {
        let root = try S.scratch(for: self)
        try makeOfficial(root, compressions: ["c40", "raw"])
        let c40 = try FaceForensicsImporter(root: root, compression: "c40").load()
        XCTAssertTrue(c40.allSatisfy { $0.path.contains("/c40/") })
        let raw = try FaceForensicsImporter(root: root, compression: "c0").load()
        XCTAssertEqual(raw.count, 15)
        XCTAssertTrue(raw.allSatisfy { $0.path.contains("/raw/") })
        let error = S.expectError(.missingFolder) { try FaceForensicsImporter(root: root).load() }
        XCTAssertEqual(error?.reason, "expected folder original_sequences/youtube/c23/videos is absent (FaceForensics++ layout); found compressions: c40, raw")
    }

    func testFlattenedLayout() throws {
        let root = try S.scratch(for: self)
        try S.touch(root, ["original_youtube_c23/033.mp4", "original_youtube_c23/097.mp4",
                           "Deepfakes_c23/033_097.mp4", "FaceSwap_c23/097_033.mp4", "labels.csv"])
        XCTAssertEqual(FaceForensicsImporter.detectLayout(root), .flattened)
        let m = try FaceForensicsImporter(root: root).load()
        XCTAssertEqual(m.map(\.id), ["FaceForensics++:original_youtube_c23/033.mp4", "FaceForensics++:original_youtube_c23/097.mp4",
                                     "FaceForensics++:Deepfakes_c23/033_097.mp4", "FaceForensics++:FaceSwap_c23/097_033.mp4"])
        XCTAssertEqual(m.map(\.label), [0, 0, 1, 1])
        XCTAssertEqual(m.map(\.identity), ["033", "097", "033", "097"])
        XCTAssertEqual(try FaceForensicsImporter(root: root, methods: ["FaceSwap"]).load().count, 3)
        let wrong = S.expectError(.missingFolder) { try FaceForensicsImporter(root: root, compression: "c40").load() }
        XCTAssertEqual(wrong?.reason, "expected folder original_youtube_c40 is absent (flattened FaceForensics++ layout); found original_youtube_c23")
        let absentMethod = S.expectError(.missingFolder) { try FaceForensicsImporter(root: root, methods: ["NeuralTextures"]).load() }
        XCTAssertTrue(absentMethod?.reason.hasPrefix("expected folder NeuralTextures_c23 is absent") ?? false, absentMethod?.reason ?? "")
    }

    func testMissingFoldersAreNamed() throws {
        let root = try S.scratch(for: self)
        let none = S.expectError(.missingFolder) { try FaceForensicsImporter(root: root).load() }
        XCTAssertTrue(none?.reason.hasPrefix("expected folder original_sequences is absent") ?? false, none?.reason ?? "")
        try S.touch(root, ["manipulated_sequences/Deepfakes/c23/videos/000_003.mp4"])
        let noOriginals = S.expectError(.missingFolder) { try FaceForensicsImporter(root: root).load() }
        XCTAssertEqual(noOriginals?.reason, "expected folder original_sequences is absent (FaceForensics++ layout)")
        try S.touch(root, ["original_sequences/actors/c23/videos/01__a.mp4"])
        let noYoutube = S.expectError(.missingFolder) { try FaceForensicsImporter(root: root).load() }
        XCTAssertEqual(noYoutube?.reason, "expected folder original_sequences/youtube is absent (FaceForensics++ layout)")
        try S.touch(root, ["original_sequences/youtube/c23/videos/000.mp4"])
        let noMethod = S.expectError(.missingFolder) { try FaceForensicsImporter(root: root, methods: ["Face2Face"]).load() }
        XCTAssertEqual(noMethod?.reason, "expected folder manipulated_sequences/Face2Face is absent (FaceForensics++ layout); method Face2Face was asked for; present: Deepfakes")
        try FileManager.default.createDirectory(atPath: root + "/manipulated_sequences/FaceSwap/c23", withIntermediateDirectories: true)
        let noVideos = S.expectError(.missingFolder) { try FaceForensicsImporter(root: root).load() }
        XCTAssertEqual(noVideos?.reason, "expected folder manipulated_sequences/FaceSwap/c23/videos is absent (FaceForensics++ layout)")
        S.expectError(.missingFolder) { try FaceForensicsImporter(root: root + "/nope").load() }
    }

    func testEmptyVideosFolder() throws {
        let root = try S.scratch(for: self)
        try S.touch(root, ["original_sequences/youtube/c23/videos/000.mp4", "manipulated_sequences/Deepfakes/c23/videos/readme.txt"])
        let error = S.expectError(.empty) { try FaceForensicsImporter(root: root).load() }
        XCTAssertEqual(error?.path, root + "/manipulated_sequences/Deepfakes/c23/videos")
    }

    func testBadSplitFiles() throws {
        let root = try S.scratch(for: self)
        try makeOfficial(root)
        try S.writeJSON([["000", "003"]], root, "train.json")
        let incomplete = S.expectError(.missingFile) { try FaceForensicsImporter(root: root).load() }
        XCTAssertEqual(incomplete?.reason, "official split files incomplete: val.json, test.json absent")
        try S.writeJSON([[String]](), root, "val.json")
        try S.writeJSON([["071", "054"], ["072", 73]], root, "test.json")
        let badType = S.expectError(.malformedJSON) { try FaceForensicsImporter(root: root).load() }
        XCTAssertEqual(badType?.description, root + "/test.json: [1][1]: expected a video id string such as \"033\"")
        try S.writeJSON([["071", "054"], ["071"]], root, "test.json")
        XCTAssertEqual(S.expectError(.malformedJSON) { try FaceForensicsImporter(root: root).load() }?.reason, "[1]: expected a pair [target, source]")
        try S.writeJSON([["003", "054"]], root, "test.json")
        XCTAssertEqual(S.expectError(.malformedJSON) { try FaceForensicsImporter(root: root).load() }?.reason, "[0][0]: id 003 is also listed in train.json")
        try S.write("[[\"071\", ", root, "test.json")
        XCTAssertEqual(S.expectError(.malformedJSON) { try FaceForensicsImporter(root: root).load() }?.reason, "test.json is not valid JSON")
        try S.writeJSON(["071": "054"], root, "test.json")
        XCTAssertEqual(S.expectError(.malformedJSON) { try FaceForensicsImporter(root: root).load() }?.reason, "(top level): expected a list of [target, source] pairs")
        S.expectError(.missingFile) { try FaceForensicsImporter(root: root, splitsFolder: root + "/none").load() }
    }
}
