import Foundation
import XCTest
import ForensightData

/// DeepfakeBench dataset JSON (`preprocessing/rearrange.py` output): FF++-family files with a compression level,
/// other datasets without, frames and video granularity, duplicate-split resolution, and malformed files.
final class DeepfakeBenchImporterTests: XCTestCase {
    typealias S = DataTestSupport

    /// Frames on disk under `root/rgb/…` and their JSON paths (relative to `rgb`).
    func frames(_ root: String, _ folder: String, _ count: Int) throws -> [String] {
        let names = (0..<count).map { "\(folder)/\(String(format: "%03d", $0 * 10)).png" }
        try S.touch(root + "/rgb", names)
        return names.reversed()  // DeepfakeBench lists frames in directory order, not sorted
    }

    func entry(_ label: String, _ frames: [String]) -> [String: Any] { ["label": label, "frames": frames, "masks": [String]()] }

    /// An `FF-DF.json` as DeepfakeBench writes it: {"FF-DF": {"FF-real": …, "FF-DF": …}}.
    func makeFFDF(_ root: String) throws -> String {
        let base = "FaceForensics++/original_sequences/youtube/c23/frames"
        let fake = "FaceForensics++/manipulated_sequences/Deepfakes/c23/frames"
        let json: [String: Any] = ["FF-DF": [
            "FF-real": ["train": ["c23": ["000": entry("FF-real", try frames(root, base + "/000", 3))]],
                        "val": ["c23": [String: Any]()],
                        "test": ["c23": ["071": entry("FF-real", try frames(root, base + "/071", 2))]]],
            "FF-DF": ["train": ["c23": ["000_003": entry("FF-DF", try frames(root, fake + "/000_003", 2)),
                                        "003_000": entry("FF-DF", [])]],
                      "val": ["c23": [String: Any]()],
                      "test": ["c23": [String: Any](), "c40": ["071_054": entry("FF-DF", ["x/071_054/000.png"])]]],
        ]]
        try S.writeJSON(json, root, "dataset_json/FF-DF.json")
        return root + "/dataset_json/FF-DF.json"
    }

    func testFaceForensicsFileAsFrames() throws {
        let root = try S.scratch(for: self)
        let file = try makeFFDF(root)
        let m = try DeepfakeBenchImporter(jsonPath: file, frameRoot: root + "/rgb").load()
        XCTAssertEqual(m.count, 3 + 2 + 2)   // the empty 003_000 and the c40 video are skipped
        XCTAssertTrue(m.allSatisfy { $0.dataset == "FaceForensics++" })
        XCTAssertEqual(m.summary.byMethod, ["original_youtube": 5, "Deepfakes": 2])
        let real000 = m.filter { $0.videoID == "000" }
        XCTAssertEqual(real000.map(\.frameIndex), [0, 10, 20])   // sorted by frame number
        XCTAssertEqual(real000[0].id, "FaceForensics++:FF-real/c23/000/000.png")
        XCTAssertEqual(real000[0].path, root + "/rgb/FaceForensics++/original_sequences/youtube/c23/frames/000/000.png")
        XCTAssertEqual(real000[0].split, "train")
        XCTAssertEqual(m.filter { $0.videoID == "071" }.map(\.split), ["test", "test"])
        let fake = try XCTUnwrap(m.first { $0.label == 1 })
        XCTAssertEqual([fake.videoID, fake.identity, fake.sourceIdentity], ["000_003", "000", "003"])
        XCTAssertEqual(m.validate(checkFiles: true), [])
    }

    func testVideoGranularitySplitsFilterAndCompressionChoice() throws {
        let root = try S.scratch(for: self)
        let file = try makeFFDF(root)
        let videos = try DeepfakeBenchImporter(jsonPath: file, granularity: .videos, frameRoot: root + "/rgb").load()
        XCTAssertEqual(videos.map(\.id), ["FaceForensics++:FF-DF/c23/000_003", "FaceForensics++:FF-real/c23/000", "FaceForensics++:FF-real/c23/071"])
        XCTAssertEqual(videos[1].path, root + "/rgb/FaceForensics++/original_sequences/youtube/c23/frames/000")
        XCTAssertTrue(videos.allSatisfy { $0.frameIndex == nil })
        let train = try DeepfakeBenchImporter(jsonPath: file, splits: ["train"], frameRoot: root + "/rgb").load()
        XCTAssertEqual(train.count, 5)
        let c40 = try DeepfakeBenchImporter(jsonPath: file, compression: "c40", frameRoot: root + "/rgb", checkFiles: false).load()
        XCTAssertEqual(c40.map(\.id), ["FaceForensics++:FF-DF/c40/071_054/000.png"])
        let error = S.expectError(.malformedJSON) { try DeepfakeBenchImporter(jsonPath: file, compression: "raw").load() }
        XCTAssertEqual(error?.reason, "compression raw is not in this file (found c23, c40)")
        let absent = S.expectError(.missingMedia) { try DeepfakeBenchImporter(jsonPath: file).load() }  // wrong frame root
        XCTAssertTrue(absent?.reason.hasPrefix("names 7 frames that are absent: ") ?? false, absent?.reason ?? "")
    }

