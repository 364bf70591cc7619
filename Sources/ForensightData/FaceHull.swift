import Foundation
import ForensightFaces

/// The outline of a face (eyebrows, temples, jaw, chin) derived from MTCNN's five landmarks.
///
/// Self-blended images need a face-shaped region; the original method takes the convex hull of dlib's 68 landmarks.
/// Forensight derives the outline from the five points it already has: the eyes fix a horizontal axis and a unit
/// (the interocular distance d), the eye-to-mouth distance h fixes the vertical unit, and a fixed polygon in those
/// units (`outline`, measured on frontal faces: eyebrows 0.45 h above the eyes, jaw corners 1.1 d from the eye
/// midpoint, chin 1.48 h below the eyes) is placed on the face. The nose's sideways offset from the eye midpoint
/// narrows the side the face turns away from, so three-quarter views get a narrower far cheek. See docs/SBI.md.
public enum FaceHull {
    /// Outline vertices in face units: x in interocular distances from the eye midpoint (positive towards the
    /// image-right eye), y in eye-to-mouth distances (positive towards the mouth). Clockwise from the chin.
    public static let outline: [(x: Float, y: Float)] = {
        let rightHalf: [(Float, Float)] = [(0.30, 1.43), (0.60, 1.28), (0.85, 1.02), (1.00, 0.70), (1.08, 0.35),
                                           (1.10, 0.00), (1.00, -0.30), (0.70, -0.45), (0.30, -0.47)]
        let leftHalf = rightHalf.reversed().map { (-$0.0, $0.1) }
        return [(0, 1.48)] + rightHalf.map { ($0.0, $0.1) } + [(0, -0.47)] + leftHalf
    }()

    /// The outline polygon for five landmarks (left eye, right eye, nose, left and right mouth corner) in pixels.
    ///
    /// - Parameters:
    ///   - region: which part of the face (`FaceRegion`); the whole outline by default.
    ///   - jitter: per-vertex random displacement in interocular distances (0 = the fixed shape).
    ///   - scale: horizontal and vertical stretch of the whole outline around the eye-mouth centre.
    ///   - random: the source of the jitter.
    public static func polygon<R: RandomNumberGenerator>(landmarks: [Point], region: FaceRegion = .face, jitter: Float = 0, scale: (x: Float, y: Float) = (1, 1),
                                                          using random: inout R) -> [Point] {
        precondition(landmarks.count == 5, "a face hull needs the five MTCNN landmarks")
        let (le, re, nose) = (landmarks[0], landmarks[1], landmarks[2])
        let mouth = Point(x: (landmarks[3].x + landmarks[4].x) / 2, y: (landmarks[3].y + landmarks[4].y) / 2)
        let eyes = Point(x: (le.x + re.x) / 2, y: (le.y + re.y) / 2)
        let d = max(hypot(re.x - le.x, re.y - le.y), 1e-3)
        let u = Point(x: (re.x - le.x) / d, y: (re.y - le.y) / d)
        let v = Point(x: -u.y, y: u.x)                                   // towards the mouth for an upright face
        let h = max((mouth.x - eyes.x) * v.x + (mouth.y - eyes.y) * v.y, 0.3 * d)
        let turn = max(-0.6, min(0.6, ((nose.x - eyes.x) * u.x + (nose.y - eyes.y) * u.y) / d))
        return region.vertices.map { vertex in
            var x = vertex.x * (vertex.x > 0 ? 1 - 1.2 * turn : 1 + 1.2 * turn) + 0.5 * turn
            var y = vertex.y
            x = x * scale.x
            y = 0.5 + (y - 0.5) * scale.y
            if jitter > 0 {
                x += jitter * (Float.random(in: -1...1, using: &random))
                y += jitter * d / h * (Float.random(in: -1...1, using: &random))
            }
            return Point(x: eyes.x + x * d * u.x + y * h * v.x, y: eyes.y + x * d * u.y + y * h * v.y)
        }
    }

