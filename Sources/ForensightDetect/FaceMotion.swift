import Foundation
import ForensightMedia
import ForensightFaces

/// One window of a tracked face's motion with head pose taken out: every frame's mesh mapped by the similarity
/// (scale, in-plane rotation, shift) that puts its rigid points (eyes, nose bridge) where the window's first frame
/// has them, in units of that frame's interocular distance, eye line level, eye midpoint at the origin.
///
/// The lower face (`lower`: outer lips, inner lips, jaw line) is what a lip-sync model repaints; the upper face
/// (`upper`: brows, nose tip, cheeks) and the head pose (`head`) are the rest of the person, whose motion a repainted
/// mouth no longer follows. The lip-sync simulations (`LipSyncSimulation`) edit `lower` only.
public struct FaceMotion: Sendable, Equatable {
    /// Frames per second (derivatives are per second, so clips at different rates compare).
    public var fps: Double
    /// Per frame: the `FaceMotion.lowerIndices` points as x, y pairs (2 × 57 values).
    public var lower: [[Float]]
    /// Per frame: the `FaceMotion.upperIndices` points as x, y pairs.
    public var upper: [[Float]]
    /// Per frame: log scale, rotation (radians) and shift (x, y, in first-frame interocular units) of the head against
    /// the first frame.
    public var head: [[Float]]
    /// Per frame: the grey mouth and reference patches (`MouthPatches`, 0…255), or empty when none were cut.
    public var mouth: [[Float]], reference: [[Float]]

    public init(fps: Double, lower: [[Float]], upper: [[Float]], head: [[Float]], mouth: [[Float]] = [], reference: [[Float]] = []) {
        (self.fps, self.lower, self.upper, self.head, self.mouth, self.reference) = (fps, lower, upper, head, mouth, reference)
    }

    /// Frames in the window.
    public var count: Int { lower.count }

    /// Jaw line from the right jaw angle under the ear, round the chin (152), to the left one (MediaPipe face oval).
    public static let jaw = [132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361]
    /// Outer lips (20), inner lips (20), jaw (17).
    public static let lowerIndices = FaceMesh.lipsOuter + FaceMesh.lipsInner + jaw
    /// Brows (right then left, 5 each), nose tip, and a point on each cheek.
    public static let upperIndices = [70, 63, 105, 66, 107, 336, 296, 334, 293, 300, 1, 205, 425]
    /// Points assumed rigid with the skull: nose bridge and eye corners (the eye centroids are added).
    static let rigidIndices = [168, 6, 197, 33, 133, 362, 263]

    /// Position of mesh point `index` among `lowerIndices`.
    public static func lowerPosition(_ index: Int) -> Int { lowerIndices.firstIndex(of: index)! }

    /// The motion of consecutive meshes (468 points each, frame pixels), with each frame's patches when given (as many
    /// as meshes, else none are kept); nil for fewer than two frames or a degenerate first frame.
    public init?(meshes: [[Landmark3D]], fps: Double, mouthPatches: [[UInt8]] = [], referencePatches: [[UInt8]] = []) {
        guard meshes.count >= 2, meshes.allSatisfy({ $0.count == FaceMesh.landmarkCount }) else { return nil }
        func rigid(_ m: [Landmark3D]) -> [Point] {
            return [FaceMesh.centroid(FaceMesh.rightEye, of: m), FaceMesh.centroid(FaceMesh.leftEye, of: m)] + Self.rigidIndices.map { m[$0].point }
        }
        let first = rigid(meshes[0])
        let (a, b) = first[0].x <= first[1].x ? (first[0], first[1]) : (first[1], first[0])
        guard hypot(b.x - a.x, b.y - a.y) > 1e-3 else { return nil }
        // The template: the first frame's rigid points with its eyes at (−0.5, 0) and (0.5, 0).
        let level = similarityTransform(from: [a, b], to: [Point(x: -0.5, y: 0), Point(x: 0.5, y: 0)])
        let template = first.map { p in let q = level.apply(x: Double(p.x), y: Double(p.y)); return Point(x: Float(q.x), y: Float(q.y)) }
        var (lower, upper, head) = ([[Float]](), [[Float]](), [[Float]]())
        for m in meshes {
            let toTemplate = similarityTransform(from: rigid(m), to: template)
            func mapped(_ idx: [Int]) -> [Float] {
                idx.flatMap { i -> [Float] in let q = toTemplate.apply(x: Double(m[i].x), y: Double(m[i].y)); return [Float(q.x), Float(q.y)] }
            }
            lower.append(mapped(Self.lowerIndices))
            upper.append(mapped(Self.upperIndices))
            // The head's pose: the inverse map, relative to the first frame's (`level`).
            let pose = toTemplate.inverted()
            let relative = level.concatenating(pose)
            let scale = (relative.a * relative.a + relative.d * relative.d).squareRoot()
            head.append([Float(log(max(scale, 1e-6))), Float(atan2(relative.d, relative.a)), Float(relative.c), Float(relative.f)])
        }
        let patched = mouthPatches.count == meshes.count && referencePatches.count == meshes.count
        self.init(fps: fps, lower: lower, upper: upper, head: head, mouth: patched ? mouthPatches.map { $0.map(Float.init) } : [],
                  reference: patched ? referencePatches.map { $0.map(Float.init) } : [])
    }

    /// The longest run of consecutive frame numbers in `window` as its motion (frames lost by the tracker split runs).
    public init?(window: MotionWindow) {
        var best = 0..<0, start = 0
        for i in 1...window.frames.count where i == window.frames.count || window.frames[i] != window.frames[i - 1] + 1 {
            if i - start > best.count { best = start..<i }
            start = i
        }
        let patched = window.mouthPatches.count == window.frames.count && window.referencePatches.count == window.frames.count
        self.init(meshes: Array(window.landmarks[best]), fps: window.fps, mouthPatches: patched ? Array(window.mouthPatches[best]) : [],
                  referencePatches: patched ? Array(window.referencePatches[best]) : [])
    }

    /// Frames `range` of this motion.
    public func slice(_ range: Range<Int>) -> FaceMotion {
        FaceMotion(fps: fps, lower: Array(lower[range]), upper: Array(upper[range]), head: Array(head[range]),
                   mouth: mouth.isEmpty ? [] : Array(mouth[range]), reference: reference.isEmpty ? [] : Array(reference[range]))
    }
}

extension AffineMatrix {
    /// `self` after `other`: the map x ↦ self(other(x)).
    func concatenating(_ other: AffineMatrix) -> AffineMatrix {
        AffineMatrix(a: a * other.a + b * other.d, b: a * other.b + b * other.e, c: a * other.c + b * other.f + c,
                     d: d * other.a + e * other.d, e: d * other.b + e * other.e, f: d * other.c + e * other.f + f)
    }
}
