import Foundation
import ForensightTensor
import ForensightNN
import ForensightMedia

/// Settings of the MTCNN cascade (defaults: facenet-pytorch's).
public struct MTCNNOptions: Sendable, Equatable {
    /// Smallest face side, in pixels, that the image pyramid looks for.
    public var minFaceSize: Float = 20
    /// Score thresholds of P-Net, R-Net and O-Net.
    public var thresholds: (Float, Float, Float) = (0.6, 0.7, 0.7)
    /// Scale step between pyramid levels.
    public var factor: Float = 0.709

    public init(minFaceSize: Float = 20, thresholds: (Float, Float, Float) = (0.6, 0.7, 0.7), factor: Float = 0.709) {
        (self.minFaceSize, self.thresholds, self.factor) = (minFaceSize, thresholds, factor)
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.minFaceSize == b.minFaceSize && a.thresholds == b.thresholds && a.factor == b.factor
    }
}

/// Failure to set up the face detector: which weights, and what to do.
public struct FaceDetectorError: Error, CustomStringConvertible {
    public let description: String
}

/// MTCNN face detection (Zhang et al., 2016): an image pyramid through P-Net, then R-Net and O-Net on the square
/// crops of the survivors, with box regression, non-maximum suppression and five landmarks.
///
/// Follows facenet-pytorch's `detect_face` step for step (area resampling, 1-based MATLAB-style box arithmetic,
/// torchvision NMS for the first two stages, "Min" NMS last), so its boxes can be compared one to one.
public final class MTCNN {
    public let pnet = PNet(), rnet = RNet(), onet = ONet()
    public var options: MTCNNOptions

    /// Whether all three weight files are in `directory`; tests skip only when they are absent, and fail when present
    /// files do not load.
    public static func weightsPresent(in directory: String = MTCNN.defaultWeightsDirectory) -> Bool {
        ["pnet", "rnet", "onet"].allSatisfy { FileManager.default.fileExists(atPath: directory + "/mtcnn_\($0).safetensors") }
    }

    /// Loads `mtcnn_{pnet,rnet,onet}.safetensors` from `directory` (default: the setup's weight cache).
    public init(weightsDirectory directory: String = MTCNN.defaultWeightsDirectory, options: MTCNNOptions = MTCNNOptions()) throws {
        self.options = options
        for (name, net) in [("pnet", pnet as Module), ("rnet", rnet), ("onet", onet)] {
            let path = directory + "/mtcnn_\(name).safetensors"
            guard FileManager.default.fileExists(atPath: path) else {
                throw FaceDetectorError(description: "MTCNN weights not found at \(path) (run: bash scripts/setup/weights.sh)")
            }
            do { try net.load(safetensors: path) } catch {
                throw FaceDetectorError(description: "cannot load \(path): \(error)")
            }
            net.eval()
        }
    }

