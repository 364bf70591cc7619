import Foundation
import XCTest
import ForensightData

/// The train / validation / test protocol: fakes and the people in them are test, the rest is drawn by person,
/// video or photo, deterministically and independently of what else was imported.
final class ProtocolSplitTests: XCTestCase {
    /// FF++-like: 30 originals; fakes swap 000–009 with the next id. Photos: 50 people × 4 (CelebA-like) and 200
    /// photos without identity (FairFace-like).
    static let manifest: Manifest = {
        var samples = SplitTests.ffpp.samples.filter { !$0.isFake && Int($0.videoID!)! < 30 }
        for t in 0..<10 {
            let (a, b) = (String(format: "%03d", t), String(format: "%03d", t + 1))
            samples.append(Sample(id: "ff:Deepfakes/\(a)_\(b)", path: "/D/\(a)_\(b).mp4", label: 1, method: "Deepfakes", dataset: "ff",
                                  videoID: "\(a)_\(b)", identity: a, sourceIdentity: b, originalVideoID: a))
        }
        for p in 0..<50 { for k in 0..<4 { samples.append(Sample(id: "celeb:\(p)_\(k)", path: "/c/\(p)_\(k).jpg", label: 0, dataset: "celeb", identity: "p\(p)")) } }
        for k in 0..<200 { samples.append(Sample(id: "fair:\(k)", path: "/f/\(k).jpg", label: 0, dataset: "fair", videoID: "\(k)")) }
        return Manifest(samples)
    }()

    func testFakesAndThePeopleInThemAreTest() {
        let split = ProtocolSplit(testFraction: 0.2, validationFraction: 0.1, seed: 0).apply(to: Self.manifest)
        for s in split where s.dataset == "ff" {
            let n = Int(s.identity!)!
            if s.isFake || n <= 10 { XCTAssertEqual(s.split, "test", s.id) }
        }
        let ff = split.filter { $0.dataset == "ff" && !$0.isFake && Int($0.identity!)! > 10 }
        XCTAssertTrue(ff.contains { $0.split == "train" })
    }

    func testPeopleStayTogetherAndFractionsHold() {
        let split = ProtocolSplit(testFraction: 0.2, validationFraction: 0.1, seed: 3).apply(to: Self.manifest)
        let byPerson = Dictionary(grouping: split.filter { $0.dataset == "celeb" }, by: { $0.identity! })
        XCTAssertTrue(byPerson.values.allSatisfy { Set($0.map(\.split)).count == 1 }, "a CelebA person in two parts")
        let photos = split.filter { $0.dataset == "fair" }
        let test = Double(photos.filter { $0.split == "test" }.count) / 200, val = Double(photos.filter { $0.split == "val" }.count) / 200
        XCTAssertEqual(test, 0.2, accuracy: 0.07)
        XCTAssertEqual(val, 0.1, accuracy: 0.06)
        XCTAssertEqual(Set(split.map { $0.split ?? "" }), ["train", "val", "test"])
    }

    func testSplitDependsOnTheSampleAndSeedOnly() {
        let plan = ProtocolSplit(seed: 5)
        let all = plan.apply(to: Self.manifest)
        let alone = plan.apply(to: Manifest(Self.manifest.filter { $0.dataset == "celeb" }))
        let parts = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0.split) })
        for s in alone { XCTAssertEqual(s.split, parts[s.id]!, s.id) }
        XCTAssertNotEqual(ProtocolSplit(seed: 6).apply(to: Self.manifest).map(\.split), all.map(\.split))
        let p = plan.parts(of: Self.manifest)
        XCTAssertEqual(p.train.count + p.validation.count + p.test.count, Self.manifest.count)
    }

    func testCelebAPhotosGetTheirPersonFromTheFileName() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-celeba-\(UUID())")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("images"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["00082_005373.jpg", "00082_007165.jpg", "00107_000001.jpg", "odd.jpg"] {
            FileManager.default.createFile(atPath: dir.appendingPathComponent("images/" + name).path, contents: Data([0xFF, 0xD8, 0xFF]))
        }
        let csv = "path,label,method\nimages/00082_005373.jpg,real,CelebA_img_align\nimages/00082_007165.jpg,real,CelebA_img_align\n"
            + "images/00107_000001.jpg,real,CelebA_img_align\nimages/odd.jpg,real,CelebA_img_align\n"
        try csv.write(to: dir.appendingPathComponent("labels.csv"), atomically: true, encoding: .utf8)
        let samples = try CSVImporter(csvPath: dir.appendingPathComponent("labels.csv").path).load().samples
        XCTAssertEqual(samples.map(\.identity), ["celeba-00082", "celeba-00082", "celeba-00107", nil])
    }

    func testAttributeTableReadsGroupsByPath() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-attr-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertNil(try AttributeTable.load(folder: dir.path))
        try "path,age,gender,race\nimages/a.jpg,20-29,Female,Black\nimages/b.jpg,3-9,,\"East Asian\"\n"
            .write(to: dir.appendingPathComponent("attributes.csv"), atomically: true, encoding: .utf8)
        let table = try XCTUnwrap(try AttributeTable.load(folder: dir.path))
        let base = dir.standardizedFileURL.path
        XCTAssertEqual(table[base + "/images/a.jpg"], ["age": "20-29", "gender": "Female", "race": "Black"])
        XCTAssertEqual(table[base + "/images/b.jpg"], ["age": "3-9", "race": "East Asian"])
    }
}
