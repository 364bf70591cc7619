import XCTest
import Foundation
import ForensightTensor
import ForensightMedia
import ForensightFaces

/// FaceMesh against MediaPipe's original `face_landmark.tflite` run by TFLite (fixture from
/// scripts/reference/make_facemesh_fixtures.py), plus the crop geometry and the landmark groups.
final class FaceMeshTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let size = FaceMesh.inputSize

    struct Reference {
        let name: String, byteSum: Int, byteWeightedSum: Int
        let landmarks: [Float], faceLogit: Float, faceProbability: Float
    }

    static let references: [Reference] = {
        let url = fixtures.appendingPathComponent("facemesh_reference.json")
        let json = try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        return (json["inputs"] as! [[String: Any]]).map { e in
            Reference(name: e["name"] as! String, byteSum: e["byte_sum"] as! Int, byteWeightedSum: e["byte_weighted_sum"] as! Int,
                      landmarks: (e["landmarks"] as! [Double]).map(Float.init), faceLogit: Float(e["face_logit"] as! Double),
                      faceProbability: Float(e["face_probability"] as! Double))
        }
    }()

    static func reference(_ name: String) -> Reference { references.first { $0.name == name }! }

    func mesh() throws -> FaceMesh {
        guard FileManager.default.fileExists(atPath: FaceMesh.defaultWeightsPath) else {
            throw XCTSkip("FaceMesh weights absent at \(FaceMesh.defaultWeightsPath) (run scripts/setup/weights.sh)")
        }
        return try FaceMesh()
    }

    // MARK: fixture inputs, rebuilt exactly as make_facemesh_fixtures.py builds them

    /// The ANSI C LCG: byte i = (s_i >> 16) & 255, s_0 = 12345, s_i = (1103515245 · s_(i−1) + 12345) mod 2³¹.
    static func noiseImage() -> RGBImage {
        var s: UInt64 = 12345
        let bytes = (0..<(size * size * 3)).map { _ -> UInt8 in
            s = (1103515245 * s + 12345) & 0x7FFF_FFFF
            return UInt8((s >> 16) & 255)
        }
        return RGBImage(width: size, height: size, pixels: bytes)
    }

    /// `cartoon_pixel` of the generator: a drawn frontal face, integer arithmetic only.
    static func cartoonPixel(_ x: Int, _ y: Int) -> (Int, Int, Int) {
        func inside(_ cx: Int, _ cy: Int, _ a: Int, _ b: Int) -> Bool {
            let (dx, dy) = (x - cx, y - cy)
            return dx * dx * b * b + dy * dy * a * a <= a * a * b * b
        }
        var (r, g, b) = (40 + x / 4, 60 + y / 4, 90 + (x + y) / 8)
        if inside(36, 108, 8, 16) || inside(156, 108, 8, 16) { (r, g, b) = (210, 160, 130) }
        if inside(96, 104, 60, 78) {
            let shade = ((x - 96) * (x - 96) + (y - 104) * (y - 104)) / 160
            (r, g, b) = (226 - shade, 178 - shade, 146 - shade)
        }
        if inside(96, 60, 66, 40) && y < 52 { (r, g, b) = (60, 40, 30) }
        if inside(72, 80, 14, 3) || inside(120, 80, 14, 3) { (r, g, b) = (70, 50, 40) }
        for ex in [72, 120] where inside(ex, 94, 12, 6) {
            (r, g, b) = (235, 235, 230)
            let d2 = (x - ex) * (x - ex) + (y - 94) * (y - 94)
            if d2 <= 25 { (r, g, b) = (70, 100, 150) }
            if d2 <= 5 { (r, g, b) = (15, 15, 15) }
        }
        if inside(96, 114, 7, 16) { (r, g, b) = (r - 25, g - 25, b - 20) }
        if inside(90, 128, 3, 2) || inside(102, 128, 3, 2) { (r, g, b) = (110, 70, 60) }
        if inside(96, 150, 22, 8) { (r, g, b) = (175, 75, 85) }
        if inside(96, 150, 18, 2) { (r, g, b) = (95, 35, 45) }
        let n = (x * 37 + y * 91 + (x * y) % 13) % 7
        return (min(r + n, 255), min(g + n, 255), min(b + n, 255))
    }

    static func cartoonImage() -> RGBImage {
        var bytes: [UInt8] = []
        for y in 0..<size { for x in 0..<size { let (r, g, b) = cartoonPixel(x, y); bytes += [UInt8(r), UInt8(g), UInt8(b)] } }
        return RGBImage(width: size, height: size, pixels: bytes)
    }

    static func image(_ name: String) -> RGBImage { name == "noise" ? noiseImage() : cartoonImage() }

    /// (max |Δ| over the 1404 landmark values, |Δ logit|) of `result` against `ref`.
    static func errors(_ landmarks: [Landmark3D], logit: Float, _ ref: Reference) -> (Float, Float) {
        var worst: Float = 0
        for (i, l) in landmarks.enumerated() {
            worst = max(worst, abs(l.x - ref.landmarks[3 * i]), abs(l.y - ref.landmarks[3 * i + 1]), abs(l.z - ref.landmarks[3 * i + 2]))
        }
        return (worst, abs(logit - ref.faceLogit))
    }

    // MARK: (i) the network against TFLite

    func testFixtureInputsRebuildExactly() {
        for ref in Self.references {
            let px = Self.image(ref.name).pixels
            XCTAssertEqual(px.reduce(0) { $0 + Int($1) }, ref.byteSum, ref.name)
            XCTAssertEqual(px.enumerated().reduce(0) { $0 + $1.offset * Int($1.element) }, ref.byteWeightedSum, ref.name)
        }
    }

    func testNetworkMatchesTFLiteReference() throws {
        let mesh = try mesh()
        XCTAssertEqual(Self.references.map(\.name), ["noise", "cartoon"])
        for ref in Self.references {
            let (landmarks, logit) = mesh.cropLandmarks(Self.image(ref.name))
            let (dl, dz) = Self.errors(landmarks, logit: logit, ref)
            // Measured: 1.4e-4 px and 4e-6 (TFLite's own XNNPACK kernels differ from its reference ones by 7.6e-5 px).
            XCTAssertLessThanOrEqual(dl, 1e-3, "\(ref.name): max landmark error \(dl) px (192-px crop)")
            XCTAssertLessThanOrEqual(dz, 1e-4, "\(ref.name): face logit error \(dz)")
        }
        // The cartoon is a face (logit ≈ 23), the noise is not (≈ −12).
        let face = mesh.landmarks(in: Self.cartoonImage(), region: FaceMeshRegion(center: Point(x: 96, y: 96), side: 192))
        XCTAssertEqual(face.presence, Self.reference("cartoon").faceProbability, accuracy: 1e-6)
        XCTAssertGreaterThan(face.presence, 0.5)
        XCTAssertLessThan(mesh.landmarks(in: Self.noiseImage(), region: FaceMeshRegion(center: Point(x: 96, y: 96), side: 192)).presence, 0.5)
    }

    // MARK: (ii) crop and back-mapping

    /// The cartoon pasted into a larger frame, optionally enlarged `k` times (nearest) or turned 90° clockwise.
    static func frame(offset: (Int, Int), enlarge k: Int = 1, turned: Bool = false) -> RGBImage {
        let cartoon = cartoonImage()
        var out = RGBImage(width: 2 * size * k + 37, height: 2 * size * k + 11, fill: (20, 90, 160))
        for y in 0..<(size * k) {
            for x in 0..<(size * k) {
                let (sx, sy) = turned ? (y / k, size - 1 - x / k) : (x / k, y / k)
                let (dst, src) = (3 * ((y + offset.1) * out.width + x + offset.0), 3 * (sy * size + sx))
                for c in 0..<3 { out.pixels[dst + c] = cartoon.pixels[src + c] }
            }
        }
        return out
    }

    /// (frame, window, where crop point (u, v, z) must land in the frame) for the three geometry cases.
    static var geometryCases: [(String, RGBImage, FaceMeshRegion, (Float, Float, Float) -> Landmark3D)] {
        let (ox, oy): (Float, Float) = (41, 29)
        return [
            // A 128-px box: 1.5 × 128 = 192, so the crop is the pasted cartoon, shifted.
            ("shifted", frame(offset: (41, 29)), FaceMeshRegion(box: FaceBox(x1: 73, y1: 61, x2: 201, y2: 189)),
             { u, v, z in Landmark3D(x: u + ox, y: v + oy, z: z) }),
            // Enlarged 2×: sampling every second pixel of the 384-px window gives the cartoon back.
            ("scaled", frame(offset: (41, 29), enlarge: 2), FaceMeshRegion(center: Point(x: 41 + 192, y: 29 + 192), side: 384),
             { u, v, z in Landmark3D(x: 2 * u + ox, y: 2 * v + oy, z: 2 * z) }),
            // Turned 90° clockwise: the eye line points down (rotation π/2); frame (x, y) = (c.x − (v − 96), c.y + (u − 96)).
            ("turned", frame(offset: (41, 29), turned: true),
             FaceMeshRegion(box: FaceBox(x1: 95 + ox - 64, y1: 96 + oy - 64, x2: 95 + ox + 64, y2: 96 + oy + 64),
                            eyes: (left: Point(x: 100, y: 50), right: Point(x: 100, y: 90))),
             { u, v, z in Landmark3D(x: 95 + ox - (v - 96), y: 96 + oy + (u - 96), z: z) }),
        ]
    }

    func testCropsReproduceTheCartoonExactly() {
        let cartoon = Self.cartoonImage()
        for (name, image, region, _) in Self.geometryCases {
            XCTAssertEqual(region.crop(image), cartoon, name)
        }
    }

    func testRegionTransforms() {
        let box = FaceBox(x1: 100, y1: 50, x2: 180, y2: 150)            // 80 × 100
        let eyes = (left: Point(x: 120, y: 90), right: Point(x: 160, y: 110))
        let region = FaceMeshRegion(box: box, eyes: eyes)
        XCTAssertEqual(region.side, 150)
        XCTAssertEqual(region.center, Point(x: 140, y: 100))
        XCTAssertEqual(region.rotation, atan2(20, 40), accuracy: 1e-7)
        XCTAssertEqual(FaceMeshRegion(face: DetectedFace(box: box, score: 1, landmarks: [eyes.left, eyes.right, eyes.left, eyes.left,
                                                                                         eyes.right])), region)
        let toCrop = region.frameToCrop()
        let c = toCrop.apply(x: 140, y: 100)
        XCTAssertEqual(c.x, 96, accuracy: 1e-9); XCTAssertEqual(c.y, 96, accuracy: 1e-9)
        let (l, r) = (toCrop.apply(x: 120, y: 90), toCrop.apply(x: 160, y: 110))
        XCTAssertEqual(l.y, r.y, accuracy: 1e-5, "eyes level in the crop (the angle is a Float)")
        XCTAssertEqual(r.x - l.x, 20 * 5.squareRoot() * 192 / 150, accuracy: 1e-9, "eye distance scaled by 192 / side")
        let back = region.toFrame([Landmark3D(x: Float(l.x), y: Float(l.y), z: 192), Landmark3D(x: 96, y: 96, z: 0)])
        XCTAssertEqual(back[0].x, 120, accuracy: 1e-4); XCTAssertEqual(back[0].y, 90, accuracy: 1e-4)
        XCTAssertEqual(back[0].z, 150, accuracy: 1e-4, "z takes the same scale as x and y")
        XCTAssertEqual(back[1].x, 140, accuracy: 1e-4); XCTAssertEqual(back[1].y, 100, accuracy: 1e-4); XCTAssertEqual(back[1].z, 0)
        for (_, _, region, expected) in Self.geometryCases {
            for (u, v, z) in [(0, 0, 1), (191, 7, -3), (96, 96, 0), (13.5, 170.25, 10)] as [(Float, Float, Float)] {
                let got = region.toFrame([Landmark3D(x: u, y: v, z: z)])[0], want = expected(u, v, z)
                XCTAssertEqual(got.x, want.x, accuracy: 1e-4); XCTAssertEqual(got.y, want.y, accuracy: 1e-4)
                XCTAssertEqual(got.z, want.z, accuracy: 1e-4)
            }
        }
    }

    func testLandmarksFollowShiftScaleAndRotation() throws {
        let mesh = try mesh()
        let ref = Self.reference("cartoon")
        for (name, image, region, expected) in Self.geometryCases {
            let result = mesh.landmarks(in: image, region: region)
            let want = (0..<FaceMesh.landmarkCount).map { expected(ref.landmarks[3 * $0], ref.landmarks[3 * $0 + 1], ref.landmarks[3 * $0 + 2]) }
            let scale = name == "scaled" ? Float(2) : 1
            let wantRef = Reference(name: name, byteSum: 0, byteWeightedSum: 0, landmarks: want.flatMap { [$0.x, $0.y, $0.z] },
                                    faceLogit: ref.faceLogit, faceProbability: ref.faceProbability)
            let (dl, dz) = Self.errors(result.landmarks, logit: result.presenceLogit, wantRef)
            XCTAssertLessThanOrEqual(dl, 1e-3 * scale, "\(name): max landmark error \(dl) px")
            XCTAssertLessThanOrEqual(dz, 1e-4, name)
            XCTAssertEqual(result.region, region)
        }
    }

    // MARK: (iii) errors

    func testMissingWeightsFileIsNamed() {
        let path = "/nonexistent-forensight/weights/face_landmark.safetensors"
        XCTAssertThrowsError(try FaceMesh(weightsPath: path)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(path), message)
            XCTAssertTrue(message.contains("bash scripts/setup/weights.sh"), message)
            XCTAssertFalse(message.contains("\n"), message)
        }
    }

    func testWrongWeightsFileIsRejected() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("facemesh-wrong-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Safetensors.write(["conv2d.weight": Tensor.zeros([16, 3, 5, 5])], to: path)
        XCTAssertThrowsError(try FaceMesh(weightsPath: path)) { error in
            XCTAssertTrue("\(error)".contains("conv2d.weight"), "\(error)")
            XCTAssertFalse("\(error)".contains("\n"), "\(error)")
        }
    }

    // MARK: landmark groups, on the reference mesh of the cartoon (no weights needed)

    func testLandmarkGroupsSitOnTheRightFeatures() {
        let ref = Self.reference("cartoon")
        let points = (0..<FaceMesh.landmarkCount).map { Point(x: ref.landmarks[3 * $0], y: ref.landmarks[3 * $0 + 1]) }
        func centroid(_ indices: [Int]) -> Point {
            Point(x: indices.map { points[$0].x }.reduce(0, +) / Float(indices.count), y: indices.map { points[$0].y }.reduce(0, +) / Float(indices.count))
        }
        func near(_ p: Point, _ x: Float, _ y: Float, _ tolerance: Float, _ what: String) {
            XCTAssertLessThanOrEqual(hypot(p.x - x, p.y - y), tolerance, "\(what) at \(p)")
        }
        let groups = [("lipsOuter", FaceMesh.lipsOuter, 20), ("lipsInner", FaceMesh.lipsInner, 20), ("rightEye", FaceMesh.rightEye, 16),
                      ("leftEye", FaceMesh.leftEye, 16), ("faceOval", FaceMesh.faceOval, 36)]
        for (name, g, count) in groups {
            XCTAssertEqual(g.count, count, name)
            XCTAssertEqual(Set(g).count, g.count, "\(name) repeats an index")
            XCTAssertTrue(g.allSatisfy { (0..<FaceMesh.landmarkCount).contains($0) }, name)
        }
        // The cartoon's eyes are drawn at (72, 94) and (120, 94), its mouth at (96, 150); the person's right eye is the
        // one on the image's left.
        near(centroid(FaceMesh.rightEye), 72, 94, 4, "right eye")
        near(centroid(FaceMesh.leftEye), 120, 94, 4, "left eye")
        near(centroid(FaceMesh.lipsInner), 96, 150, 4, "mouth opening")
        near(centroid(FaceMesh.lipsOuter), 96, 150, 4, "lips")
        func bounds(_ g: [Int]) -> (Float, Float, Float, Float) {
            (g.map { points[$0].x }.min()!, g.map { points[$0].y }.min()!, g.map { points[$0].x }.max()!, g.map { points[$0].y }.max()!)
        }
        let (inner, outer, oval) = (bounds(FaceMesh.lipsInner), bounds(FaceMesh.lipsOuter), bounds(FaceMesh.faceOval))
        XCTAssertTrue(outer.0 < inner.0 && outer.1 < inner.1 && outer.2 > inner.2 && outer.3 > inner.3, "outer lips enclose the inner")
        for g in [FaceMesh.lipsOuter, FaceMesh.rightEye, FaceMesh.leftEye] {
            let b = bounds(g)
            XCTAssertTrue(oval.0 < b.0 && oval.1 < b.1 && oval.2 > b.2 && oval.3 > b.3, "the oval encloses \(g)")
        }
        // Each polygon is a simple loop in order: a positive (clockwise on screen, y down) shoelace area for the oval.
        let o = FaceMesh.faceOval.map { points[$0] }
        let area = zip(o, o.dropFirst() + [o[0]]).reduce(Float(0)) { $0 + $1.0.x * $1.1.y - $1.1.x * $1.0.y } / 2
        XCTAssertGreaterThan(area, 0.5 * (oval.2 - oval.0) * (oval.3 - oval.1))
    }
}
