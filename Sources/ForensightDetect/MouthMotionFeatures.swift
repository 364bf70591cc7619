import Foundation
import ForensightFaces

/// The mouth-motion detector's view of one window (`FaceMotion`): a fixed list of kinematic, spectral and coupling
/// measurements, each named in `names` (docs/LIPSYNC.md explains them).
///
/// Lip-sync models regenerate the lower face frame by frame from audio. What they get wrong is visible in the motion:
/// a mouth that is smoother or jerkier than a real one (velocity, acceleration and jerk, BioLip's kinematics), that
/// flickers (energy above 4 Hz), whose inner and outer lips or lips and jaw do not move together, or that moves out of
/// step with the head and the upper face (correlations between their motions). All values are in first-frame
/// interocular units and per second; magnitudes are logarithms, so a face's size and the video's frame rate matter
/// little.
public enum MouthMotionFeatures {
    /// The feature names, in order.
    public static let names: [String] = {
        var n: [String] = []
        for s in ["open-inner", "open-outer", "width", "jaw"] {
            n += ["\(s) log std", "\(s) log speed", "\(s) log acceleration", "\(s) log jerk", "\(s) high-frequency share"]
        }
        for g in ["lips", "jaw", "upper face"] { n += ["\(g) log speed", "\(g) log acceleration", "\(g) log jerk"] }
        n += ["corr inner/outer opening velocity", "corr inner opening/jaw velocity", "corr inner opening/jaw",
              "corr lower/upper motion energy", "corr lips/head speed", "log lips/upper speed", "log jaw/lips speed"]
        n += ["head log speed", "nose log std x", "nose log std y"]
        n += ["mean inner opening", "mean width", "mean lip thickness", "lip thickness variation"]
        n += ["mouth/reference log sharpness", "mouth/reference sharpness variation", "mouth/reference log flicker", "mouth/reference log brightness drift"]
        return n
    }()

    /// The features of `motion` (`names.count` values, finite). A window of two frames has no acceleration or jerk:
    /// those read as the floor of their logarithm.
    public static func compute(_ motion: FaceMotion) -> [Float] {
        let fps = motion.fps > 0 && motion.fps.isFinite ? motion.fps : 25
        let lowerPos = { (i: Int) in FaceMotion.lowerPosition(i) }
        func point(_ frame: [Float], _ k: Int) -> (Double, Double) { (Double(frame[2 * k]), Double(frame[2 * k + 1])) }
        func dist(_ frame: [Float], _ i: Int, _ j: Int) -> Double {
            let (p, q) = (point(frame, lowerPos(i)), point(frame, lowerPos(j)))
            return hypot(p.0 - q.0, p.1 - q.1)
        }
        let openInner = motion.lower.map { dist($0, 13, 14) }
        let openOuter = motion.lower.map { dist($0, 0, 17) }
        let width = motion.lower.map { dist($0, 61, 291) }
        let jaw = motion.lower.map { point($0, lowerPos(152)).1 }
        var out: [Double] = []
        for s in [openInner, openOuter, width, jaw] {
            let v = derivative(s, fps), a = derivative(v, fps), j = derivative(a, fps)
            out += [log(std(s) + 1e-4), log(meanAbs(v) + 1e-3), log(meanAbs(a) + 1e-2), log(meanAbs(j) + 1e-1), highFrequencyShare(v, fps: fps, above: 4)]
        }
        let lipCount = 40, jawRange = 40..<57
        let lipSpeed = pointSpeeds(motion.lower, fps: fps, points: 0..<lipCount)
        let jawSpeed = pointSpeeds(motion.lower, fps: fps, points: jawRange)
        let upperSpeed = pointSpeeds(motion.upper, fps: fps, points: 0..<(FaceMotion.upperIndices.count))
        for group in [(motion.lower, 0..<lipCount), (motion.lower, jawRange), (motion.upper, 0..<FaceMotion.upperIndices.count)] {
            let k = kinematics(group.0, fps: fps, points: group.1)
            out += [log(k.speed + 1e-3), log(k.acceleration + 1e-2), log(k.jerk + 1e-1)]
        }
        let headSpeed = derivative(motion.head.map { Double($0[1]) }, fps).indices.map { t -> Double in
            let d = (0..<4).map { c in Double(motion.head[t + 1][c] - motion.head[t][c]) * fps }
            return (d[0] * d[0] + d[1] * d[1] + d[2] * d[2] + d[3] * d[3]).squareRoot()
        }
        out += [correlation(derivative(openInner, fps), derivative(openOuter, fps)), correlation(derivative(openInner, fps), derivative(jaw, fps)),
                correlation(openInner, jaw), correlation(zip(lipSpeed, jawSpeed).map(+), upperSpeed), correlation(lipSpeed, headSpeed),
                log((mean(lipSpeed) + 1e-3) / (mean(upperSpeed) + 1e-3)), log((mean(jawSpeed) + 1e-3) / (mean(lipSpeed) + 1e-3))]
        let nose = FaceMotion.upperIndices.firstIndex(of: 1)!
        out += [log(mean(headSpeed) + 1e-3), log(std(motion.upper.map { Double($0[2 * nose]) }) + 1e-4),
                log(std(motion.upper.map { Double($0[2 * nose + 1]) }) + 1e-4)]
        let thickness = zip(openOuter, openInner).map { $0 - $1 }
        out += [mean(openInner), mean(width), mean(thickness), std(thickness) / (abs(mean(thickness)) + 1e-3)]
        out += appearance(motion)
        return out.map { $0.isFinite ? Float($0) : 0 }
    }

