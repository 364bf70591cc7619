import XCTest
import Foundation
import ForensightMedia
import ForensightFaces

final class AlignmentAndTrackingTests: XCTestCase {
    func face(_ x: Float, _ y: Float, _ side: Float, score: Float = 0.99) -> DetectedFace {
        let marks = FaceCropper.template.map { Point(x: x + $0.x * side, y: y + $0.y * side) }
        return DetectedFace(box: FaceBox(x1: x, y1: y, x2: x + side, y2: y + side), score: score, landmarks: marks)
    }

    func testSimilarityRecoversAKnownTransform() {
        let src = [Point(x: 10, y: 20), Point(x: 50, y: 22), Point(x: 30, y: 40), Point(x: 15, y: 60), Point(x: 45, y: 61)]
        // 30° rotation, scale 1.7, shift (5, −3).
        let (s, t) = (Float(1.7), Float.pi / 6)
        let dst = src.map { Point(x: s * (cos(t) * $0.x - sin(t) * $0.y) + 5, y: s * (sin(t) * $0.x + cos(t) * $0.y) - 3) }
        let m = similarityTransform(from: src, to: dst)
        for (p, q) in zip(src, dst) {
            let r = m.apply(x: Double(p.x), y: Double(p.y))
            XCTAssertEqual(r.x, Double(q.x), accuracy: 1e-3); XCTAssertEqual(r.y, Double(q.y), accuracy: 1e-3)
        }
    }

    func testAlignedCropPutsLandmarksOnTheTemplate() {
        let cropper = FaceCropper(size: 256, margin: 1.3, mode: .aligned)
        let f = face(100, 80, 60)
        let m = cropper.transform(for: f)
        for (p, q) in zip(f.landmarks, cropper.targetPoints) {
            let r = m.apply(x: Double(p.x), y: Double(p.y))
            XCTAssertEqual(r.x, Double(q.x), accuracy: 1e-2); XCTAssertEqual(r.y, Double(q.y), accuracy: 1e-2)
        }
        // The face box spans 1/1.3 of the crop.
        let a = m.apply(x: 100, y: 80), b = m.apply(x: 160, y: 140)
        XCTAssertEqual(b.x - a.x, 256 / 1.3, accuracy: 0.5)
    }

    func testBoxCropIsCentredAndScaled() {
        let cropper = FaceCropper(size: 128, margin: 1.3, mode: .box)
        let f = face(40, 40, 100)
        let m = cropper.transform(for: f)
        let c = m.apply(x: 90, y: 90)
        XCTAssertEqual(c.x, 64, accuracy: 1e-6); XCTAssertEqual(c.y, 64, accuracy: 1e-6)
        var img = RGBImage(width: 200, height: 200, fill: (10, 20, 30))
        img.pixels[3 * (90 * 200 + 90)] = 255
        XCTAssertEqual(cropper.crop(img, face: f).width, 128)
    }

    func testSelectionPolicies() {
        let big = face(0, 0, 100), half = face(200, 0, 75), small = face(400, 0, 40), tiny = face(500, 0, 10)
        let largest = FaceTracker(selection: .largest).select([small, big, half, tiny])
        XCTAssertEqual(largest, [big])
        let rule = FaceTracker(selection: .halfOfLargest).select([small, big, half, tiny])
        XCTAssertEqual(rule, [big, half], "75² ≥ 100²/2 kept; 40² dropped; 10 px below the minimum size")
    }

    func testTracksKeepTheirIdsAcrossFramesAndCrossings() {
        var tracker = FaceTracker(selection: .halfOfLargest)
        // Two faces moving right; the order in which they are reported changes.
        for k in 0..<6 {
            let a = face(10 + Float(k) * 5, 10, 80), b = face(300 - Float(k) * 5, 20, 78)
            let ids = tracker.update(frameIndex: k, time: Double(k), faces: k % 2 == 0 ? [a, b] : [b, a])
            XCTAssertEqual(ids, k % 2 == 0 ? [0, 1] : [1, 0])
        }
        XCTAssertEqual(tracker.tracks.count, 2)
        XCTAssertEqual(tracker.tracks[0].faces.map(\.frameIndex), Array(0..<6))
        // A face appearing far away starts a new track.
        XCTAssertEqual(tracker.update(frameIndex: 6, time: 6, faces: [face(600, 300, 80)]), [2])
    }
}
