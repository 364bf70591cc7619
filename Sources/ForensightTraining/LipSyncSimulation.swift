import Foundation
import ForensightTensor
import ForensightDetect
import ForensightFaces

/// Lip-sync fakes made from real motion, the way self-blending makes face swaps from real faces: each edits the
/// lower face of a real window (`FaceMotion.lower`: lips and jaw; for `repaint`, the mouth patch) and leaves the head
/// and the upper face as they were. No lip-sync model's output is ever trained on (docs/LIPSYNC.md describes each and what it adds).
public enum LipSyncSimulation: String, CaseIterable, Codable, Sendable {
    /// The lower face of another moment of the same video (0.3 s later or more) on this moment's head: a mouth that
    /// moves plausibly but out of step with the head, the brows and the cheeks (audio-driven mouths are driven by
    /// the sound, not by the rest of the face).
    case desync
    /// The lower face smoothed over time (Gaussian, σ 1–3 frames): the over-smooth articulation of a generator that
    /// regresses the mouth from audio features.
    case smooth
    /// Independent noise on the lower face in each frame (σ 0.4–2 % of the interocular distance): the flicker of a
    /// mouth regenerated frame by frame.
    case jitter
    /// The lower face's motion scaled down to 20–60 % around its mean: the under-articulated mouth of a lip-sync
    /// model.
    case damp
    /// The mouth patch repainted at low resolution in every frame (a box blur of radius 1–2, changing by one in some
    /// frames, and a small brightness change per frame), landmarks untouched: the soft, flickering mouth a generator
    /// pastes at its own resolution. A window without patches is left as it is.
    case repaint

    /// Parses a comma-separated list (`desync,smooth`); `all` gives every simulation.
    public static func list(_ text: String) throws -> [LipSyncSimulation] {
        if text == "all" { return allCases }
        return try text.split(separator: ",").map { part in
            guard let s = LipSyncSimulation(rawValue: part.trimmingCharacters(in: .whitespaces)) else {
                throw TrainingError("unknown lip-sync simulation \"\(part)\" (known: \(allCases.map(\.rawValue).joined(separator: ", ")), all)")
            }
            return s
        }
    }

    /// `motion` with this simulation applied to its lower face. `donor` is another window of the same face, of the
    /// same length, whose lower face `desync` takes (without one, `desync` reverses the window's lower face in time).
    public func apply(to motion: FaceMotion, donor: FaceMotion?, random: inout SeededRandom) -> FaceMotion {
        var out = motion
        let t = motion.count
        guard t >= 2 else { return out }
        switch self {
        case .desync:
            if let donor, donor.count == t { out.lower = donor.lower } else { out.lower = motion.lower.reversed() }
        case .smooth:
            let sigma = 1 + 2 * Double(random.nextFloat())
            out.lower = Self.gaussianSmoothed(motion.lower, sigma: sigma)
        case .jitter:
            let sigma = 0.004 + 0.016 * random.nextFloat()
            out.lower = motion.lower.map { frame in
                // Part of the noise moves the whole lower face together, part moves each point alone.
                let (sx, sy) = (random.nextNormal() * sigma * 0.5, random.nextNormal() * sigma * 0.5)
                return frame.indices.map { i in frame[i] + random.nextNormal() * sigma + (i % 2 == 0 ? sx : sy) }
            }
        case .repaint:
            guard motion.mouth.count == t else { return out }
            let radius = 1 + Int(random.next() % 2)
            let (w, h) = (MouthPatches.mouthSize.width, MouthPatches.mouthSize.height)
            out.mouth = motion.mouth.map { patch in
                let r = random.nextFloat() < 0.3 ? max(1, radius + (random.nextFloat() < 0.5 ? -1 : 1)) : radius
                let shift = random.nextNormal() * 2.5
                return Self.boxBlurred(patch, width: w, height: h, radius: r).map { min(max($0 + shift, 0), 255) }
            }
        case .damp:
            let alpha = 0.2 + 0.4 * random.nextFloat()
            let width = motion.lower[0].count
            let mean = (0..<width).map { c in motion.lower.reduce(0) { $0 + $1[c] } / Float(t) }
            out.lower = motion.lower.map { frame in (0..<width).map { mean[$0] + alpha * (frame[$0] - mean[$0]) } }
        }
        return out
    }

    /// `motion` with both patches of every frame blurred alike (box, `radius`): a whole video that is soft, which
    /// training shows as real so that only the mouth's sharpness against the face counts.
    public static func softened(_ motion: FaceMotion, radius: Int) -> FaceMotion {
        var out = motion
        out.mouth = motion.mouth.map { boxBlurred($0, width: MouthPatches.mouthSize.width, height: MouthPatches.mouthSize.height, radius: radius) }
        out.reference = motion.reference.map {
            boxBlurred($0, width: MouthPatches.referenceSize.width, height: MouthPatches.referenceSize.height, radius: radius)
        }
        return out
    }

    /// A separable box blur of `radius` (edges repeated).
    static func boxBlurred(_ p: [Float], width: Int, height: Int, radius: Int) -> [Float] {
        guard radius > 0, p.count == width * height else { return p }
        let n = Float(2 * radius + 1)
        var rows = p
        for y in 0..<height {
            for x in 0..<width {
                var s: Float = 0
                for d in -radius...radius { s += p[y * width + min(max(x + d, 0), width - 1)] }
                rows[y * width + x] = s / n
            }
        }
        var out = rows
        for y in 0..<height {
            for x in 0..<width {
                var s: Float = 0
                for d in -radius...radius { s += rows[min(max(y + d, 0), height - 1) * width + x] }
                out[y * width + x] = s / n
            }
        }
        return out
    }

    /// Each coordinate smoothed along time by a Gaussian of `sigma` frames (edges repeated).
    static func gaussianSmoothed(_ frames: [[Float]], sigma: Double) -> [[Float]] {
        let radius = max(1, Int((3 * sigma).rounded(.up)))
        let weights = (-radius...radius).map { Float(exp(-Double($0 * $0) / (2 * sigma * sigma))) }
        let total = weights.reduce(0, +)
        let t = frames.count
        return (0..<t).map { i in
            var row = [Float](repeating: 0, count: frames[i].count)
            for (k, w) in weights.enumerated() {
                let source = frames[min(max(i + k - radius, 0), t - 1)]
                for c in row.indices { row[c] += w * source[c] }
            }
            return row.map { $0 / total }
        }
    }
}
