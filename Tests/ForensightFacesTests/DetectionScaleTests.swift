import XCTest
import Foundation
import ForensightMedia
import ForensightFaces

/// Large frames are searched for faces on a shrunk copy; crops still come from the full frame.
final class DetectionScaleTests: XCTestCase {
    func testOnlyFramesAboveTheLimitAreShrunk() {
        let scale = DetectionScale()
        let small = RGBImage(width: 1920, height: 1080, pixels: [UInt8](repeating: 7, count: 1920 * 1080 * 3))
        let (same, one) = scale.detectionImage(for: small)
        XCTAssertEqual([same.width, same.height], [1920, 1080])
        XCTAssertEqual(one, 1)
        let large = RGBImage(width: 3840, height: 2160, pixels: [UInt8](repeating: 7, count: 3840 * 2160 * 3))
        let (shrunk, factor) = scale.detectionImage(for: large)
        XCTAssertEqual([shrunk.width, shrunk.height], [1920, 1080])
        XCTAssertEqual(factor, 2)
        let portrait = RGBImage(width: 2160, height: 3840, pixels: [UInt8](repeating: 7, count: 3840 * 2160 * 3))
        XCTAssertEqual(scale.detectionImage(for: portrait).image.height, 1920)
    }

    func testFacesAreScaledBackToTheFullFrame() {
        let face = DetectedFace(box: FaceBox(x1: 10, y1: 20, x2: 30, y2: 50), score: 0.9,
                                landmarks: [Point(x: 12, y: 25), Point(x: 28, y: 25)])
        let full = face.scaled(by: 2)
        XCTAssertEqual(full.box, FaceBox(x1: 20, y1: 40, x2: 60, y2: 100))
        XCTAssertEqual(full.landmarks, [Point(x: 24, y: 50), Point(x: 56, y: 50)])
        XCTAssertEqual(full.score, 0.9)
        XCTAssertEqual(face.scaled(by: 1), face)
    }

    /// An FF++ frame enlarged to 4K: the face is found on the shrunk copy, at the full frame's coordinates (twice
    /// those found in the 1920-px frame), and cropped at the model's 256 px.
    func testA4KFrameGivesTheFaceAtFullResolution() throws {
        guard MTCNN.weightsPresent() else { throw XCTSkip("MTCNN weights absent (run scripts/setup/weights.sh)") }
        guard MediaTool.ffmpeg.isAvailable else { throw XCTSkip("ffmpeg not installed") }
        let video = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../shared/datasets/ffpp-c23-mini/original_youtube_c23/033.mp4").standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: video) else { throw XCTSkip("../shared/datasets absent") }
        let frame = try XCTUnwrap(try VideoReader(path: video).readFrames(sampling: .indices([100])).frames.first).image
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-scale-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let hd = dir.appendingPathComponent("hd.png").path, uhd = dir.appendingPathComponent("uhd.png").path
        try ImageEncoder.write(frame.resized(width: 1920, height: 1080), to: hd)
        try ImageEncoder.write(frame.resized(width: 3840, height: 2160), to: uhd)
        let reader = MediaFaceReader(detector: try MTCNN())
        let inHD = try XCTUnwrap(try reader.read(path: hd).crops.first)
        let inUHD = try XCTUnwrap(try reader.read(path: uhd).crops.first)
        XCTAssertEqual([inUHD.image.width, inUHD.image.height], [256, 256])
        XCTAssertEqual(inUHD.face.box.x1, inHD.face.box.x1 * 2, accuracy: 16)
        XCTAssertEqual(inUHD.face.box.y2, inHD.face.box.y2 * 2, accuracy: 16)
    }
}
