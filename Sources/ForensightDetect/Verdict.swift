import Foundation
import ForensightEvaluation

/// The outcome for one input file: the `detect --json` record (schema `forensight.detect/2`, docs/DETECT.md).
public struct Verdict: Codable, Sendable, Equatable {
    /// Version 2 added each ensemble member's P(fake) (`members`) to faces and face-frames.
    public static let schemaName = "forensight.detect/2"

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

    enum CodingKeys: String, CodingKey {
        case schema, source, kind, verdict, probability, aggregation, frames, framesWithFaces = "frames_with_faces", faces, model
        case timingsMs = "timings_ms", warnings, error
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
