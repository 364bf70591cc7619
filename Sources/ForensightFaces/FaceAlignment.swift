import Foundation
import ForensightMedia

/// How a face crop is cut from the frame.
public enum CropMode: String, Sendable, CaseIterable, Codable {
    /// Rotated, scaled and shifted so the five landmarks land on a canonical template (5-point similarity).
    case aligned
    /// An axis-aligned square around the detection box (no rotation).
    case box
}

/// Cuts face crops of a fixed size with a margin around the face (DeepfakeBench: 1.3×, 256 px).
public struct FaceCropper: Sendable, Equatable {
    public var size: Int
    /// Crop side / face side: 1.3 keeps 15 % of context on every side.
    public var margin: Float
    public var mode: CropMode

    public init(size: Int = 256, margin: Float = 1.3, mode: CropMode = .aligned) {
        precondition(size > 0 && margin > 0, "crop size and margin must be positive")
        (self.size, self.margin, self.mode) = (size, margin, mode)
    }

    /// The canonical positions of the five landmarks inside a unit face square: the widely used 112×112 ArcFace
    /// template (left eye, right eye, nose, left and right mouth corner) divided by 112.
    public static let template: [Point] = [(38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366),
                                           (41.5493, 92.3655), (70.7299, 92.2041)].map { Point(x: $0.0 / 112, y: $0.1 / 112) }

    /// Where the template's points go in the crop: the unit face square, shrunk by `margin`, centred.
    public var targetPoints: [Point] {
        Self.template.map { p in
            Point(x: ((p.x - 0.5) / margin + 0.5) * Float(size), y: ((p.y - 0.5) / margin + 0.5) * Float(size))
        }
    }

    /// The frame → crop map for `face`.
    public func transform(for face: DetectedFace) -> AffineMatrix {
        switch mode {
        case .aligned where face.landmarks.count == 5:
            return similarityTransform(from: face.landmarks, to: targetPoints)
        default:
            let (cx, cy) = face.box.center
            let side = Double(Swift.max(face.box.width, face.box.height) * margin)
            let s = Double(size) / Swift.max(side, 1e-6)
            return AffineMatrix(a: s, b: 0, c: Double(size) / 2 - s * Double(cx), d: 0, e: s, f: Double(size) / 2 - s * Double(cy))
        }
    }

    /// The crop of `face` from `image` (bilinear; outside the frame is black).
    public func crop(_ image: RGBImage, face: DetectedFace) -> RGBImage {
        ImageGeometry.warpAffine(image, matrix: transform(for: face), outputSize: (size, size), border: .black)
    }
}

/// The least-squares similarity (uniform scale, rotation, translation; no reflection) taking `source` points onto
/// `target` points: minimises Σ‖s·R·pᵢ + t − qᵢ‖² in closed form on centred coordinates.
public func similarityTransform(from source: [Point], to target: [Point]) -> AffineMatrix {
    precondition(source.count == target.count && source.count >= 2, "need two or more point pairs")
    let n = Double(source.count)
    let (mx, my) = (source.reduce(0.0) { $0 + Double($1.x) } / n, source.reduce(0.0) { $0 + Double($1.y) } / n)
    let (ux, uy) = (target.reduce(0.0) { $0 + Double($1.x) } / n, target.reduce(0.0) { $0 + Double($1.y) } / n)
    var dot = 0.0, cross = 0.0, norm = 0.0
    for (p, q) in zip(source, target) {
        let (x, y) = (Double(p.x) - mx, Double(p.y) - my), (u, v) = (Double(q.x) - ux, Double(q.y) - uy)
        dot += x * u + y * v
        cross += x * v - y * u
        norm += x * x + y * y
    }
    guard norm > 0 else { return AffineMatrix(a: 1, b: 0, c: ux - mx, d: 0, e: 1, f: uy - my) }
    let (a, b) = (dot / norm, cross / norm)   // a = s·cos θ, b = s·sin θ
    return AffineMatrix(a: a, b: -b, c: ux - (a * mx - b * my), d: b, e: a, f: uy - (b * mx + a * my))
}