    /// `$FORENSIGHT_CACHE/weights`, by default `~/.cache/forensight/weights`.
    public static var defaultWeightsDirectory: String {
        let cache = ProcessInfo.processInfo.environment["FORENSIGHT_CACHE"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/forensight").path
        return cache + "/weights"
    }

    /// The image as a [1, 3, H, W] float tensor of 0…255 values.
    public static func tensor(from image: RGBImage) -> Tensor {
        let (w, h) = (image.width, image.height)
        let t = Tensor(uninitializedShape: [1, 3, h, w])
        image.pixels.withUnsafeBufferPointer { px in
            for i in 0..<(w * h) { for c in 0..<3 { t.data[c * w * h + i] = Float(px[3 * i + c]) } }
        }
        return t
    }

    /// Faces in `image`, largest first.
    public func detect(_ image: RGBImage) -> [DetectedFace] { detect(imageTensor: Self.tensor(from: image)) }

    /// Faces in a [1, 3, H, W] tensor of 0…255 RGB values, largest first (with other `options` when given).
    public func detect(imageTensor img: Tensor, options override: MTCNNOptions? = nil) -> [DetectedFace] {
        let saved = options
        if let override { options = override }
        defer { options = saved }
        return withoutGrad {
            var boxes = proposals(img)
            if boxes.isEmpty { return [] }
            boxes = refine(img, boxes)
            if boxes.isEmpty { return [] }
            return output(img, boxes).sorted { $0.box.area > $1.box.area }
        }
    }

    /// (x − 127.5) · 0.0078125, the networks' input scaling.
    static func normalized(_ x: Tensor) -> Tensor { x.affine(scale: 0.0078125, shift: -127.5 * 0.0078125) }

    /// Stage 1: P-Net over the pyramid, NMS 0.5 per level and 0.7 overall, regression, squaring.
    func proposals(_ img: Tensor) -> [Candidate] {
        let (h, w) = (img.shape[2], img.shape[3])
        // The pyramid arithmetic is in double precision, as in the reference (Python floats).
        let m = 12 / Double(options.minFaceSize)
        var minl = Double(Swift.min(h, w)) * m, scale64 = m
        var all: [Candidate] = []
        while minl >= 12 {
            let size = (Int(Double(h) * scale64 + 1), Int(Double(w) * scale64 + 1))
            let scale = Float(scale64)
            let (reg, prob) = pnet(Self.normalized(img.adaptiveAvgPool2d(size)))
            var level: [Candidate] = []
            let (hh, ww) = (prob.shape[1], prob.shape[2])
            for y in 0..<hh {
                for x in 0..<ww where prob.data[y * ww + x] >= options.thresholds.0 {
                    let r = { (k: Int) in reg.data[(k * hh + y) * ww + x] }
                    level.append(Candidate(x1: ((2 * Float(x) + 1) / scale).rounded(.down), y1: ((2 * Float(y) + 1) / scale).rounded(.down),
                                           x2: ((2 * Float(x) + 12) / scale).rounded(.down), y2: ((2 * Float(y) + 12) / scale).rounded(.down),
                                           score: prob.data[y * ww + x], reg: (r(0), r(1), r(2), r(3))))
                }
            }
            all += nonMaximumSuppression(level, threshold: 0.5).map { level[$0] }
            scale64 *= Double(options.factor)
            minl *= Double(options.factor)
        }
        all = nonMaximumSuppression(all, threshold: 0.7).map { all[$0] }
        return all.map { b in
            let (rw, rh) = (b.x2 - b.x1, b.y2 - b.y1)
            return Self.square(Candidate(x1: b.x1 + b.reg.0 * rw, y1: b.y1 + b.reg.1 * rh, x2: b.x2 + b.reg.2 * rw,
                                         y2: b.y2 + b.reg.3 * rh, score: b.score))
        }
    }

    /// Stage 2: R-Net on 24×24 crops, threshold, NMS 0.7, regression, squaring.
    func refine(_ img: Tensor, _ boxes: [Candidate]) -> [Candidate] {
        let (kept, crops) = Self.crops(img, boxes, size: 24)
        guard let crops else { return [] }
        let (reg, prob) = rnet(Self.normalized(crops))
        var passed: [Candidate] = []
        for (row, b) in kept.enumerated() where prob.data[row] > options.thresholds.1 {
            let r = reg.data + row * 4
            passed.append(Candidate(x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2, score: prob.data[row], reg: (r[0], r[1], r[2], r[3])))
        }
        return nonMaximumSuppression(passed, threshold: 0.7).map { Self.square(Self.regress(passed[$0])) }
    }

    /// Stage 3: O-Net on 48×48 crops, threshold, landmarks, regression, "Min" NMS 0.7.
    func output(_ img: Tensor, _ boxes: [Candidate]) -> [DetectedFace] {
        let (kept, crops) = Self.crops(img, boxes, size: 48)
        guard let crops else { return [] }
        let (reg, marks, prob) = onet(Self.normalized(crops))
        var passed: [Candidate] = [], points: [[Point]] = []
        for (row, b) in kept.enumerated() where prob.data[row] > options.thresholds.2 {
            let (bw, bh) = (b.x2 - b.x1 + 1, b.y2 - b.y1 + 1)
            let l = marks.data + row * 10
            points.append((0..<5).map { Point(x: bw * l[$0] + b.x1 - 1, y: bh * l[5 + $0] + b.y1 - 1) })
            let r = reg.data + row * 4
            passed.append(Self.regress(Candidate(x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2, score: prob.data[row], reg: (r[0], r[1], r[2], r[3]))))
        }
        return nonMaximumSuppression(passed, threshold: 0.7, measure: .minimumPlusOne).map { i in
            DetectedFace(box: FaceBox(x1: passed[i].x1, y1: passed[i].y1, x2: passed[i].x2, y2: passed[i].y2),
                         score: passed[i].score, landmarks: points[i])
        }
    }

    /// Box regression with the +1 pixel widths of the original code.
    static func regress(_ b: Candidate) -> Candidate {
        let (w, h) = (b.x2 - b.x1 + 1, b.y2 - b.y1 + 1)
        return Candidate(x1: b.x1 + b.reg.0 * w, y1: b.y1 + b.reg.1 * h, x2: b.x2 + b.reg.2 * w, y2: b.y2 + b.reg.3 * h, score: b.score)
    }

    /// The square of side max(w, h) with the same centre.
    static func square(_ b: Candidate) -> Candidate {
        let (w, h) = (b.x2 - b.x1, b.y2 - b.y1)
        let l = Swift.max(w, h)
        let x1 = b.x1 + w * 0.5 - l * 0.5, y1 = b.y1 + h * 0.5 - l * 0.5
        return Candidate(x1: x1, y1: y1, x2: x1 + l, y2: y1 + l, score: b.score, reg: b.reg)
    }

    /// Crops every box (integer, 1-based, clipped to the image), area-resized to size×size, as one batch.
    /// Returns the boxes that gave a non-empty crop, in order, and the batch.
    static func crops(_ img: Tensor, _ boxes: [Candidate], size: Int) -> ([Candidate], Tensor?) {
        let (h, w) = (img.shape[2], img.shape[3])
        var kept: [Candidate] = [], patches: [Tensor] = []
        for b in boxes {
            let x = Swift.max(Int(b.x1), 1), y = Swift.max(Int(b.y1), 1)
            let ex = Swift.min(Int(b.x2), w), ey = Swift.min(Int(b.y2), h)
            guard ey > y - 1, ex > x - 1 else { continue }
            patches.append(img.regionAdaptiveAverage(rows: (y - 1)..<ey, columns: (x - 1)..<ex, size: (size, size)))
            kept.append(b)
        }
        return (kept, patches.isEmpty ? nil : Tensor.concatenate(patches, axis: 0))
    }
}
