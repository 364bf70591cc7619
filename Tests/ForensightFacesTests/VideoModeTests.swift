import XCTest
import Foundation
import ForensightMedia
import ForensightFaces

/// Video mode (re-detection around tracked faces) finds the faces full detection finds, on the FF++ videos.
final class VideoModeTests: XCTestCase {
    static let ffpp = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/datasets/ffpp-c23-mini").standardizedFileURL

    func testVideoModeMatchesFullDetection() throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: Self.ffpp.path) else { throw XCTSkip("../shared/datasets absent") }
        let detector: MTCNN
        guard MTCNN.weightsPresent() else { throw XCTSkip("MTCNN weights absent (run scripts/setup/weights.sh)") }; detector = try MTCNN()
        let videos = ["original_youtube_c23", "Deepfakes_c23", "FaceSwap_c23"].compactMap { dir -> String? in
            let d = Self.ffpp.appendingPathComponent(dir)
            return (try? fm.contentsOfDirectory(atPath: d.path))?.filter { $0.hasSuffix(".mp4") }.sorted().first.map { d.appendingPathComponent($0).path }
        }
        XCTAssertFalse(videos.isEmpty)
        for video in videos {
            let frames = try VideoReader(path: video).readFrames(sampling: FrameSampler.uniform(count: 32).within(start: 0, end: 10)).frames
            let full = FaceExtractor(detector: detector, options: FaceExtractionOptions(fullDetectionInterval: 1))
            let fast = FaceExtractor(detector: detector, options: FaceExtractionOptions(fullDetectionInterval: 8))
            var agreeing = 0, withFaces = 0
            for f in frames {
                let a = full.process(f.image, frameIndex: f.index, time: f.time).map(\.face)
                let b = fast.process(f.image, frameIndex: f.index, time: f.time).map(\.face)
                guard let main = a.first else { continue }
                withFaces += 1
                // The same face: the boxes of two MTCNN runs over different pyramids jitter by a few pixels (IoU ≈ 0.8–0.95).
                if (b.map { $0.box.iou(main.box) }.max() ?? 0) >= 0.7 { agreeing += 1 }
            }
            XCTAssertGreaterThan(withFaces, 0, video)
            XCTAssertEqual(agreeing, withFaces, "\(video): video mode found the main face in \(agreeing) of \(withFaces) frames")
            XCTAssertEqual(fast.tracks.count, full.tracks.count, "\(video): same number of tracks")
        }
    }
}
