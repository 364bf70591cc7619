import XCTest
import Foundation
import ForensightTensor
import ForensightMedia
import ForensightFaces
import ForensightData
import ForensightTraining

/// Self-blend masks from FaceMesh's dense landmarks (`DenseFaceHull`), and the meshes `train --mask dense` gives faces.
final class DenseMaskTests: XCTestCase {
    /// TFLite's mesh of the FaceMesh fixture cartoon (192 px; eyes drawn at (72, 94) and (120, 94), mouth at (96, 150)).
    static let cartoonMesh: [Point] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ForensightFacesTests/Fixtures/facemesh_reference.json")
        let json = try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let cartoon = (json["inputs"] as! [[String: Any]]).first { $0["name"] as? String == "cartoon" }!
        let values = (cartoon["landmarks"] as! [Double]).map(Float.init)
        return (0..<FaceMesh.landmarkCount).map { Point(x: values[3 * $0], y: values[3 * $0 + 1]) }
    }()
    let (rightEye, leftEye, mouth) = (Point(x: 72, y: 94), Point(x: 120, y: 94), Point(x: 96, y: 150))

    func inside(_ p: Point, _ polygon: [Point], side: Int = 192) -> Bool {
        FloatPlane.filled(polygon, width: side, height: side).values[Int(p.y) * side + Int(p.x)] == 1
    }

    func testRegionsCoverTheirFeaturesOnly() {
        let mesh = Self.cartoonMesh
        let face = DenseFaceHull.polygon(mesh: mesh, region: .face)
        XCTAssertEqual(face.count, FaceMesh.faceOval.count)
        for p in [rightEye, leftEye, mouth] { XCTAssertTrue(inside(p, face), "\(p) outside the face oval") }
        XCTAssertFalse(inside(Point(x: 2, y: 2), face))

        let lower = DenseFaceHull.polygon(mesh: mesh, region: .lowerFace)
        XCTAssertTrue(inside(mouth, lower), "mouth outside the lower face")
        XCTAssertFalse(inside(rightEye, lower)); XCTAssertFalse(inside(leftEye, lower))
        XCTAssertGreaterThan(lower.map(\.y).min()!, 94, "lower face reaches the eyes")
        XCTAssertGreaterThan(lower.map(\.y).max()!, 150, "lower face stops above the mouth")

        let eyes = DenseFaceHull.polygon(mesh: mesh, region: .eyes)
        XCTAssertTrue(inside(rightEye, eyes)); XCTAssertTrue(inside(leftEye, eyes))
        XCTAssertFalse(inside(mouth, eyes), "the eye region reaches the mouth")
        XCTAssertLessThan(eyes.map(\.y).min()!, 94 - 5, "brows not in the eye region")
    }

    func testConvexHullKeepsOnlyCorners() {
        var points = [Point(x: 0, y: 0), Point(x: 4, y: 0), Point(x: 4, y: 3), Point(x: 0, y: 3)]
        points += [Point(x: 2, y: 0), Point(x: 1, y: 1), Point(x: 3, y: 2), Point(x: 0, y: 1.5)]   // edge and interior points
        let hull = DenseFaceHull.convexHull(points.shuffled())
        XCTAssertEqual(Set(hull.map { "\($0.x),\($0.y)" }), ["0.0,0.0", "4.0,0.0", "4.0,3.0", "0.0,3.0"])
        XCTAssertEqual(DenseFaceHull.convexHull([Point(x: 1, y: 1)]).count, 1)
    }

    func testDeformationScalesAboutTheCentroidAndJittersWithinBounds() {
        let mesh = Self.cartoonMesh
        let polygon = DenseFaceHull.polygon(mesh: mesh, region: .face)
        var random = SeededRandom(seed: 1)
        for (p, q) in zip(polygon, DenseFaceHull.deformed(polygon, mesh: mesh, jitter: 0, scale: (1, 1), using: &random)) {
            XCTAssertEqual(p.x, q.x, accuracy: 1e-3); XCTAssertEqual(p.y, q.y, accuracy: 1e-3)
        }
        let n = Float(polygon.count)
        let c = Point(x: polygon.reduce(0) { $0 + $1.x } / n, y: polygon.reduce(0) { $0 + $1.y } / n)
        // Along the eye line distances double, across it they halve (axes from the eye-contour centroids).
        func centroid(_ g: [Int]) -> Point { Point(x: g.reduce(0) { $0 + mesh[$1].x } / Float(g.count), y: g.reduce(0) { $0 + mesh[$1].y } / Float(g.count)) }
        let (r, l) = (centroid(FaceMesh.rightEye), centroid(FaceMesh.leftEye))
        let d = hypot(l.x - r.x, l.y - r.y), u = Point(x: (l.x - r.x) / d, y: (l.y - r.y) / d)
        func along(_ p: Point) -> Float { (p.x - c.x) * u.x + (p.y - c.y) * u.y }
        func across(_ p: Point) -> Float { -(p.x - c.x) * u.y + (p.y - c.y) * u.x }
        let stretched = DenseFaceHull.deformed(polygon, mesh: mesh, jitter: 0, scale: (2, 0.5), using: &random)
        for (p, q) in zip(polygon, stretched) {
            XCTAssertEqual(along(q), 2 * along(p), accuracy: 0.01)
            XCTAssertEqual(across(q), 0.5 * across(p), accuracy: 0.01)
        }
        let jittered = DenseFaceHull.deformed(polygon, mesh: mesh, jitter: 0.05, scale: (1, 1), using: &random)
        let bound = 0.05 * (leftEye.x - rightEye.x) * 1.2 + 0.5
        XCTAssertTrue(zip(polygon, jittered).allSatisfy { abs($0.x - $1.x) <= bound && abs($0.y - $1.y) <= bound })
        XCTAssertNotEqual(jittered, polygon)
    }

    func testSelfBlendWithAMeshBlendsInsideTheMeshRegion() {
        let mesh = Self.cartoonMesh
        var image = RGBImage(width: 192, height: 192)
        for i in image.pixels.indices { image.pixels[i] = UInt8((i * 7) % 200 + 20) }
        // Five-point landmarks far from the mesh: if the mask followed them, the mesh's mouth would not be blended.
        let wrongFive = [Point(x: 20, y: 20), Point(x: 40, y: 20), Point(x: 30, y: 30), Point(x: 22, y: 40), Point(x: 38, y: 40)]
        for seed in 0..<4 as Range<UInt64> {
            var random = SeededRandom(seed: seed)
            let mask = SelfBlend(regions: [(.lowerFace, 1)])(image, landmarks: wrongFive, mesh: mesh, using: &random).mask
            XCTAssertGreaterThan(mask.values[150 * 192 + 96], 0.1, "mouth not blended (seed \(seed))")
            XCTAssertLessThan(mask.values[94 * 192 + 72], 0.5 * mask.maximum, "eye blended by a lower-face mask (seed \(seed))")
            XCTAssertLessThan(mask.values[25 * 192 + 30], 1e-3, "the five-point face was used (seed \(seed))")
        }
    }

    func testMeshesAreRejectedWhereThereIsNoFace() throws {
        guard FileManager.default.fileExists(atPath: FaceMesh.defaultWeightsPath) else {
            throw XCTSkip("FaceMesh weights absent at \(FaceMesh.defaultWeightsPath) (run scripts/setup/weights.sh)")
        }
        let grey = RGBImage(width: 256, height: 256, fill: (128, 128, 128))
        let sample = Sample(id: "grey", path: "/none", label: 0, dataset: "test")
        let face = TrainingFace(image: grey, landmarks: FaceCropper().targetPoints, sample: sample)
        let (faces, meshed) = TrainingFace.addingMeshes([face], mesh: try FaceMesh())
        XCTAssertEqual(meshed, 0)
        XCTAssertNil(faces[0].mesh)
    }

    func testRealFacesGetAMeshThatAgreesWithTheirLandmarks() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("../shared/datasets/celeba-real/images").standardized.path
        guard FileManager.default.fileExists(atPath: FaceMesh.defaultWeightsPath), MTCNN.weightsPresent(),
              let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw XCTSkip("needs FaceMesh and MTCNN weights and ../shared/datasets/celeba-real")
        }
        let detector = try MTCNN(), cropper = FaceCropper(size: 256, margin: 1.3, mode: .aligned)
        var faces: [TrainingFace] = []
        for name in names.filter({ $0.hasSuffix(".jpg") }).sorted().prefix(8) {
            let image = try ImageDecoder.decode(path: folder + "/" + name)
            guard let detected = detector.detect(image).max(by: { $0.score < $1.score }) else { continue }
            let crop = cropper.crop(image, face: detected)
            let matrix = cropper.transform(for: detected)
            let points = detected.landmarks.map { p -> Point in
                let q = matrix.apply(x: Double(p.x), y: Double(p.y)); return Point(x: Float(q.x), y: Float(q.y))
            }
            faces.append(TrainingFace(image: crop, landmarks: points, sample: Sample(id: name, path: name, label: 0, dataset: "celeba")))
        }
        XCTAssertGreaterThanOrEqual(faces.count, 6)
        let (meshedFaces, meshed) = TrainingFace.addingMeshes(faces, mesh: try FaceMesh())
        XCTAssertGreaterThanOrEqual(meshed, faces.count - 1, "FaceMesh rejected most CelebA faces")
        for face in meshedFaces {
            guard let mesh = face.mesh else { continue }
            let mouth = Point(x: (face.landmarks[3].x + face.landmarks[4].x) / 2, y: (face.landmarks[3].y + face.landmarks[4].y) / 2)
            XCTAssertTrue(inside(mouth, DenseFaceHull.polygon(mesh: mesh, region: .lowerFace), side: 256), face.sample.id)
            XCTAssertTrue(inside(face.landmarks[0], DenseFaceHull.polygon(mesh: mesh, region: .eyes), side: 256), face.sample.id)
        }
    }
}

extension DenseMaskTests {
    /// A run saved before an option existed resumes with the behaviour it was trained with (the option off).
    func testRecipesWithoutTheNewerOptionsDecodeAsTheyWereTrained() throws {
        var recipe = SelfBlendRecipe()
        (recipe.denseMask, recipe.partialBlends) = (true, true)
        let encoded = try JSONEncoder().encode(recipe)
        XCTAssertEqual(try JSONDecoder().decode(SelfBlendRecipe.self, from: encoded), recipe)
        var object = try JSONSerialization.jsonObject(with: encoded) as! [String: Any]
        for key in ["dense_mask", "partial_blends", "fill_padding", "paired_augmentation"] {
            XCTAssertNotNil(object.removeValue(forKey: key), key)
        }
        let old = try JSONDecoder().decode(SelfBlendRecipe.self, from: JSONSerialization.data(withJSONObject: object))
        XCTAssertFalse(old.denseMask); XCTAssertFalse(old.partialBlends); XCTAssertFalse(old.fillPadding); XCTAssertFalse(old.pairedAugmentation)
    }
}
