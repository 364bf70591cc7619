import XCTest
import Foundation
import ForensightMedia
import ForensightFaces

/// Files a user may hand to `forensight faces`: good ones give crops, bad ones a one-line MediaError naming the file.
final class MediaFaceReaderTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-faces-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func reader() throws -> MediaFaceReader {
        guard MTCNN.weightsPresent() else { throw XCTSkip("MTCNN weights absent (run scripts/setup/weights.sh)") }; return MediaFaceReader(detector: try MTCNN(), sampling: .uniform(count: 4))
    }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testBadInputsGiveMediaErrorsNamingTheFile() throws {
        let r = try reader()
        let jpeg = try ImageEncoder.jpeg(RGBImage(width: 64, height: 48, fill: (200, 100, 50)), quality: 90)
        let png = try ImageEncoder.png(RGBImage(width: 64, height: 48, fill: (200, 100, 50)))
        let cases: [(String, [UInt8])] = [
            ("empty.jpg", []), ("cut.jpg", Array(jpeg.prefix(jpeg.count / 2))), ("cut.png", Array(png.prefix(40))),
            ("text.mp4", Array("not a video at all\n".utf8)), ("empty.mp4", []),
        ]
        for (name, bytes) in cases {
            let path = try write(name, bytes)
            XCTAssertThrowsError(try r.read(path: path), name) { error in
                XCTAssertTrue(error is MediaError, "\(name): \(error)")
                XCTAssertTrue("\(error)".hasPrefix(path), "\(name): \(error)")
                XCTAssertFalse("\(error)".contains("\n"), "one line")
            }
        }
        XCTAssertThrowsError(try r.read(path: dir.appendingPathComponent("missing.png").path))
    }

    func testAnImageWithoutFacesGivesNoCrops() throws {
        let r = try reader()
        let path = dir.appendingPathComponent("plain.png").path
        try ImageEncoder.write(RGBImage(width: 120, height: 90, fill: (90, 90, 90)), to: path)
        let result = try r.read(path: path)
        XCTAssertEqual(result.kind, .image)
        XCTAssertEqual(result.frames, 1)
        XCTAssertTrue(result.crops.isEmpty)
    }

    func testFolderWalkSurvivesSymlinkLoopsAndReportsEmptyFolders() throws {
        let fm = FileManager.default
        let sub = dir.appendingPathComponent("a/b")
        try fm.createDirectory(at: sub, withIntermediateDirectories: true)
        try ImageEncoder.write(RGBImage(width: 8, height: 8), to: sub.appendingPathComponent("x.png").path)
        try fm.createSymbolicLink(atPath: sub.appendingPathComponent("loop").path, withDestinationPath: dir.appendingPathComponent("a").path)
        try Data("x".utf8).write(to: sub.appendingPathComponent("notes.txt"))
        let emptyFolder = dir.appendingPathComponent("nothing")
        try fm.createDirectory(at: emptyFolder, withIntermediateDirectories: true)
        let (files, problems) = MediaFiles.collect([dir.appendingPathComponent("a").path, emptyFolder.path, "/no/such/path"])
        XCTAssertEqual(files.map { ($0 as NSString).lastPathComponent }, ["x.png"])
        XCTAssertEqual(problems.map(\.kind), [.empty, .notFound])
    }

    func testRealVideoGivesTrackedCrops() throws {
        let video = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../shared/datasets/ffpp-c23-mini/original_youtube_c23").standardizedFileURL
        guard let name = (try? FileManager.default.contentsOfDirectory(atPath: video.path))?.filter({ $0.hasSuffix(".mp4") }).sorted().first else {
            throw XCTSkip("../shared/datasets absent")
        }
        let result = try reader().read(path: video.appendingPathComponent(name).path)
        XCTAssertEqual(result.kind, .video)
        XCTAssertEqual(result.frames, 4)
        XCTAssertGreaterThanOrEqual(result.crops.count, 4)
        XCTAssertTrue(result.crops.allSatisfy { $0.image.width == 256 && $0.image.height == 256 })
    }
}
