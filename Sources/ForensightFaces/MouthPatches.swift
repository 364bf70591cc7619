import Foundation
import ForensightMedia

/// Small grey patches of the mouth and of a reference part of the face (the nose bridge), cut from a frame in the
/// face's own orientation by its FaceMesh landmarks: what the mouth-motion detector's appearance features compare
/// over time. A lip-sync model repaints the mouth at its own resolution in every frame, so its mouth tends to be
/// blurrier than the rest of the face and to flicker; a real mouth is as sharp as the skin around it.
public enum MouthPatches {
    /// Mouth patch: 32 × 24 pixels over 0.9 × 0.6 interocular distances centred on the lips.
    public static let mouthSize = (width: 32, height: 24)
    /// Reference patch: 24 × 16 pixels over 0.6 × 0.4 interocular distances centred on the nose bridge (mesh 6, 197).
    public static let referenceSize = (width: 24, height: 16)

    /// The two patches of the face whose mesh is `mesh` (468 points, frame pixels) in `image`, row-major grey levels
    /// (0.299 R + 0.587 G + 0.114 B); nil for a degenerate mesh.
    public static func cut(_ image: RGBImage, mesh: [Landmark3D]) -> (mouth: [UInt8], reference: [UInt8])? {
        guard let eyes = MeshTracker.eyeFrame(mesh) else { return nil }
        func centroid(_ idx: [Int]) -> Point { FaceMesh.centroid(idx, of: mesh) }
        let mouth = patch(image, center: centroid(FaceMesh.lipsOuter), extent: (0.9, 0.6), size: mouthSize, eyes: eyes)
        let reference = patch(image, center: centroid([6, 197]), extent: (0.6, 0.4), size: referenceSize, eyes: eyes)
        return (mouth, reference)
    }

    /// A grey patch of `size` pixels covering `extent` interocular distances around `center`, rotated with the eye line.
    static func patch(_ image: RGBImage, center: Point, extent: (Float, Float), size: (width: Int, height: Int),
                      eyes: (mid: Point, iod: Float, cos: Float, sin: Float)) -> [UInt8] {
        // Output pixel (u, v) → frame point: centre + R · ((u + 0.5)/w − 0.5, (v + 0.5)/h − 0.5) · extent · iod.
        let (sx, sy) = (Double(extent.0 * eyes.iod) / Double(size.width), Double(extent.1 * eyes.iod) / Double(size.height))
        let (c, s) = (Double(eyes.cos), Double(eyes.sin))
        let ox = Double(center.x) - (c * sx * Double(size.width) - s * sy * Double(size.height)) / 2
        let oy = Double(center.y) - (s * sx * Double(size.width) + c * sy * Double(size.height)) / 2
        let toFrame = AffineMatrix(a: c * sx, b: -s * sy, c: ox + (c * sx - s * sy) / 2, d: s * sx, e: c * sy, f: oy + (s * sx + c * sy) / 2)
        let rgb = ImageGeometry.warpAffine(image, matrix: toFrame, outputSize: size, border: .replicate, inverseMap: true)
        return (0..<(size.width * size.height)).map { i in
            let (r, g, b) = (Double(rgb.pixels[3 * i]), Double(rgb.pixels[3 * i + 1]), Double(rgb.pixels[3 * i + 2]))
            return UInt8(min(max((0.299 * r + 0.587 * g + 0.114 * b).rounded(), 0), 255))
        }
    }
}
