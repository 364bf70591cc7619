import Foundation

/// The results file of `forensight evaluate` (schema `forensight.evaluate/1`): every score it measured and every
/// metric computed from them. Reports and docs/RESULTS.md are rendered from this file only.
public struct EvaluationResults: Codable, Sendable, Equatable {
    public static let schemaName = "forensight.evaluate/1"

    /// A detector that was evaluated. Several runs of one method (different training seeds) share a `name`.
    public struct Model: Codable, Sendable, Equatable {
        public var name: String
        public var path: String
        public var id: String
        public var sha256: String
        public var threshold: Double
        /// What the model card says about its training data and recipe.
        public var notes: String
        public init(name: String, path: String, id: String, sha256: String, threshold: Double, notes: String) {
            (self.name, self.path, self.id, self.sha256, self.threshold, self.notes) = (name, path, id, sha256, threshold, notes)
        }
    }

    /// A test dataset and what it holds.
    public struct Dataset: Codable, Sendable, Equatable {
        public var name: String
        public var path: String
        public var real: Int
        public var fake: Int
        public var methods: [String]
        public init(name: String, path: String, real: Int, fake: Int, methods: [String]) {
            (self.name, self.path, self.real, self.fake, self.methods) = (name, path, real, fake, methods)
        }
    }

    /// One face-frame score.
    public struct FaceScore: Codable, Sendable, Equatable {
        public var frame: Int
        public var face: Int
        public var score: Double
        public init(frame: Int, face: Int, score: Double) { (self.frame, self.face, self.score) = (frame, face, score) }
    }

    /// The scores of one video (or image) under one model (run) and one condition.
    public struct Item: Codable, Sendable, Equatable {
        public var model: String
        /// Index into `models` (distinguishes runs of one method).
        public var run: Int
        public var condition: String
        public var dataset: String
        public var id: String
        public var videoID: String
        public var method: String?
        public var label: Int
        public var faces: [FaceScore]
        /// Set when the file could not be read; such items are left out of the metrics.
        public var error: String?
        /// Per-file attributes of the dataset (FairFace's age, gender, race), when it lists them.
        public var attributes: [String: String]?
        /// For a fusion (`FusedDetector`): each member's own file-level P(fake), by member id. `faces` are the primary
        /// member's.
        public var memberProbabilities: [String: Double]?
        /// For a fusion whose other member called the file FAKE: the file's P(fake) after that member raised it. The
        /// file's video-level score is at least this (`videoScores`); its face (frame-level) scores are the primary's.
        public var raisedTo: Double?
        enum CodingKeys: String, CodingKey {
            case model, run, condition, dataset, id, videoID = "video_id", method, label, faces, error, attributes
            case memberProbabilities = "member_probabilities", raisedTo = "raised_to"
        }
        public init(model: String, run: Int, condition: String, dataset: String, id: String, videoID: String, method: String?,
                    label: Int, faces: [FaceScore], error: String?, attributes: [String: String]? = nil) {
            (self.model, self.run, self.condition, self.dataset, self.id, self.videoID) = (model, run, condition, dataset, id, videoID)
            (self.method, self.label, self.faces, self.error, self.attributes) = (method, label, faces, error, attributes)
        }
    }

    /// Metrics of one (model run, condition, dataset, subset, level).
    public struct Row: Codable, Sendable, Equatable {
        public var model: String
        public var run: Int
        public var condition: String
        public var dataset: String
        /// `all` (every fake against every real of the dataset) or a manipulation method (its fakes against all reals).
        public var subset: String
        public var report: MetricReport
    }

    /// Metrics of one (model, condition, dataset, subset, level) over the runs of a model: mean and sample
    /// standard deviation of the AUC (0 for a single run).
    public struct Summary: Codable, Sendable, Equatable {
        public var model: String
        public var condition: String
        public var dataset: String
        public var subset: String
        public var level: String
        public var runs: Int
        public var aucMean: Double
        public var aucStd: Double
        public var accuracyMean: Double
        public var eerMean: Double
        enum CodingKeys: String, CodingKey {
            case model, condition, dataset, subset, level, runs, aucMean = "auc_mean", aucStd = "auc_std", accuracyMean = "accuracy_mean"
            case eerMean = "eer_mean"
        }
    }

