import XCTest
import Foundation
import ForensightMedia
import ForensightFaces

/// Five alignment points read off FaceMesh (`LandmarkRefiner`): their order, when a mesh is refused, and that they
/// hold still when a photo is shrunk, which is what they are for.
final class LandmarkRefinerTests: XCTestCase {
    static let celebA = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/datasets/celeba-real/images").standardizedFileURL.path

    func cartoonMesh() -> [Landmark3D] {
        let ref = FaceMeshTests.reference("cartoon")
        return (0..<FaceMesh.landmarkCount).map { Landmark3D(x: ref.landmarks[3 * $0], y: ref.landmarks[3 * $0 + 1], z: ref.landmarks[3 * $0 + 2]) }
    }

    func testFivePointsAreInMTCNNOrder() {
        // The cartoon's eyes are drawn at (72, 94) and (120, 94), its mouth at (96, 150).
        let p = LandmarkRefiner.fivePoints(cartoonMesh())
        XCTAssertEqual(p.count, 5)
        XCTAssertLessThan(hypot(p[0].x - 72, p[0].y - 94), 4); XCTAssertLessThan(hypot(p[1].x - 120, p[1].y - 94), 4)
        XCTAssertTrue(p[2].y > 94 && p[2].y < 150 && abs(p[2].x - 96) < 8, "nose at \(p[2])")
        XCTAssertTrue(p[3].x < 96 && p[4].x > 96 && abs(p[3].y - 150) < 12 && abs(p[4].y - 150) < 12, "mouth corners \(p[3]), \(p[4])")
        // Mirrored, the points stay image-left first.
        let mirrored = LandmarkRefiner.fivePoints(cartoonMesh().map { Landmark3D(x: 192 - $0.x, y: $0.y, z: $0.z) })
        XCTAssertLessThan(mirrored[0].x, mirrored[1].x); XCTAssertLessThan(mirrored[3].x, mirrored[4].x)
        XCTAssertEqual(mirrored[0].x, 192 - p[1].x, accuracy: 1e-3)
    }

    func refiner() throws -> LandmarkRefiner {
        guard FileManager.default.fileExists(atPath: FaceMesh.defaultWeightsPath) else {
            throw XCTSkip("FaceMesh weights absent at \(FaceMesh.defaultWeightsPath) (run scripts/setup/weights.sh)")
        }
        return try LandmarkRefiner()
    }

    func photos(_ count: Int) throws -> [(RGBImage, DetectedFace)] {
        guard MTCNN.weightsPresent(), let names = try? FileManager.default.contentsOfDirectory(atPath: Self.celebA) else {
            throw XCTSkip("needs MTCNN weights and ../shared/datasets/celeba-real")
        }
        let detector = try MTCNN()
        var out: [(RGBImage, DetectedFace)] = []
        for name in names.filter({ $0.hasSuffix(".jpg") }).sorted().prefix(3 * count) where out.count < count {
            let image = try ImageDecoder.decode(path: Self.celebA + "/" + name)
            if let face = detector.detect(image).max(by: { $0.score < $1.score }), face.box.width > 80 { out.append((image, face)) }
        }
        return out
    }

    func testAMeshThatDisagreesWithTheDetectionIsRefused() throws {
        let refiner = try refiner()
        // Nothing to mesh: a flat grey image keeps its detection as it is.
        let grey = RGBImage(width: 200, height: 200, fill: (128, 128, 128))
        let made = DetectedFace(box: FaceBox(x1: 50, y1: 50, x2: 150, y2: 150), score: 0.99,
                                landmarks: [Point(x: 80, y: 90), Point(x: 120, y: 90), Point(x: 100, y: 110), Point(x: 85, y: 130), Point(x: 115, y: 130)])
        XCTAssertEqual(refiner.refine(made, in: grey), made)
        // A real face whose eye landmarks were moved by half the interocular distance is refused too.
        guard let (image, face) = try photos(1).first else { throw XCTSkip("no CelebA face found") }
        var moved = face
        let d = face.landmarks[1].x - face.landmarks[0].x
        moved.landmarks[0].y -= 0.5 * d; moved.landmarks[1].y -= 0.5 * d
        XCTAssertEqual(refiner.refine(moved, in: image), moved)
        XCTAssertNotEqual(refiner.refine(face, in: image).landmarks, face.landmarks)
    }

    /// The reason for the refiner: shrinking a photo to half moves MTCNN's points (scaled back) more than FaceMesh's.
    func testRefinedPointsMoveLessThanMTCNNsWhenAPhotoIsHalved() throws {
        let refiner = try refiner()
        let detector = try MTCNN()
        var (mtcnnShift, meshShift, n) = (Float(0), Float(0), 0)
        for (image, face) in try photos(8) {
            let half = image.resized(width: image.width / 2, height: image.height / 2)
            guard let small = detector.detect(half).max(by: { $0.score < $1.score }) else { continue }
            let (sx, sy) = (Float(image.width) / Float(half.width), Float(image.height) / Float(half.height))
            // Pixel centres: x_full = (x_half + 0.5) · s − 0.5.
            func up(_ p: Point) -> Point { Point(x: (p.x + 0.5) * sx - 0.5, y: (p.y + 0.5) * sy - 0.5) }
            func shift(_ a: [Point], _ b: [Point]) -> Float { zip(a, b).map { hypot($0.x - $1.x, $0.y - $1.y) }.reduce(0, +) / 5 }
            let d = hypot(face.landmarks[1].x - face.landmarks[0].x, face.landmarks[1].y - face.landmarks[0].y)
            let (refinedFull, refinedHalf) = (refiner.refine(face, in: image), refiner.refine(small, in: half))
            guard refinedFull.landmarks != face.landmarks, refinedHalf.landmarks != small.landmarks else { continue }
            mtcnnShift += shift(face.landmarks, small.landmarks.map(up)) / d
            meshShift += shift(refinedFull.landmarks, refinedHalf.landmarks.map(up)) / d
            n += 1
        }
        XCTAssertGreaterThanOrEqual(n, 5, "too few CelebA faces meshed at both sizes")
        XCTAssertLessThan(meshShift / Float(n), mtcnnShift / Float(n),
                          "FaceMesh points moved \(meshShift / Float(n)) interocular distances on average, MTCNN's \(mtcnnShift / Float(n))")
    }
}
