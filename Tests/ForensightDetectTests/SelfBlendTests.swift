import XCTest
import ForensightTensor
import ForensightMedia
import ForensightFaces
import ForensightData

/// The face outline, masks and self-blended images behind the default detector's training.
final class SelfBlendTests: XCTestCase {
    /// Landmarks of a frontal face in a 256 px aligned crop: the cropper's own template points.
    let landmarks = FaceCropper().targetPoints

    /// A crop with texture everywhere (so any change shows), deterministic.
    func texturedFace(seed: UInt64 = 1) -> RGBImage {
        var random = SeededRandom(seed: seed)
        var image = RGBImage(width: 256, height: 256)
        for y in 0..<256 {
            for x in 0..<256 {
                let i = 3 * (y * 256 + x)
                image.pixels[i] = UInt8((x + y) % 200 + 20)
                image.pixels[i + 1] = UInt8(128 + Int((random.nextFloat() - 0.5) * 60))
                image.pixels[i + 2] = UInt8((x * 3) % 230 + 10)
            }
        }
        return image
    }

    func inside(_ p: Point, _ polygon: [Point]) -> Bool {
        FloatPlane.filled(polygon, width: 256, height: 256).values[Int(p.y) * 256 + Int(p.x)] == 1
    }

    func testOutlineCoversTheFaceAndNotTheCorners() {
        let polygon = FaceHull.polygon(landmarks: landmarks)
        XCTAssertEqual(polygon.count, FaceHull.outline.count)
        for p in landmarks { XCTAssertTrue(inside(p, polygon), "landmark \(p) outside the hull") }
        for corner in [Point(x: 2, y: 2), Point(x: 253, y: 2), Point(x: 2, y: 253), Point(x: 253, y: 253)] {
            XCTAssertFalse(inside(corner, polygon))
        }
        // Chin below the mouth, brows above the eyes.
        let mouthY = (landmarks[3].y + landmarks[4].y) / 2, eyeY = (landmarks[0].y + landmarks[1].y) / 2
        XCTAssertGreaterThan(polygon.map(\.y).max()!, mouthY + 0.3 * (mouthY - eyeY))
        XCTAssertLessThan(polygon.map(\.y).min()!, eyeY - 0.3 * (mouthY - eyeY))
        // A frontal face gives a symmetric outline about the eye-mouth axis.
        let axis = (landmarks[0].x + landmarks[1].x) / 2
        XCTAssertEqual(polygon.map(\.x).max()! - axis, axis - polygon.map(\.x).min()!, accuracy: 1.5)
    }

    func testTurnedFaceNarrowsTheFarSide() {
        var turned = landmarks
        turned[2].x += 0.25 * (landmarks[1].x - landmarks[0].x)   // nose towards the image-right eye
        let axis = (landmarks[0].x + landmarks[1].x) / 2
        let polygon = FaceHull.polygon(landmarks: turned)
        XCTAssertLessThan(polygon.map(\.x).max()! - axis, axis - polygon.map(\.x).min()!)
    }

    func testOutlineFollowsRotation() {
        // Rotating the landmarks by 90° about the crop centre rotates the outline with them.
        func rotate(_ p: Point) -> Point { Point(x: 256 - p.y, y: p.x) }
        let rotated = FaceHull.polygon(landmarks: landmarks.map(rotate))
        for (a, b) in zip(FaceHull.polygon(landmarks: landmarks).map(rotate), rotated) {
            XCTAssertEqual(a.x, b.x, accuracy: 1e-3); XCTAssertEqual(a.y, b.y, accuracy: 1e-3)
        }
    }

    func testFilledPolygonAndBlurAgainstDirectSums() {
        let square = [Point(x: 10, y: 10), Point(x: 30, y: 10), Point(x: 30, y: 20), Point(x: 10, y: 20)]
        let plane = FloatPlane.filled(square, width: 40, height: 32)
        XCTAssertEqual(plane.values.reduce(0, +), 200)          // 20 × 10 pixel centres
        let sigma: Float = 1.5, r = 5
        let blurred = plane.blurred(sigma: sigma)
        // Direct 2-D sum with the same normalised kernel and clamped edges.
        let k = (-r...r).map { Foundation.exp(-Float($0 * $0) / (2 * sigma * sigma)) }
        let norm = k.reduce(0, +)
        for (x, y) in [(10, 10), (20, 15), (9, 21), (0, 0), (39, 31), (30, 20)] {
            var s: Float = 0
            for dy in -r...r {
                for dx in -r...r {
                    let sx = min(max(x + dx, 0), 39), sy = min(max(y + dy, 0), 31)
                    s += k[dx + r] * k[dy + r] * plane.values[sy * 40 + sx]
                }
            }
            XCTAssertEqual(blurred.values[y * 40 + x], s / (norm * norm), accuracy: 1e-5, "(\(x), \(y))")
        }
    }

