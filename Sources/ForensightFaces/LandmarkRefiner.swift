import Foundation
import ForensightMedia

/// Replaces MTCNN's five landmarks with five points read off FaceMesh's dense mesh, so that aligned crops stay put
/// when a photo is resized, re-encoded or mirrored.
///
/// MTCNN regresses its landmarks from a 48×48 view of the face, so they move by a few per cent of the face when the
/// image is rescaled or its pixels change slightly, and an aligned crop moves with them. FaceMesh looks at a 192×192
/// window and places its points far more precisely. The five points are the centroids of the two eye contours, the
/// nose tip (mesh point 1) and the two mouth corners (61, 291), in MTCNN's order: image-left eye, image-right eye,
/// nose, image-left and image-right mouth corner (for an unmirrored face the person's right eye is image-left).
///
/// A mesh is used only when FaceMesh is sure of a face (presence > `minimumPresence`) and its eye centres lie within
/// `maximumEyeShift` interocular distances of MTCNN's; otherwise the detection keeps its own landmarks.
public struct LandmarkRefiner: @unchecked Sendable {
    public let mesh: FaceMesh
    public var minimumPresence: Float = 0.5
    public var maximumEyeShift: Float = 0.25

    public init(mesh: FaceMesh) { self.mesh = mesh }

    /// Loads FaceMesh from the weight cache (`FaceMesh.defaultWeightsPath`).
    public init() throws { mesh = try FaceMesh() }

    /// Five MTCNN-ordered points from a 468-point mesh (frame pixels).
    public static func fivePoints(_ landmarks: [Landmark3D]) -> [Point] {
        precondition(landmarks.count == FaceMesh.landmarkCount, "five points need the 468 FaceMesh landmarks")
        func centroid(_ indices: [Int]) -> Point { FaceMesh.centroid(indices, of: landmarks) }
        var points = [centroid(FaceMesh.rightEye), centroid(FaceMesh.leftEye), landmarks[1].point, landmarks[61].point, landmarks[291].point]
        // A mirrored face has the person's right eye on the image's right: keep MTCNN's image-left-first order.
        if points[0].x > points[1].x { points.swapAt(0, 1); points.swapAt(3, 4) }
        return points
    }

    /// `face` with FaceMesh's five points, or unchanged when the mesh is rejected (see the type's documentation).
    public func refine(_ face: DetectedFace, in image: RGBImage) -> DetectedFace {
        guard let result = acceptedMesh(of: face, in: image) else { return face }
        var refined = face
        refined.landmarks = Self.fivePoints(result.landmarks)
        return refined
    }

    /// FaceMesh on `face` (its window levelled by the eye landmarks), or nil when FaceMesh is unsure of a face or its
    /// eye centres lie more than `maximumEyeShift` interocular distances from the detection's. Training's dense masks
    /// and test-time alignment accept meshes by this one rule.
    public func acceptedMesh(of face: DetectedFace, in image: RGBImage) -> FaceMeshResult? {
        guard face.landmarks.count == 5 else { return nil }
        let result = mesh.landmarks(in: image, face: face)
        guard result.presence > minimumPresence else { return nil }
        let points = Self.fivePoints(result.landmarks)
        let (le, re) = (face.landmarks[0], face.landmarks[1])
        let d = max(hypot(re.x - le.x, re.y - le.y), 1)
        guard hypot(points[0].x - le.x, points[0].y - le.y) < maximumEyeShift * d,
              hypot(points[1].x - re.x, points[1].y - re.y) < maximumEyeShift * d else { return nil }
        return result
    }
}
