import Foundation
import XCTest
import ForensightData

/// RFFR JSON label lists, CSV label files and real/ + fake/ folders, with their bad-dataset cases; layout detection.
final class ListAndFolderImporterTests: XCTestCase {
    typealias S = DataTestSupport

    func testRFFRList() throws {
        let root = try S.scratch(for: self)
        try S.touch(root, ["images/033_097/0003.png", "images/033/0001.png", "faces/x.jpg"])
        let list: [[String: Any]] = [["path": root + "/images/033_097/0003.png", "label": 1],
                                     ["path": "../images/033/0001.png", "label": 0],
                                     ["path": root + "/faces/x.jpg", "label": 0]]
        try S.writeJSON(list, root, "data_label/df_test_label.json")
        let m = try RFFRListImporter(listPath: root + "/data_label/df_test_label.json").load()
        XCTAssertEqual(m.map(\.label), [1, 0, 0])
        XCTAssertEqual(m.map(\.split), ["test", "test", "test"])
        XCTAssertEqual(m.map(\.method), ["Deepfakes", nil, nil])
        XCTAssertEqual(m.map(\.videoID), ["033_097", "033", "x"])
        XCTAssertEqual(m.map(\.identity), ["033", "033", nil])
        XCTAssertEqual(m[1].path, root + "/images/033/0001.png")
        XCTAssertTrue(m.allSatisfy { $0.frameIndex == nil && $0.dataset == "RFFR" })
        XCTAssertEqual(m.validate(), [])
        let overridden = try RFFRListImporter(listPath: root + "/data_label/df_test_label.json", datasetName: "FF", split: "val", method: "M").load()
        XCTAssertEqual(overridden.map(\.split), ["val", "val", "val"])
        XCTAssertEqual(overridden.map(\.method), ["M", "M", "M"])
        XCTAssertTrue(RFFRListImporter.nameHints("real_train_label.json") == ("train", nil))
        XCTAssertTrue(RFFRListImporter.nameHints("f2f_val_label.json") == ("val", "Face2Face"))
    }

    func testRFFRBadLists() throws {
        let root = try S.scratch(for: self)
        let file = root + "/l.json"
        func check(_ json: Any, _ kind: DatasetError.Kind, _ reason: String, line: UInt = #line) throws {
            try S.writeJSON(json, root, "l.json")
            XCTAssertEqual(S.expectError(kind, line: line) { try RFFRListImporter(listPath: file).load() }?.reason, reason, line: line)
        }
        try check([["path": "a.png", "label": 2]], .malformedJSON, "[0].label: expected 0 (real) or 1 (fake), found 2")
        try check([["path": "a.png", "label": 0], ["label": 1]], .malformedJSON, "[1].path: missing or not a path string")
        try check([["path": "a.png", "label": 0], "b.png"], .malformedJSON, "[1]: expected an object {\"path\", \"label\"}")
        try check(["path": "a.png"], .malformedJSON, "(top level): expected a list of {\"path\", \"label\"} objects")
        try check([Any](), .empty, "the label list has no entries")
        try check([["path": "a.png", "label": 0], ["path": "b.png", "label": 1]], .missingMedia, "names 2 files that are absent: \(root)/a.png, \(root)/b.png")
    }

    func testCSVWithAllColumnsQuotingAndTextLabels() throws {
        let root = try S.scratch(for: self)
        try S.touch(root, ["v/033.mp4", "v/033_097.mp4", "v/a,b.mp4", "frames/id0_0000/0001.png"])
        let lines = ["\u{FEFF}path,label,method,video_id,identity,split,frame_index,extra",
                     "v/033.mp4,REAL,original_youtube,,,train,,x",
                     #""v/033_097.mp4",1,"Deep ""fakes""",,,test,,"#,
                     #""v/a,b.mp4",fake,,clipAB,person7,,,"#,
                     "frames/id0_0000/0001.png,0,,,,,12,", ""]
        try S.write(lines.joined(separator: "\r\n"), root, "sub/labels.csv")
        let m = try CSVImporter(csvPath: root + "/sub/labels.csv", pathRoot: root).load()
        XCTAssertEqual(m.map(\.label), [0, 1, 1, 0])
        XCTAssertEqual(m.map(\.method), ["original_youtube", "Deep \"fakes\"", nil, nil])
        XCTAssertEqual(m.map(\.videoID), ["033", "033_097", "clipAB", "id0_0000"])
        XCTAssertEqual(m.map(\.identity), ["033", "033", "person7", "id0"])
        XCTAssertEqual(m.map(\.split), ["train", "test", nil, nil])
        XCTAssertEqual(m.map(\.frameIndex), [nil, nil, nil, 12])
        XCTAssertEqual(m[1].sourceIdentity, "097")
        XCTAssertEqual(m[2].id, "sub:v/a,b.mp4")
        XCTAssertEqual(m[2].path, root + "/v/a,b.mp4")
        XCTAssertTrue(m.allSatisfy { $0.dataset == "sub" })
    }

