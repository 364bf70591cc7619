import XCTest
import Foundation
import ForensightMedia
import ForensightFaces
import ForensightData

/// `forensight prepare`'s cache: finished items are skipped on a re-run, failures leave nothing half-written.
final class FaceCacheTests: XCTestCase {
    func testResumesAndNeverLeavesPartialItems() throws {
        let detector: MTCNN
        guard MTCNN.weightsPresent() else { throw XCTSkip("MTCNN weights absent (run scripts/setup/weights.sh)") }; detector = try MTCNN()
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("forensight-cache-\(UUID())").path
        defer { try? fm.removeItem(atPath: dir) }
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let plain = dir + "/plain.png", broken = dir + "/broken.png"
        try ImageEncoder.write(RGBImage(width: 64, height: 64, fill: (120, 120, 120)), to: plain)
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0]).write(to: URL(fileURLWithPath: broken))
        let manifest: Manifest = [Sample(id: "t:plain", path: plain, label: 0, dataset: "t"),
                                  Sample(id: "t:broken", path: broken, label: 1, dataset: "t")]
        let cache = FaceCache(root: dir + "/cache", reader: MediaFaceReader(detector: detector))
        XCTAssertEqual(cache.prepare(manifest[0]), .noFace)
        guard case .failed(let reason) = cache.prepare(manifest[1]) else { return XCTFail("a corrupt PNG must fail") }
        XCTAssertTrue(reason.contains(broken), reason)
        XCTAssertEqual(cache.prepare(manifest[0]), .skipped, "a finished item is not redone")
        let items = try fm.contentsOfDirectory(atPath: dir + "/cache/items")
        XCTAssertEqual(items.count, 1)
        XCTAssertFalse(items.contains { $0.contains(".partial") })
        XCTAssertEqual(try cache.faceManifest(for: manifest).count, 0)
        XCTAssertNotEqual(FaceCache.key(for: "a/b"), FaceCache.key(for: "a_b"), "distinct ids never share a folder")
    }
}
