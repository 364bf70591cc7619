import Foundation
import ForensightMedia
import ForensightFaces
import ForensightData

/// One face crop in memory for training or validation, with its five landmarks in crop pixels and, once
/// `addingMeshes` has run, its 468 FaceMesh landmarks (the dense blending mask).
public struct TrainingFace: Sendable {
    public var image: RGBImage
    public var landmarks: [Point]
    public var sample: Sample
    /// FaceMesh's 468 points in crop pixels; nil before `addingMeshes`, or when the mesh was rejected there.
    public var mesh: [Point]?

    public init(image: RGBImage, landmarks: [Point], sample: Sample, mesh: [Point]? = nil) {
        (self.image, self.landmarks, self.sample, self.mesh) = (image, landmarks, sample, mesh)
    }

    /// Loads the crops a face-frame manifest lists (written by `prepare`); records without landmarks are an error
    /// naming the cache, since self-blending needs them.
    public static func load(_ manifest: Manifest, progress: (Int) -> Void = { _ in }) throws -> [TrainingFace] {
        var faces: [TrainingFace] = []
        faces.reserveCapacity(manifest.count)
        for (i, s) in manifest.enumerated() {
            guard let values = s.landmarks, values.count == 10 else {
                throw TrainingError("\(s.path): no landmarks in the face cache record; it was written by an older forensight — delete the cache folder and run again")
            }
            let image = try ImageDecoder.decode(path: s.path)
            faces.append(TrainingFace(image: image, landmarks: (0..<5).map { Point(x: values[2 * $0], y: values[2 * $0 + 1]) }, sample: s))
            progress(i + 1)
        }
        return faces
    }
}

extension TrainingFace {
    /// The face with the black padding around its content replaced by replicated edge pixels; the face keeps its
    /// place and scale, so the landmarks are unchanged.
    ///
    /// Alignment pads a crop with black where the source image ends. For photos that are themselves tight face
    /// chips (UTKFace) that border surrounds every face, and a self-blend moves or recolours it, so it would teach
    /// the detector a cue no video frame has. The content rectangle is found by moving in whichever side of the
    /// crop still has more than 5 % near-black pixels (sum of channels ≤ 6) until none does; a face without such a
    /// border is returned as it is.
    public func fillingPadding() -> TrainingFace {
        let (w, h) = (image.width, image.height)
        guard w > 8, h > 8 else { return self }
        let pixels = image.pixels
        func isPad(_ x: Int, _ y: Int) -> Bool {
            let i = 3 * (y * w + x)
            return Int(pixels[i]) + Int(pixels[i + 1]) + Int(pixels[i + 2]) <= 6
        }
        var (x0, y0, x1, y1) = (0, 0, w - 1, h - 1)
        while x1 - x0 > w / 4, y1 - y0 > h / 4 {
            let fractions = [
                Double((x0...x1).filter { isPad($0, y0) }.count) / Double(x1 - x0 + 1),
                Double((x0...x1).filter { isPad($0, y1) }.count) / Double(x1 - x0 + 1),
                Double((y0...y1).filter { isPad(x0, $0) }.count) / Double(y1 - y0 + 1),
                Double((y0...y1).filter { isPad(x1, $0) }.count) / Double(y1 - y0 + 1),
            ]
            let worst = fractions.indices.max { fractions[$0] < fractions[$1] }!
            if fractions[worst] <= 0.05 { break }
            switch worst {
            case 0: y0 += 1
            case 1: y1 -= 1
            case 2: x0 += 1
            default: x1 -= 1
            }
        }
        guard (x0, y0, x1, y1) != (0, 0, w - 1, h - 1) else { return self }
        // One more pixel in from each side drops the interpolated dark rim at the padding's edge.
        (x0, y0, x1, y1) = (min(x0 + 1, x1), min(y0 + 1, y1), max(x1 - 1, x0), max(y1 - 1, y0))
        let content = ImageGeometry.crop(image, x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1)
        let shift = AffineMatrix(a: 1, b: 0, c: Double(x0), d: 0, e: 1, f: Double(y0))
        let filled = ImageGeometry.warpAffine(content, matrix: shift, outputSize: (w, h), border: .replicate)
        return TrainingFace(image: filled, landmarks: landmarks, sample: sample, mesh: mesh)
    }
}

extension TrainingFace {
    /// The faces with their FaceMesh landmarks, accepted by `LandmarkRefiner.acceptedMesh` (FaceMesh sure of a face,
    /// its eye centres within a quarter of the interocular distance of the five-point eyes). The cache's aligned crops
    /// hold the face in the middle 1/1.3 of their side; that square is the detection box FaceMesh's window (1.5 × the
    /// box, levelled by the eyes) is built from. A face whose mesh is refused keeps `mesh == nil`, and its self-blends
    /// use the five-point outline. Returns the faces and how many were given a mesh.
    public static func addingMeshes(_ faces: [TrainingFace], mesh: FaceMesh, progress: (Int) -> Void = { _ in }) -> (faces: [TrainingFace], meshed: Int) {
        let refiner = LandmarkRefiner(mesh: mesh)
        var out = faces, meshed = 0
        for i in faces.indices {
            let (w, h) = (Float(faces[i].image.width), Float(faces[i].image.height))
            let box = FaceBox(x1: w * (0.5 - 0.5 / 1.3), y1: h * (0.5 - 0.5 / 1.3), x2: w * (0.5 + 0.5 / 1.3), y2: h * (0.5 + 0.5 / 1.3))
            if w >= 16, h >= 16,
               let result = refiner.acceptedMesh(of: DetectedFace(box: box, score: 1, landmarks: faces[i].landmarks), in: faces[i].image) {
                out[i].mesh = result.landmarks.map(\.point)
                meshed += 1
            }
            progress(i + 1)
        }
        return (out, meshed)
    }

    /// The face without its mesh (its self-blends use the five-point outline).
    public var withoutMesh: TrainingFace { var face = self; face.mesh = nil; return face }
}

/// An error that stops training, with a message for the user.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