    /// The fixed outline (no randomness).
    public static func polygon(landmarks: [Point]) -> [Point] {
        var none = SystemRandomNumberGenerator()
        return polygon(landmarks: landmarks, using: &none)
    }
}

/// A part of the face that a self-blend can be confined to, as a polygon in `FaceHull`'s face units.
///
/// Whole-face swaps replace `face`; lip-sync tools repaint only the `lowerFace` (mouth, chin, lower cheeks);
/// expression and attribute edits often touch the `eyes` (eyes and brows). Blending inside the smaller regions
/// teaches the detector seams that do not run along the face outline.
public enum FaceRegion: String, Sendable, Codable, CaseIterable {
    case face, lowerFace = "lower-face", eyes

    /// The polygon in face units (x in interocular distances, y in eye-to-mouth distances from the eye midpoint).
    public var vertices: [(x: Float, y: Float)] {
        switch self {
        case .face: return FaceHull.outline
        case .lowerFace:
            // From just under the nose to the chin, cheek to cheek (the area lip-sync generators repaint).
            return [(0, 1.42), (0.30, 1.36), (0.60, 1.20), (0.78, 0.95), (0.82, 0.62), (0.58, 0.45), (0, 0.40),
                    (-0.58, 0.45), (-0.82, 0.62), (-0.78, 0.95), (-0.60, 1.20), (-0.30, 1.36)]
        case .eyes:
            // Brows to the lower eyelids, temple to temple.
            return [(-0.95, -0.47), (0, -0.50), (0.95, -0.47), (1.02, -0.05), (0.85, 0.25), (0.30, 0.25), (0, 0.18),
                    (-0.30, 0.25), (-0.85, 0.25), (-1.02, -0.05)]
        }
    }
}

/// A single-channel float image (masks and their blurs), row-major.
public struct FloatPlane: Sendable, Equatable {
    public let width: Int, height: Int
    public var values: [Float]

    public init(width: Int, height: Int, value: Float = 0) {
        (self.width, self.height, values) = (width, height, [Float](repeating: value, count: width * height))
    }

    /// 1 inside `polygon` and 0 outside, sampled at pixel centres (even-odd rule).
    public static func filled(_ polygon: [Point], width: Int, height: Int) -> FloatPlane {
        var plane = FloatPlane(width: width, height: height)
        guard polygon.count >= 3 else { return plane }
        var crossings: [Float] = []
        for y in 0..<height {
            let py = Float(y) + 0.5
            crossings.removeAll(keepingCapacity: true)
            for i in polygon.indices {
                let a = polygon[i], b = polygon[(i + 1) % polygon.count]
                if (a.y <= py) != (b.y <= py) { crossings.append(a.x + (py - a.y) / (b.y - a.y) * (b.x - a.x)) }
            }
            crossings.sort()
            var k = 0
            while k + 1 < crossings.count {
                let from = max(0, Int((crossings[k] - 0.5).rounded(.up))), to = min(width - 1, Int((crossings[k + 1] - 0.5).rounded(.down)))
                if from <= to { for x in from...to { plane.values[y * width + x] = 1 } }
                k += 2
            }
        }
        return plane
    }

    /// Separable Gaussian blur with kernel radius ⌈3σ⌉, edges clamped.
    public func blurred(sigma: Float) -> FloatPlane {
        guard sigma > 0 else { return self }
        let r = Int((3 * sigma).rounded(.up))
        var kernel = (-r...r).map { Foundation.exp(-Float($0 * $0) / (2 * sigma * sigma)) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        var tmp = FloatPlane(width: width, height: height), out = FloatPlane(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                var s: Float = 0
                for k in -r...r { s += kernel[k + r] * values[y * width + min(max(x + k, 0), width - 1)] }
                tmp.values[y * width + x] = s
            }
        }
        for y in 0..<height {
            for x in 0..<width {
                var s: Float = 0
                for k in -r...r { s += kernel[k + r] * tmp.values[min(max(y + k, 0), height - 1) * width + x] }
                out.values[y * width + x] = s
            }
        }
        return out
    }

    /// Largest value.
    public var maximum: Float { values.max() ?? 0 }
}
