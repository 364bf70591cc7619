import Foundation
import ForensightFaces

/// Face regions from FaceMesh's 468 dense landmarks, the blending masks of self-blended images when a mesh is at hand.
///
/// The original method takes the convex hull of dlib's landmarks; `FaceHull` approximates the outline from MTCNN's five
/// points with a fixed polygon, which cannot follow a long chin, a round face or a turned head. With a mesh the regions
/// are the face itself:
/// - `face`: the face oval (forehead, temples, jaw, chin) in MediaPipe's order;
/// - `lowerFace`: the convex hull of the oval below the nose tip and the nose's base (mouth, chin, lower cheeks);
/// - `eyes`: the convex hull of both brows and eyes, with the lower lids pushed down by a quarter of the interocular
///   distance (the under-eye skin that expression edits also touch).
public enum DenseFaceHull {
    /// The person's right brow (MediaPipe's FACEMESH_RIGHT_EYEBROW vertices).
    public static let rightBrow = [46, 53, 52, 65, 55, 70, 63, 105, 66, 107]
    /// The person's left brow (FACEMESH_LEFT_EYEBROW vertices).
    public static let leftBrow = [276, 283, 282, 295, 285, 300, 293, 334, 296, 336]
    /// Nose tip, the point under it, and the two nostril wings.
    public static let noseBase = [1, 2, 98, 327]

    /// The polygon of `region` for a mesh of 468 points (crop or frame pixels).
    public static func polygon(mesh: [Point], region: FaceRegion) -> [Point] {
        precondition(mesh.count == FaceMesh.landmarkCount, "a dense face hull needs the 468 FaceMesh landmarks")
        let axes = FaceAxes(mesh: mesh)
        switch region {
        case .face:
            return FaceMesh.faceOval.map { mesh[$0] }
        case .lowerFace:
            let noseLevel = axes.down(mesh[1])
            let lower = FaceMesh.faceOval.map { mesh[$0] }.filter { axes.down($0) >= noseLevel }
            return convexHull(lower + noseBase.map { mesh[$0] })
        case .eyes:
            let lids = (FaceMesh.rightEye + FaceMesh.leftEye).map { mesh[$0] }
            let pushed = lids.map { Point(x: $0.x + 0.25 * axes.unit * axes.v.x, y: $0.y + 0.25 * axes.unit * axes.v.y) }
            return convexHull((rightBrow + leftBrow).map { mesh[$0] } + lids + pushed)
        }
    }

    /// `polygon` stretched by `scale` along the face's horizontal and vertical axes around its centroid, and each vertex
    /// moved by up to `jitter` interocular distances along each axis (drawn from `random`; none when `jitter` is 0).
    public static func deformed<R: RandomNumberGenerator>(_ polygon: [Point], mesh: [Point], jitter: Float, scale: (x: Float, y: Float),
                                                           using random: inout R) -> [Point] {
        guard !polygon.isEmpty else { return polygon }
        let axes = FaceAxes(mesh: mesh)
        let n = Float(polygon.count)
        let c = Point(x: polygon.reduce(0) { $0 + $1.x } / n, y: polygon.reduce(0) { $0 + $1.y } / n)
        return polygon.map { p in
            var x = ((p.x - c.x) * axes.u.x + (p.y - c.y) * axes.u.y) * scale.x
            var y = ((p.x - c.x) * axes.v.x + (p.y - c.y) * axes.v.y) * scale.y
            if jitter > 0 {
                x += jitter * axes.unit * Float.random(in: -1...1, using: &random)
                y += jitter * axes.unit * Float.random(in: -1...1, using: &random)
            }
            return Point(x: c.x + x * axes.u.x + y * axes.v.x, y: c.y + x * axes.u.y + y * axes.v.y)
        }
    }

    /// Convex hull (Andrew's monotone chain), counter-clockwise in y-up terms, without collinear points.
    public static func convexHull(_ points: [Point]) -> [Point] {
        let sorted = points.sorted { ($0.x, $0.y) < ($1.x, $1.y) }
        guard sorted.count > 2 else { return sorted }
        func cross(_ o: Point, _ a: Point, _ b: Point) -> Float { (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x) }
        var lower: [Point] = [], upper: [Point] = []
        for p in sorted {
            while lower.count >= 2 && cross(lower[lower.count - 2], lower[lower.count - 1], p) <= 0 { lower.removeLast() }
            lower.append(p)
        }
        for p in sorted.reversed() {
            while upper.count >= 2 && cross(upper[upper.count - 2], upper[upper.count - 1], p) <= 0 { upper.removeLast() }
            upper.append(p)
        }
        return Array(lower.dropLast() + upper.dropLast())
    }
}

/// The face's own axes from a mesh: `u` from the person's right eye to the left one, `v` perpendicular towards the
/// mouth, `unit` the interocular distance (eye-contour centroids).
struct FaceAxes {
    let eyes: Point, u: Point, v: Point, unit: Float

    init(mesh: [Point]) {
        func centroid(_ indices: [Int]) -> Point {
            let n = Float(indices.count)
            return Point(x: indices.reduce(0) { $0 + mesh[$1].x } / n, y: indices.reduce(0) { $0 + mesh[$1].y } / n)
        }
        let (right, left) = (centroid(FaceMesh.rightEye), centroid(FaceMesh.leftEye))
        unit = max(hypot(left.x - right.x, left.y - right.y), 1e-3)
        u = Point(x: (left.x - right.x) / unit, y: (left.y - right.y) / unit)
        v = Point(x: -u.y, y: u.x)
        eyes = Point(x: (left.x + right.x) / 2, y: (left.y + right.y) / 2)
    }

    /// How far below the eye line `p` lies (along `v`).
    func down(_ p: Point) -> Float { (p.x - eyes.x) * v.x + (p.y - eyes.y) * v.y }
}