    func testSelfBlendIsDeterministicAndChangesOnlyTheFace() {
        let face = texturedFace()
        let blend = SelfBlend()
        var a = SeededRandom(seed: 7), b = SeededRandom(seed: 7)
        XCTAssertEqual(blend(face, landmarks: landmarks, using: &a).image, blend(face, landmarks: landmarks, using: &b).image)
        var changedInside = 0
        for seed in 0..<8 as Range<UInt64> {
            var random = SeededRandom(seed: seed)
            let result = blend(face, landmarks: landmarks, using: &random)
            let peak = result.mask.maximum
            XCTAssertTrue([0.25, 0.5, 0.75, 1].contains { abs($0 - peak) < 1e-4 }, "blend ratio \(peak)")
            XCTAssertTrue(result.mask.values.allSatisfy { $0 >= 0 && $0 <= 1.0001 })
            XCTAssertLessThan(result.mask.values[2 * 256 + 2], 1e-3, "corner of the crop is blended")
            XCTAssertGreaterThan(result.mask.values[Int(landmarks[2].y) * 256 + Int(landmarks[2].x)], 0.2, "nose not blended")
            // Inside the blended region the face differs from the original (one side of the blend is perturbed).
            var diffInside = 0.0, count = 0
            for i in 0..<(256 * 256) where result.mask.values[i] > 0.5 * peak {
                for c in 0..<3 { diffInside += abs(Double(result.image.pixels[3 * i + c]) - Double(face.pixels[3 * i + c])) }
                count += 1
            }
            if diffInside / Double(3 * max(count, 1)) > 1 { changedInside += 1 }
        }
        XCTAssertGreaterThanOrEqual(changedInside, 6, "self-blends should alter the face region")
    }

    func testAugmentationIsDeterministicAndKeepsASquareCrop() {
        let face = texturedFace(seed: 3)
        let augment = FaceAugmentation()
        var sizes = Set<Int>()
        for seed in 0..<6 as Range<UInt64> {
            var a = SeededRandom(seed: seed), b = SeededRandom(seed: seed)
            let x = augment(face, using: &a)
            XCTAssertEqual(x, augment(face, using: &b))
            XCTAssertEqual(x.width, x.height)
            XCTAssertTrue((225...256).contains(x.width), "crop side \(x.width)")
            sizes.insert(x.width)
        }
        XCTAssertGreaterThan(sizes.count, 1)
    }
}

extension SelfBlendTests {
    func testPartialRegionsBlendOnlyTheirPart() {
        let face = texturedFace()
        let eyeY = (landmarks[0].y + landmarks[1].y) / 2, mouthY = (landmarks[3].y + landmarks[4].y) / 2
        func centroidY(_ blend: SelfBlend, seed: UInt64) -> Float {
            var random = SeededRandom(seed: seed)
            let mask = blend(face, landmarks: landmarks, using: &random).mask
            var (sum, weight): (Float, Float) = (0, 0)
            for y in 0..<256 { for x in 0..<256 { let m = mask.values[y * 256 + x]; sum += m * Float(y); weight += m } }
            return sum / max(weight, 1e-6)
        }
        for seed in 0..<4 as Range<UInt64> {
            XCTAssertGreaterThan(centroidY(SelfBlend(regions: [(.lowerFace, 1)]), seed: seed), (eyeY + mouthY) / 2, "lower-face blend above the nose")
            XCTAssertLessThan(centroidY(SelfBlend(regions: [(.eyes, 1)]), seed: seed), (eyeY + mouthY) / 2, "eye blend below the nose")
        }
        // The mixed recipe draws every region over a few dozen blends.
        var seen = Set<Int>()
        for seed in 0..<40 as Range<UInt64> {
            let y = centroidY(.withPartialRegions, seed: seed)
            seen.insert(y < eyeY + 0.2 * (mouthY - eyeY) ? 0 : y > eyeY + 0.7 * (mouthY - eyeY) ? 2 : 1)
        }
        XCTAssertEqual(seen, [0, 1, 2])
    }

    func testTheWholeFaceRecipeIsUnchangedByTheRegionOption() {
        let face = texturedFace()
        var a = SeededRandom(seed: 9), b = SeededRandom(seed: 9)
        XCTAssertEqual(SelfBlend()(face, landmarks: landmarks, using: &a).image,
                       SelfBlend(regions: [(.face, 1)])(face, landmarks: landmarks, using: &b).image)
        XCTAssertEqual(a.next(), b.next())
    }
}
