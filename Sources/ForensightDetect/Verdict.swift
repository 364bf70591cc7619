import Foundation
import ForensightEvaluation

/// The outcome for one input file: the `detect --json` record (schema `forensight.detect/3`, docs/DETECT.md).
public struct Verdict: Codable, Sendable, Equatable {
    /// Version 2 added each ensemble member's P(fake) (`members`) to faces and face-frames; version 3 the record-level
    /// `members` of a fusion (each member detector's own verdict, e.g. the mouth-motion windows).
    public static let schemaName = "forensight.detect/3"

    /// REAL / FAKE by the model's threshold; NO_FACE when no face was found; ERROR when the file could not be read.
    public enum Label: String, Codable, Sendable { case real = "REAL", fake = "FAKE", noFace = "NO_FACE", error = "ERROR" }

    /// One ensemble member's P(fake) (its own calibrated probability, before the combination).
    public struct MemberScore: Codable, Sendable, Equatable {
        /// The member's card id.
        public var id: String
        public var pFake: Double
        public init(id: String, pFake: Double) { (self.id, self.pFake) = (id, pFake) }
        enum CodingKeys: String, CodingKey { case id, pFake = "p_fake" }
    }

    /// One face-frame: a crop of one tracked face in one sampled frame.
    public struct FaceFrame: Codable, Sendable, Equatable {
        public var frame: Int
        public var time: Double
        /// P(fake) of the crop (for an ensemble, the combined one).
        public var probability: Double
        /// Face box in frame pixels: x1, y1, x2, y2.
        public var box: [Float]
        public var detectorScore: Float
        /// For an ensemble, each member's P(fake) of this crop, in member order; nil (`null`) for a single model.
        public var members: [MemberScore]?
        enum CodingKeys: String, CodingKey { case frame, time, probability, box, detectorScore = "detector_score", members }