    public var schema = EvaluationResults.schemaName
    /// The command line that produced the file.
    public var command: String
    public var seed: UInt64
    public var framesPerVideo: Int
    public var models: [Model]
    public var datasets: [Dataset]
    /// `clean`, then the degradations in the order run (`jpeg-q90`, `blur-sigma2`, `crop:jpeg-q50`, …).
    public var conditions: [String]
    public var items: [Item]
    public var rows: [Row] = []
    public var summaries: [Summary] = []
    /// Reals called FAKE at each model's threshold, per dataset and attribute group (`RealFlagRow`).
    public var realFlags: [RealFlagRow] = []
    /// Expected calibration error per model, condition, dataset (and pooled), frame and video level.
    public var calibration: [CalibrationRow] = []
    /// Flip rates, |ΔP(fake)| and paired AUC changes under benign edits (`evaluate --stability`).
    public var stability: [StabilityRow] = []
    /// Cross-AUC matrices per model run and condition (`CrossAUCMatrix`).
    public var crossAUC: [CrossAUCRow] = []

    enum CodingKeys: String, CodingKey {
        case schema, command, seed, framesPerVideo = "frames_per_video", models, datasets, conditions, items, rows, summaries
        case realFlags = "real_flags", calibration, stability, crossAUC = "cross_auc"
    }

    /// Reads a results file; files written before `real_flags` and `calibration` existed read with both empty.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schema = try c.decode(String.self, forKey: .schema)
        command = try c.decode(String.self, forKey: .command)
        seed = try c.decode(UInt64.self, forKey: .seed)
        framesPerVideo = try c.decode(Int.self, forKey: .framesPerVideo)
        models = try c.decode([Model].self, forKey: .models)
        datasets = try c.decode([Dataset].self, forKey: .datasets)
        conditions = try c.decode([String].self, forKey: .conditions)
        items = try c.decode([Item].self, forKey: .items)
        rows = try c.decode([Row].self, forKey: .rows)
        summaries = try c.decode([Summary].self, forKey: .summaries)
        realFlags = try c.decodeIfPresent([RealFlagRow].self, forKey: .realFlags) ?? []
        calibration = try c.decodeIfPresent([CalibrationRow].self, forKey: .calibration) ?? []
        stability = try c.decodeIfPresent([StabilityRow].self, forKey: .stability) ?? []
        crossAUC = try c.decodeIfPresent([CrossAUCRow].self, forKey: .crossAUC) ?? []
    }

    public init(command: String, seed: UInt64, framesPerVideo: Int, models: [Model], datasets: [Dataset], conditions: [String], items: [Item]) {
        (self.command, self.seed, self.framesPerVideo, self.models, self.datasets, self.conditions, self.items) =
            (command, seed, framesPerVideo, models, datasets, conditions, items)
    }

    /// The video rules every results file reports: `mean` (DeepfakeBench) and `maxOverFacesThenMean` (SBI).
    public static let videoRules: [VideoAggregation] = [.mean, .maxOverFacesThenMean]
}

extension EvaluationResults.Item {
    /// The face scores as aggregation records of one unit named `videoID`.
    public func records(videoID: String) -> [FrameScore] {
        faces.map { FrameScore(videoID: videoID, frameIndex: $0.frame, faceID: $0.face, score: $0.score, label: label) }
    }

    /// `rule` over the face scores of `items`, each item one unit named `key(item)`, and each unit's score raised to
    /// the item's fusion floor (`raisedTo`) when it has one: the score `detect` gives the file.
    public static func videoScores(_ items: [EvaluationResults.Item], rule: VideoAggregation = .maxOverFacesThenMean,
                                   key: (EvaluationResults.Item) -> String = { $0.id }) throws -> VideoScores {
        var videos = try rule.aggregate(items.flatMap { $0.records(videoID: key($0)) })
        let floors = Dictionary(items.compactMap { item in item.raisedTo.map { (key(item), $0) } }, uniquingKeysWith: max)
        guard !floors.isEmpty else { return videos }
        for (k, id) in videos.videoIDs.enumerated() { if let floor = floors[id] { videos.scores[k] = max(videos.scores[k], floor) } }
        return videos
    }
}
