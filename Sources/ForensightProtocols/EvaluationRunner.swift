import Foundation
import ForensightMedia
import ForensightFaces
import ForensightData
import ForensightDetect
import ForensightEvaluation

/// A test condition: clean, or a degradation applied to every full frame before face detection (`frame`) or to
/// every face crop before scoring (`crop`; for a clip detector each crop of each clip, for a whole-image detector the
/// whole frame as resized to its input size).
public struct EvaluationCondition: Sendable, Equatable {
    public enum Stage: String, Sendable { case frame, crop }
    public var perturbation: Perturbation?
    public var stage: Stage

    public static let clean = EvaluationCondition(perturbation: nil, stage: .frame)

    public init(perturbation: Perturbation?, stage: Stage = .frame) { (self.perturbation, self.stage) = (perturbation, stage) }

    /// `clean`, `jpeg-q50` (frame stage), `crop:jpeg-q50` (crop stage).
    public var name: String {
        guard let perturbation else { return "clean" }
        return (stage == .crop ? "crop:" : "") + perturbation.description
    }

    /// Parses a condition name: `clean`, `jpeg-q50`, `blur-sigma2`, `noise-sigma10` (or `noise-sigma10-seed3`),
    /// `downscale-2x`, each with an optional `crop:` prefix for the crop stage. Nil for anything else.
    public init?(name text: String) {
        if text == "clean" { self = .clean; return }
        let stage: Stage = text.hasPrefix("crop:") ? .crop : .frame
        let name = stage == .crop ? String(text.dropFirst(5)) : text
        func number(after prefix: String, trimming suffix: String = "") -> Double? {
            guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
            let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
            return Double(digits.split(separator: "-", omittingEmptySubsequences: false).first ?? "")
        }
        if let q = number(after: "jpeg-q"), q >= 1, q <= 100, q == q.rounded() {
            self.init(perturbation: .jpeg(quality: Int(q)), stage: stage)
        } else if let s = number(after: "blur-sigma"), s > 0 {
            self.init(perturbation: .gaussianBlur(sigma: s), stage: stage)
        } else if let s = number(after: "noise-sigma"), s > 0 {
            let seed = name.components(separatedBy: "-seed").dropFirst().first.flatMap { UInt64($0) } ?? 0
            self.init(perturbation: .gaussianNoise(sigma: s, seed: seed), stage: stage)
        } else if let f = number(after: "downscale-", trimming: "x"), f > 1 {
            self.init(perturbation: .downscale(factor: f), stage: stage)
        } else {
            return nil
        }
    }

    /// The JPEG sweep of DESIGN §6 (frame stage).
    public static let jpegSweep = [100, 90, 75, 50, 30].map { EvaluationCondition(perturbation: .jpeg(quality: $0)) }
    /// The other degradations of the robustness protocol (frame stage); the noise draws from `seed`.
    public static func degradations(seed: UInt64) -> [EvaluationCondition] {
        [.init(perturbation: .gaussianBlur(sigma: 2)), .init(perturbation: .gaussianNoise(sigma: 10, seed: seed)),
         .init(perturbation: .downscale(factor: 2))]
    }
}

/// Runs detectors over datasets under conditions and collects every face-frame score (`forensight evaluate`).
public struct EvaluationRunner {
    public var frames: Int
    public var faceDetector: MTCNN

    public init(frames: Int, faceDetector: MTCNN) { (self.frames, self.faceDetector) = (frames, faceDetector) }

    /// Scores every sample of `manifest` with `detector` under `condition`.
    ///
    /// - Parameters:
    ///   - progress: called after each sample with (done, total).
    ///   - scored: called with each item as soon as it is scored (`evaluate` appends it to its journal).
    ///   - landmarkRefiner: FaceMesh, when the detector's crops are aligned on its landmarks (`Pipeline.landmarkRefiner`).
    public func score(_ manifest: Manifest, detector: any Detector, modelName: String, run: Int, condition: EvaluationCondition,
                      landmarkRefiner: LandmarkRefiner? = nil, progress: (Int, Int) -> Void = { _, _ in }, scored: (EvaluationResults.Item) -> Void = { _ in }) -> [EvaluationResults.Item] {
        var pipeline = Pipeline(detector: detector, faceDetector: faceDetector, frames: frames, landmarkRefiner: landmarkRefiner)
        if let perturbation = condition.perturbation {
            let p = perturbation
            switch condition.stage {
            case .frame: pipeline.reader.frameTransform = { p.apply(to: $0) }
            case .crop: pipeline.cropTransform = { p.apply(to: $0) }
            }
        }
        var items: [EvaluationResults.Item] = []
        for (i, sample) in manifest.enumerated() {
            let item = Self.item(sample, model: modelName, run: run, condition: condition) { try pipeline.analyze(path: sample.path) }
            items.append(item)
            scored(item)
            progress(i + 1, manifest.count)
        }
        return items
    }

    /// Scores every sample under several crop-stage conditions from one read: faces are found once per sample and
    /// each condition degrades the same crops (`Pipeline.score`): every crop of a clip for a clip detector, the whole
    /// frame at the input size for a whole-image one. Items come per sample, in the order of `conditions`.
    public func scoreCropConditions(_ manifest: Manifest, detector: any Detector, modelName: String, run: Int,
                                    conditions: [EvaluationCondition], landmarkRefiner: LandmarkRefiner? = nil,
                                    progress: (Int, Int) -> Void = { _, _ in },
                                    scored: (EvaluationResults.Item) -> Void = { _ in }) -> [EvaluationResults.Item] {
        precondition(conditions.allSatisfy { $0.stage == .crop }, "scoreCropConditions takes crop-stage conditions only")
        let pipeline = Pipeline(detector: detector, faceDetector: faceDetector, frames: frames, landmarkRefiner: landmarkRefiner)
        var items: [EvaluationResults.Item] = []
        for (i, sample) in manifest.enumerated() {
            let media = Result { try pipeline.read(path: sample.path) }
            for condition in conditions {
                var transform: (@Sendable (RGBImage) -> RGBImage)?
                if let p = condition.perturbation { transform = { p.apply(to: $0) } }
                let item = Self.item(sample, model: modelName, run: run, condition: condition) {
                    try pipeline.score(try media.get(), path: sample.path, cropTransform: transform).verdict
                }
                items.append(item)
                scored(item)
            }
            progress(i + 1, manifest.count)
        }
        return items
    }

    /// The result item of one sample under one condition: its face-frame scores from `verdict`, or the error it threw.
    static func item(_ sample: Sample, model: String, run: Int, condition: EvaluationCondition, verdict: () throws -> Verdict) -> EvaluationResults.Item {
        var item = EvaluationResults.Item(model: model, run: run, condition: condition.name, dataset: sample.dataset, id: sample.id,
                                          videoID: sample.videoID ?? sample.id, method: sample.isFake ? sample.method : nil,
                                          label: sample.label, faces: [], error: nil)
        do {
            let record = try verdict()
            item.faces = record.faces.flatMap { face in
                face.frames.map { EvaluationResults.FaceScore(frame: $0.frame, face: face.track, score: $0.probability) }
            }.sorted { ($0.frame, $0.face) < ($1.frame, $1.face) }
            if let members = record.members {
                // A fusion: its members' own file scores, and the file's score when another member raised it.
                item.memberProbabilities = Dictionary(members.compactMap { m in m.probability.map { (m.id, $0) } }, uniquingKeysWith: max)
                if let p = record.probability, let primary = members.first?.probability, p > primary { item.raisedTo = p }
            }
        } catch {
            item.error = "\(error)"
        }
        return item
    }
}
