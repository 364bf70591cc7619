import XCTest
import Foundation
import ForensightMedia
import ForensightFaces
import ForensightDetect
import ForensightNN

/// `ReadAhead`: a folder's files read on a second thread give the same faces, in order, with errors kept per file.
final class ReadAheadTests: XCTestCase {
    func testReadsInOrderWithTheSameFacesAndKeepsErrors() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/datasets/utkface-real/images").standardized.path
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder).sorted().filter({ $0.hasSuffix(".jpg") }).prefix(4),
              names.count == 4 else { throw XCTSkip("../shared/datasets/utkface-real absent") }
        guard MTCNN.weightsPresent() else { throw XCTSkip("MTCNN weights absent (run scripts/setup/weights.sh)") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-readahead-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let broken = dir.appendingPathComponent("broken.jpg").path
        try Data([0xFF, 0xD8, 0xFF, 0x00, 0x01]).write(to: URL(fileURLWithPath: broken))
        var paths = names.map { folder + "/" + $0 }
        paths.insert(broken, at: 2)
        let reader = MediaFaceReader(detector: try MTCNN(), cropper: FaceCropper(size: 256, margin: 1.3, mode: .aligned), sampling: .uniform(count: 4))
        // Expected: each file read directly, one after another.
        let direct = paths.map { path in Result { try reader.read(path: path) } }
        let ahead = ReadAhead(paths: paths, reader: reader, depth: 1)
        var taken: [ReadAhead.Item] = []
        while let item = ahead.next() { taken.append(item) }
        XCTAssertEqual(taken.map(\.path), paths)
        XCTAssertNil(ahead.next())
        for (item, expected) in zip(taken, direct) {
            switch (item.result, expected) {
            case (.success(let a), .success(let b)):
                XCTAssertEqual(a.crops.map(\.image), b.crops.map(\.image), item.path)
                XCTAssertEqual(a.crops.map(\.frameIndex), b.crops.map(\.frameIndex))
                XCTAssertGreaterThanOrEqual(item.readMs, 0)
            case (.failure(let a), .failure(let b)):
                XCTAssertEqual("\(a)", "\(b)")
                XCTAssertTrue("\(a)".contains("broken.jpg"), "\(a)")
            default:
                XCTFail("\(item.path): read ahead \(item.result), directly \(expected)")
            }
        }
    }

    func testCancelStopsReadingAndAnEmptyListEndsAtOnce() throws {
        guard MTCNN.weightsPresent() else { throw XCTSkip("MTCNN weights absent (run scripts/setup/weights.sh)") }
        let reader = MediaFaceReader(detector: try MTCNN(), cropper: FaceCropper(size: 256), sampling: .uniform(count: 1))
        XCTAssertNil(ReadAhead(paths: [], reader: reader).next())
        let missing = (0..<5).map { "/nonexistent/forensight-\($0).jpg" }
        let ahead = ReadAhead(paths: missing, reader: reader, depth: 1)
        let first = try XCTUnwrap(ahead.next())
        XCTAssertEqual(first.path, missing[0])
        if case .success = first.result { XCTFail("a missing file was read") }
        ahead.cancel()
        // After a cancel the reads already finished may still come; then nil, without waiting forever.
        var more = 0
        while ahead.next() != nil { more += 1 }
        XCTAssertLessThanOrEqual(more, 2)
    }

    /// Several readers (each with its own MTCNN) give the same items in the same order as one; a pipeline scoring
    /// several files' crops in one batch gives each file the verdict it gets alone.
    func testSeveralReadersAndBatchedScoringMatchOneAtATime() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/datasets/utkface-real/images").standardized.path
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder).sorted().filter({ $0.hasSuffix(".jpg") }).prefix(7),
              names.count == 7 else { throw XCTSkip("../shared/datasets/utkface-real absent") }
        guard MTCNN.weightsPresent() else { throw XCTSkip("MTCNN weights absent (run scripts/setup/weights.sh)") }
        let paths = names.map { folder + "/" + $0 }
        let detector = try ParameterInit.withSeed(3) { try DeepfakeDetector(card: DetectorCard(id: "t", architecture: "efficientnet-lite0")) }
        detector.network.eval()
        let pipeline = Pipeline(detector: detector, faceDetector: try MTCNN(), frames: 1)
        let alone = try paths.map { try pipeline.analyze(path: $0) }
        let ahead = ReadAhead(paths: paths, pipelines: [try pipeline.withOwnFaceDetector(), try pipeline.withOwnFaceDetector()], depth: 3)
        var reads: [(media: MediaFaces, path: String, readMs: Double)] = []
        while let item = ahead.next() { reads.append((try item.result.get(), item.path, item.readMs)) }
        XCTAssertEqual(reads.map(\.path), paths)
        let batched = try pipeline.score(batch: reads)
        XCTAssertEqual(batched.count, paths.count)
        // Groups of read-ahead items hold at least the asked crops (or the rest), in order; scored as items, an
        // unreadable file keeps its error beside the others' verdicts.
        let withBroken = Array(paths.prefix(3)) + ["/nonexistent/forensight-broken.jpg"] + Array(paths.dropFirst(3))
        let grouped = ReadAhead(paths: withBroken, reader: pipeline.reader, depth: 4)
        var outcomes: [Result<(verdict: Verdict, crops: [(track: Int, frame: Int, image: RGBImage)]), Error>] = [], groups = 0
        while case let group = grouped.nextGroup(crops: 3), !group.isEmpty {
            groups += 1
            outcomes += pipeline.score(group)
        }
        XCTAssertEqual(outcomes.count, withBroken.count)
        XCTAssertGreaterThan(groups, 1)
        if case .success = outcomes[3] { XCTFail("a missing file was scored") }
        let scoredItems = outcomes.enumerated().filter { $0.offset != 3 }.compactMap { try? $0.element.get().verdict }
        XCTAssertEqual(scoredItems.map(\.source), paths)
        for (one, item) in zip(alone, scoredItems) { XCTAssertEqual(one.probability ?? -1, item.probability ?? -1, accuracy: 1e-5) }
        for (one, many) in zip(alone, batched.map(\.verdict)) {
            XCTAssertEqual(one.source, many.source)
            XCTAssertEqual(one.verdict, many.verdict)
            XCTAssertEqual(one.faces.map(\.track), many.faces.map(\.track))
            XCTAssertEqual(one.probability ?? -1, many.probability ?? -1, accuracy: 1e-5, one.source)
        }
    }
}