    /// Celeb-DF-v2.json: no compression level; test videos listed under train, val and test.
    func testCelebDFFileKeepsEachVideoOnceUnderTheMostHeldOutSplit() throws {
        let root = try S.scratch(for: self)
        let real = try frames(root, "Celeb-DF-v2/Celeb-real/frames/id0_0000", 2)
        let fakeTrain = try frames(root, "Celeb-DF-v2/Celeb-synthesis/frames/id0_id1_0001", 1)
        let fakeTest = try frames(root, "Celeb-DF-v2/Celeb-synthesis/frames/id1_id0_0000", 1)
        let absolute = real.map { root + "/rgb/" + $0 }
        let json: [String: Any] = ["Celeb-DF-v2": [
            "CelebDFv2_real": ["train": ["id0_0000": entry("CelebDFv2_real", absolute)],
                               "val": ["id0_0000": entry("CelebDFv2_real", absolute)],
                               "test": ["id0_0000": entry("CelebDFv2_real", absolute)]],
            "CelebDFv2_fake": ["train": ["id0_id1_0001": entry("CelebDFv2_fake", fakeTrain), "id1_id0_0000": entry("CelebDFv2_fake", fakeTest)],
                               "val": ["label": "CelebDFv2_fake", "frames": fakeTest],    // the DFDC-style bare-entry quirk
                               "test": ["id1_id0_0000": entry("CelebDFv2_fake", fakeTest)]],
        ]]
        try S.writeJSON(json, root + "/rgb", "Celeb-DF-v2.json")
        let m = try DeepfakeBenchImporter(jsonPath: root + "/rgb/Celeb-DF-v2.json").load()   // relative paths: JSON's folder
        XCTAssertEqual(m.map(\.id), ["Celeb-DF-v2:CelebDFv2_fake/id0_id1_0001/000.png", "Celeb-DF-v2:CelebDFv2_fake/id1_id0_0000/000.png",
                                     "Celeb-DF-v2:CelebDFv2_real/id0_0000/000.png", "Celeb-DF-v2:CelebDFv2_real/id0_0000/010.png"])
        XCTAssertEqual(m.map(\.split), ["train", "test", "test", "test"])
        XCTAssertEqual(m.map(\.label), [1, 1, 0, 0])
        XCTAssertEqual(m.map(\.method), ["CelebDFv2_fake", "CelebDFv2_fake", "CelebDFv2_real", "CelebDFv2_real"])
        XCTAssertEqual(m[1].identity, "id1")
        XCTAssertEqual(m.validate(), [])
        let named = try DeepfakeBenchImporter(jsonPath: root + "/rgb/Celeb-DF-v2.json", datasetName: "CDF").load()
        XCTAssertTrue(named.allSatisfy { $0.dataset == "CDF" && $0.id.hasPrefix("CDF:") })
    }

    func testLabelsOfGroups() {
        XCTAssertEqual(["FF-real", "FF-DF", "FF-NT", "DFD_fake", "DFD_real", "DFDCP_FakeA", "UADFV_Real", "DF_fake"]
                        .map { DeepfakeBenchImporter.label(ofGroup: $0) }, [0, 1, 1, 1, 0, 1, 0, 1])
        XCTAssertNil(DeepfakeBenchImporter.label(ofGroup: "MethodX"))
        XCTAssertEqual(DeepfakeBenchImporter.label(ofGroup: "MethodX", labelMap: ["MethodX": 1]), 1)
    }

    func testMalformedFilesNameTheKeyPath() throws {
        let root = try S.scratch(for: self)
        let file = root + "/d.json"
        func check(_ json: Any, _ reason: String, kind: DatasetError.Kind = .malformedJSON, line: UInt = #line) throws {
            try S.writeJSON(json, root, "d.json")
            let error = S.expectError(kind, line: line) { try DeepfakeBenchImporter(jsonPath: file, checkFiles: false).load() }
            XCTAssertEqual(error?.reason, reason, line: line)
        }
        try check(["D": ["Mystery": ["train": [String: Any]()]]],
                  "D.Mystery: cannot tell whether label group \"Mystery\" is real or fake; pass it in labelMap")
        try check(["D": ["D_real": ["train": ["c23": ["v1": ["label": "D_real", "frames": ["a.png", 7]]]]]]], "D.D_real.train.c23[\"v1\"].frames[1]: expected a frame path string")
        try check(["D": ["D_real": ["train": ["v1": ["label": "D_real", "frames": "a.png"]]]]], "D.D_real.train[\"v1\"].frames: missing or not a list")
        try check(["D": ["D_real": ["train": ["v1": ["label": 3, "frames": ["a.png"]]]]]], "D.D_real.train[\"v1\"].label: expected a label group name or 0/1")
        try check(["D": ["D_real": ["train": ["c23": 5]]]], "D.D_real.train.c23: expected an object")
        try check(["D": ["D_real": "x"]], "D.D_real: expected an object")
        try check([["D"]], "(top level): expected {\"<dataset>\": {\"<label group>\": {…}}}")
        try check(["D": ["D_real": ["train": [String: Any]()]]], "no video with frames in the selected splits", kind: .empty)
        try S.write("{\"D\": ", root, "d.json")
        XCTAssertEqual(S.expectError(.malformedJSON) { try DeepfakeBenchImporter(jsonPath: file).load() }?.reason,
                       "the DeepfakeBench dataset JSON is not valid JSON")
        S.expectError(.missingFile) { try DeepfakeBenchImporter(jsonPath: root + "/none.json").load() }
    }
}