    /// The appearance features: how sharp the mouth is against the nose bridge (log ratio of the mean squared
    /// Laplacian, and its spread over the window), how much more it flickers (log ratio of the mean absolute second
    /// difference in time), and how much its brightness drifts against the reference. Zeros without patches.
    static func appearance(_ motion: FaceMotion) -> [Double] {
        guard motion.mouth.count == motion.count, motion.reference.count == motion.count, motion.count >= 3 else { return [0, 0, 0, 0] }
        let (mw, mh) = (MouthPatches.mouthSize.width, MouthPatches.mouthSize.height)
        let (rw, rh) = (MouthPatches.referenceSize.width, MouthPatches.referenceSize.height)
        let ratios = (0..<motion.count).map { t in
            log(laplacianEnergy(motion.mouth[t], width: mw, height: mh) + 1) - log(laplacianEnergy(motion.reference[t], width: rw, height: rh) + 1)
        }
        func flicker(_ frames: [[Float]]) -> Double {
            var sum = 0.0, n = 0
            for t in 2..<frames.count {
                for i in frames[t].indices { sum += abs(Double(frames[t][i] - 2 * frames[t - 1][i] + frames[t - 2][i])); n += 1 }
            }
            return n > 0 ? sum / Double(n) : 0
        }
        let drift = (0..<motion.count).map { t in
            Double(motion.mouth[t].reduce(0, +)) / Double(mw * mh) - Double(motion.reference[t].reduce(0, +)) / Double(rw * rh)
        }
        return [mean(ratios), std(ratios), log((flicker(motion.mouth) + 0.5) / (flicker(motion.reference) + 0.5)), log(std(drift) + 0.1)]
    }

    /// Mean squared 4-neighbour Laplacian over the interior of a row-major patch.
    static func laplacianEnergy(_ p: [Float], width: Int, height: Int) -> Double {
        guard width > 2, height > 2, p.count == width * height else { return 0 }
        var sum = 0.0
        for y in 1..<(height - 1) {
            for x in 1..<(width - 1) {
                let i = y * width + x
                let l = Double(4 * p[i] - p[i - 1] - p[i + 1] - p[i - width] - p[i + width])
                sum += l * l
            }
        }
        return sum / Double((width - 2) * (height - 2))
    }