        /// Writes every key, `members` as `null` for a single model.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(frame, forKey: .frame)
            try c.encode(time, forKey: .time)
            try c.encode(probability, forKey: .probability)
            try c.encode(box, forKey: .box)
            try c.encode(detectorScore, forKey: .detectorScore)
            try c.encode(members, forKey: .members)
        }
    }

    /// One tracked face with its own verdict (the mean of its face-frames against the threshold).
    public struct Face: Codable, Sendable, Equatable {
        public var track: Int
        public var verdict: Label
        public var probability: Double
        public var frames: [FaceFrame]
        /// For an ensemble, each member's mean P(fake) over the face's frames, in member order; nil (`null`) for a
        /// single model.
        public var members: [MemberScore]?
        enum CodingKeys: String, CodingKey { case track, verdict, probability, frames, members }

        public init(track: Int, verdict: Label, probability: Double, frames: [FaceFrame], members: [MemberScore]? = nil) {
            (self.track, self.verdict, self.probability, self.frames, self.members) = (track, verdict, probability, frames, members)
        }

        /// Writes every key, `members` as `null` for a single model.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(track, forKey: .track)
            try c.encode(verdict, forKey: .verdict)
            try c.encode(probability, forKey: .probability)
            try c.encode(frames, forKey: .frames)
            try c.encode(members, forKey: .members)
        }
    }

    /// One member of a fusion (`FusedDetector`) on this file: its own verdict at its own threshold.
    public struct MemberVerdict: Codable, Sendable, Equatable {
        /// The member's card id.
        public var id: String
        /// What the member looks at (`face-crop`, `mouth-motion`, …).
        public var input: DetectorInput
        public var threshold: Double
        public var verdict: Label
        /// The member's P(fake) for the file (its own calibration); nil when it found nothing to score.
        public var probability: Double?
        public var frames: Int
        public var framesWithFaces: Int
        /// The member's own faces (for a mouth-motion member: one per window, with its frames); nil for the primary
        /// member, whose faces are the record's `faces`.
        public var faces: [Face]?
        enum CodingKeys: String, CodingKey {
            case id, input, threshold, verdict, probability, frames, framesWithFaces = "frames_with_faces", faces
        }

        public init(id: String, input: DetectorInput, threshold: Double, verdict: Label, probability: Double?, frames: Int, framesWithFaces: Int,
                    faces: [Face]?) {
            (self.id, self.input, self.threshold, self.verdict, self.probability) = (id, input, threshold, verdict, probability)
            (self.frames, self.framesWithFaces, self.faces) = (frames, framesWithFaces, faces)
        }

        /// Writes every key, `null` where unset.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id); try c.encode(input, forKey: .input); try c.encode(threshold, forKey: .threshold)
            try c.encode(verdict, forKey: .verdict); try c.encode(probability, forKey: .probability); try c.encode(frames, forKey: .frames)
            try c.encode(framesWithFaces, forKey: .framesWithFaces); try c.encode(faces, forKey: .faces)
        }
    }

    /// The model that produced the scores.
    public struct Model: Codable, Sendable, Equatable {
        public var id: String
        public var sha256: String
        public var threshold: Double
        public var inputSize: Int
        /// What the model scores (the card's input kind): face crops, clips of one face, or whole frames.
        public var input: DetectorInput
        enum CodingKeys: String, CodingKey { case id, sha256, threshold, inputSize = "input_size", input }

        public init(id: String, sha256: String, threshold: Double, inputSize: Int, input: DetectorInput = .faceCrop) {
            (self.id, self.sha256, self.threshold, self.inputSize, self.input) = (id, sha256, threshold, inputSize, input)
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decode(String.self, forKey: .id)
            sha256 = try c.decode(String.self, forKey: .sha256)
            threshold = try c.decode(Double.self, forKey: .threshold)
            inputSize = try c.decode(Int.self, forKey: .inputSize)
            // Records written before the field existed were all face-crop models.
            input = try c.decodeIfPresent(DetectorInput.self, forKey: .input) ?? .faceCrop
        }
    }

    /// Wall time per stage, milliseconds.
    public struct Timings: Codable, Sendable, Equatable {
        public var decode: Double
        public var faces: Double
        public var model: Double
        public var total: Double

        public init(decode: Double, faces: Double, model: Double, total: Double) {
            (self.decode, self.faces, self.model, self.total) = (decode, faces, model, total)
        }
    }

    /// A record with every field given (`members` only for fusions).
    public init(source: String, kind: String?, verdict: Label, probability: Double?, aggregation: String, frames: Int, framesWithFaces: Int,
                faces: [Face], model: Model, timingsMs: Timings, warnings: [String], error: String?, members: [MemberVerdict]? = nil) {
        (self.source, self.kind, self.verdict, self.probability, self.aggregation) = (source, kind, verdict, probability, aggregation)
        (self.frames, self.framesWithFaces, self.faces, self.model, self.timingsMs) = (frames, framesWithFaces, faces, model, timingsMs)
        (self.warnings, self.error, self.members) = (warnings, error, members)
    }

    public var schema = Verdict.schemaName
    public var source: String
    /// `image` or `video` (nil when the file could not be read).
    public var kind: String?
    public var verdict: Label
    /// Aggregated P(fake) of the input; nil for NO_FACE and ERROR.
    public var probability: Double?
    /// The video-level rule used (`mean`, `max-mean`, `confident`).
    public var aggregation: String
    public var frames: Int
    public var framesWithFaces: Int
    public var faces: [Face]
    public var model: Model
    public var timingsMs: Timings
    public var warnings: [String]
    public var error: String?
    /// For a fusion: each member detector's own verdict on the file, in member order; nil (`null`) otherwise.
    public var members: [MemberVerdict]? = nil

    enum CodingKeys: String, CodingKey {
        case schema, source, kind, verdict, probability, aggregation, frames, framesWithFaces = "frames_with_faces", faces, model
        case timingsMs = "timings_ms", warnings, error, members
    }

    /// Writes every key, `null` where unset, so each record has the same columns.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schema, forKey: .schema)
        try c.encode(source, forKey: .source)
        try c.encode(kind, forKey: .kind)
        try c.encode(verdict, forKey: .verdict)
        try c.encode(probability, forKey: .probability)
        try c.encode(aggregation, forKey: .aggregation)
        try c.encode(frames, forKey: .frames)
        try c.encode(framesWithFaces, forKey: .framesWithFaces)
        try c.encode(faces, forKey: .faces)
        try c.encode(model, forKey: .model)
        try c.encode(timingsMs, forKey: .timingsMs)
        try c.encode(warnings, forKey: .warnings)
        try c.encode(error, forKey: .error)
        try c.encode(members, forKey: .members)
    }

    /// The record for a file that could not be read.
    public static func failure(source: String, error: String, model: Model, aggregation: String) -> Verdict {
        Verdict(source: source, kind: nil, verdict: .error, probability: nil, aggregation: aggregation, frames: 0, framesWithFaces: 0,
                faces: [], model: model, timingsMs: Timings(decode: 0, faces: 0, model: 0, total: 0), warnings: [], error: error)
    }
}

/// How face-frame scores become one score per input (`detect --aggregate`).
public enum VerdictAggregation: String, CaseIterable, Sendable {
    /// Mean over every face-frame (DeepfakeBench).
    case mean
    /// Per frame the max over its faces, then the mean over frames (SBI; the default).
    case maxMean = "max-mean"
    /// Confident frames (DFDC winner): see `VideoAggregation.confident`.
    case confident

    /// The metric-side rule.
    public var rule: VideoAggregation {
        switch self {
        case .mean: .mean
        case .maxMean: .maxOverFacesThenMean
        case .confident: .confident
        }
    }

    /// The name `rule` would have in a model card (`max-mean` for the SBI rule).
    public init?(cardName: String) {
        self.init(rawValue: cardName == "maxOverFacesThenMean" ? "max-mean" : cardName)
    }
}
