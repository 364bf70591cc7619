import Foundation
import XCTest
import ForensightData

/// The real datasets in `../shared/datasets`, read in place (skipped when absent): counts must match their labels.csv.
final class SharedDatasetTests: XCTestCase {
    typealias S = DataTestSupport

    func folder(_ name: String) throws -> String {
        let path = S.sharedDatasets + "/" + name
        guard FileManager.default.fileExists(atPath: path + "/labels.csv") else { throw XCTSkip("../shared/datasets/\(name) absent") }
        return path
    }

    func testFFppC23MiniFlattenedLayoutMatchesLabelsCSV() throws {
        let root = try folder("ffpp-c23-mini")
        let expected = try S.labelsCSVCounts(root)
        XCTAssertEqual(DatasetLayout.detect(root), .faceForensics)
        let m = try FaceForensicsImporter(root: root).load()
        XCTAssertEqual([m.summary.real, m.summary.fake], [expected.real, expected.fake])
        XCTAssertEqual(m.summary.byMethod, expected.methods)          // original_youtube / Deepfakes / Face2Face / FaceSwap
        XCTAssertEqual(m.validate(checkFiles: true), [])
        XCTAssertTrue(m.allSatisfy { $0.identity != nil && $0.videoID != nil && $0.split == nil })
        // Every fake's target has its original here (paired design), so a target-id split keeps pairs together.
        let originals = Set(m.filter(label: 0).compactMap(\.identity))
        XCTAssertTrue(m.filter(label: 1).allSatisfy { originals.contains($0.identity!) })
        let split = m.split(byIdentity: .trainVal, seed: 0)
        XCTAssertEqual(split.validate(checkLeakage: true), [])
        // Stratified: the validation side gets fakes and reals of its own.
        XCTAssertGreaterThan(split.summary.bySplitAndLabel["val"]?[1] ?? 0, 0)
        XCTAssertGreaterThan(split.summary.bySplitAndLabel["val"]?[0] ?? 0, 0)
        // The same dataset through its labels.csv gives the same files and labels.
        let csv = try CSVImporter(csvPath: root + "/labels.csv").load()
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: csv.map { ($0.path, $0.label) }),
                       Dictionary(uniqueKeysWithValues: m.map { ($0.path, $0.label) }))
        XCTAssertEqual(csv.map(\.identity).sorted { ($0 ?? "") < ($1 ?? "") }, m.map(\.identity).sorted { ($0 ?? "") < ($1 ?? "") })
    }

    func testCelebDFMiniMatchesLabelsCSV() throws {
        let root = try folder("celebdf-mini")
        let expected = try S.labelsCSVCounts(root)
        let m = try CelebDFImporter(root: root).load()
        XCTAssertEqual([m.summary.real, m.summary.fake], [expected.real, expected.fake])
        XCTAssertEqual(m.summary.byMethod, ["Celeb-real": expected.methods["Celeb-real", default: -1], "Celeb-synthesis": expected.fake])
        XCTAssertEqual(Set(m.compactMap(\.identity)), ["id0"])      // one identity pair: id0 target, id1 source
        XCTAssertEqual(Set(m.compactMap(\.sourceIdentity)), ["id1"])
        XCTAssertEqual(m.validate(checkFiles: true), [])
        let csv = try CSVImporter(csvPath: root + "/labels.csv").load()
        XCTAssertEqual(Set(csv.map(\.path)), Set(m.map(\.path)))
    }

    func testUTKFaceAsRealFolderAndViaLabelsCSV() throws {
        let root = try folder("utkface-real")
        let expected = try S.labelsCSVCounts(root)
        let folder = try FolderImporter(root: root + "/images", datasetName: "utkface-real", label: 0).load()
        XCTAssertEqual(folder.count, expected.real)
        XCTAssertEqual(expected.fake, 0)
        let csv = try CSVImporter(csvPath: root + "/labels.csv").load()
        XCTAssertEqual(csv.count, expected.real)
        XCTAssertEqual(csv.summary.byMethod, expected.methods)
        XCTAssertEqual(Set(csv.map(\.path)), Set(folder.map(\.path)))
        XCTAssertEqual(csv.validate(checkFiles: true), [])
        XCTAssertEqual(DatasetLayout.detect(root), .csv)
    }
}