    /// Finite differences times the frame rate (one value fewer than `x`).
    static func derivative(_ x: [Double], _ fps: Double) -> [Double] {
        x.count < 2 ? [] : (1..<x.count).map { (x[$0] - x[$0 - 1]) * fps }
    }

    static func mean(_ x: [Double]) -> Double { x.isEmpty ? 0 : x.reduce(0, +) / Double(x.count) }
    static func meanAbs(_ x: [Double]) -> Double { x.isEmpty ? 0 : x.reduce(0) { $0 + abs($1) } / Double(x.count) }
    static func std(_ x: [Double]) -> Double {
        guard x.count > 1 else { return 0 }
        let m = mean(x)
        return (x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count)).squareRoot()
    }

    /// Pearson correlation over the common length; 0 when either side is constant.
    static func correlation(_ x: [Double], _ y: [Double]) -> Double {
        let n = min(x.count, y.count)
        guard n > 2 else { return 0 }
        let (a, b) = (Array(x.prefix(n)), Array(y.prefix(n)))
        let (ma, mb) = (mean(a), mean(b))
        var (sab, saa, sbb) = (0.0, 0.0, 0.0)
        for i in 0..<n { let (u, v) = (a[i] - ma, b[i] - mb); sab += u * v; saa += u * u; sbb += v * v }
        return saa > 1e-18 && sbb > 1e-18 ? sab / (saa * sbb).squareRoot() : 0
    }

    /// Share of the energy of `x` (mean removed) at frequencies above `above` Hz, by a direct DFT (windows are short).
    static func highFrequencyShare(_ x: [Double], fps: Double, above: Double) -> Double {
        let n = x.count
        guard n >= 4 else { return 0 }
        let m = mean(x)
        var (high, total) = (0.0, 0.0)
        for k in 1...(n / 2) {
            var (re, im) = (0.0, 0.0)
            for t in 0..<n {
                let phase = 2 * Double.pi * Double(k * t) / Double(n)
                re += (x[t] - m) * cos(phase); im -= (x[t] - m) * sin(phase)
            }
            let power = re * re + im * im
            total += power
            if Double(k) * fps / Double(n) > above { high += power }
        }
        return total > 1e-18 ? high / total : 0
    }

    /// Per frame step: the mean speed of `points` (x, y pairs of each frame).
    static func pointSpeeds(_ frames: [[Float]], fps: Double, points: Range<Int>) -> [Double] {
        guard frames.count > 1 else { return [] }
        return (1..<frames.count).map { t -> Double in
            let (now, before) = (frames[t], frames[t - 1])
            var sum = 0.0
            for k in points {
                let dx = Double(now[2 * k] - before[2 * k]), dy = Double(now[2 * k + 1] - before[2 * k + 1])
                sum += (dx * dx + dy * dy).squareRoot()
            }
            return sum * fps / Double(points.count)
        }
    }

    /// Mean magnitude of velocity, acceleration and jerk of `points`, over points and frames.
    static func kinematics(_ frames: [[Float]], fps: Double, points: Range<Int>) -> (speed: Double, acceleration: Double, jerk: Double) {
        var sums = [0.0, 0.0, 0.0], counts = [0, 0, 0]
        for k in points {
            for axis in 0..<2 {
                let x = frames.map { Double($0[2 * k + axis]) }
                let v = derivative(x, fps), a = derivative(v, fps), j = derivative(a, fps)
                for (d, series) in [v, a, j].enumerated() { sums[d] += series.reduce(0) { $0 + $1 * $1 }; counts[d] += series.count }
            }
        }
        let rms = (0..<3).map { counts[$0] > 0 ? (sums[$0] / Double(counts[$0])).squareRoot() : 0 }
        return (rms[0], rms[1], rms[2])
    }
}