    func testCSVBadFiles() throws {
        let root = try S.scratch(for: self)
        try S.touch(root, ["a.jpg"])
        func check(_ text: String, _ kind: DatasetError.Kind, _ reason: String, line: UInt = #line) throws {
            try S.write(text, root, "l.csv")
            XCTAssertEqual(S.expectError(kind, line: line) { try CSVImporter(csvPath: root + "/l.csv").load() }?.reason, reason, line: line)
        }
        try check("path,lbl\na.jpg,0\n", .malformedList, "line 1: header lacks column \"label\" (found: path,lbl)")
        try check("path,label\na.jpg,0\na.jpg,maybe\n", .malformedList, "line 3: label \"maybe\" is not 0, 1, real or fake")
        try check("path,label\na.jpg,0,extra\n", .malformedList, "line 2: expected 2 fields, found 3")
        try check("path,label\n\"a.jpg,0\n", .malformedList, "line 2: unterminated quoted field")
        try check("path,label\n,1\n", .malformedList, "line 2: empty path")
        try check("path,label,frame_index\na.jpg,1,-3\n", .malformedList, "line 2: frame_index \"-3\" is not a count")
        try check("path,label\n", .empty, "the CSV file has a header but no rows")
        try check("", .empty, "the CSV file is empty")
        try check("path,label\na.jpg,0\nb.jpg,1\nc/d.jpg,1\n", .missingMedia, "names 2 files that are absent: \(root)/b.jpg, \(root)/c/d.jpg")
        XCTAssertEqual(try CSVImporter(csvPath: root + "/l.csv", checkFiles: false).load().count, 3)
    }

    func testRealFakeFolders() throws {
        let root = try S.scratch(for: self)
        try S.touch(root, ["Real/a.jpg", "Real/clips/b.mp4", "fake/Deepfakes/033_097.mp4", "fake/033_097/0001.png",
                           "fake/c.png", "fake/notes.txt", "fake/.hidden.jpg"])
        let m = try FolderImporter(root: root, datasetName: "mine").load()
        XCTAssertEqual(m.map(\.id), ["mine:Real/a.jpg", "mine:Real/clips/b.mp4", "mine:fake/033_097/0001.png",
                                     "mine:fake/Deepfakes/033_097.mp4", "mine:fake/c.png"])
        XCTAssertEqual(m.map(\.label), [0, 0, 1, 1, 1])
        XCTAssertEqual(m.map(\.method), [nil, "clips", nil, "Deepfakes", nil])
        XCTAssertEqual(m.map(\.videoID), ["a", "b", "033_097", "033_097", "c"])
        XCTAssertEqual(m.map(\.identity), [nil, nil, "033", "033", nil])
        XCTAssertEqual(m[0].path, root + "/Real/a.jpg")
        let single = try FolderImporter(root: root + "/fake", label: 1).load()
        XCTAssertEqual(single.count, 3)
        XCTAssertTrue(single.allSatisfy { $0.label == 1 && $0.dataset == "fake" })
        XCTAssertEqual(single.map(\.method), [nil, nil, nil])
    }

    func testRealFakeFolderErrors() throws {
        let root = try S.scratch(for: self)
        try S.touch(root, ["real/a.jpg"])
        XCTAssertEqual(S.expectError(.missingFolder) { try FolderImporter(root: root).load() }?.reason,
                       "expected folder fake/ is absent (real/ + fake/ folders layout)")
        try S.touch(root, ["fake/readme.txt"])
        XCTAssertEqual(S.expectError(.empty) { try FolderImporter(root: root).load() }?.path, root + "/fake")
        let other = try S.scratch(for: self)
        try S.touch(other, ["fake/x.png"])
        XCTAssertEqual(S.expectError(.missingFolder) { try FolderImporter(root: other).load() }?.reason,
                       "expected folder real/ is absent (real/ + fake/ folders layout)")
    }

    func testVideoNamingRules() {
        XCTAssertEqual(VideoNaming.recognize("033"), VideoNaming(identity: "033"))
        XCTAssertEqual(VideoNaming.recognize("033_097"), VideoNaming(identity: "033", sourceIdentity: "097", originalVideoID: "033"))
        XCTAssertEqual(VideoNaming.recognize("01_02__walking__ABC123"),
                       VideoNaming(identity: "01", sourceIdentity: "02", originalVideoID: "01__walking"))
        XCTAssertEqual(VideoNaming.recognize("01__walking")?.identity, "01")
        XCTAssertEqual(VideoNaming.recognize("id12_id3_0007"), VideoNaming(identity: "id12", sourceIdentity: "id3", originalVideoID: "id12_0007"))
        XCTAssertEqual(VideoNaming.recognize("id12_0007"), VideoNaming(identity: "id12"))
        for name in ["00170", "0330", "033_97", "033_097_100", "aaqaifqrwn", "0000_fake", "id_0001", "idx_0001", "100_1_0_20170110183726390.jpg.chip", "01__"] {
            XCTAssertNil(VideoNaming.recognize(name), name)
        }
    }

    func testLayoutDetection() throws {
        let root = try S.scratch(for: self)
        try S.touch(root, ["ff/original_sequences/youtube/c23/videos/000.mp4", "flat/Deepfakes_c23/000_003.mp4",
                           "cdf/Celeb-real/id0_0000.mp4", "rf/real/a.jpg", "rf/fake/b.jpg", "csv/labels.csv", "none/a.mp4"])
        try S.writeJSON(["v.mp4": ["label": "REAL"]], root, "dfdc/part_0/metadata.json")
        try S.writeJSON(["D": [String: Any]()], root, "bench.json")
        try S.writeJSON([[String: Any]](), root, "list.json")
        let expected: [String: DatasetLayout?] = ["ff": .faceForensics, "flat": .faceForensics, "cdf": .celebDF, "dfdc": .dfdc,
                                                  "rf": .realFakeFolders, "csv": .csv, "none": nil, "bench.json": .deepfakeBench,
                                                  "list.json": .rffrList, "csv/labels.csv": .csv, "missing": nil]
        for (name, layout) in expected { XCTAssertEqual(DatasetLayout.detect(root + "/" + name), layout, name) }
        XCTAssertTrue(try DatasetLayout.importer(for: root + "/dfdc") is DFDCImporter)
        XCTAssertEqual(try DatasetLayout.importer(for: root + "/rf").load().count, 2)
        S.expectError(.unrecognizedLayout) { try DatasetLayout.importer(for: root + "/none") }
    }
}
