import Foundation

extension EvaluationResults {
    /// How often real inputs are called FAKE at the model's threshold, for one (model run, condition, dataset, group).
    ///
    /// A unit is what `detect` gives a verdict on: a video (max over faces, then mean over frames) or a photo. Units
    /// without a face (NO_FACE) are counted apart and left out of the rate. The interval is Wilson's score interval
    /// at 95 %, which stays inside [0, 1] and is honest at rates near 0.
    public struct RealFlagRow: Codable, Sendable, Equatable {
        public var model: String
        public var run: Int
        public var condition: String
        public var dataset: String
        /// `all`, or `attribute=value` (e.g. `race=Black`) for datasets with per-file attributes.
        public var group: String
        /// Real units with a face, and how many of them reached the threshold.
        public var units: Int, flagged: Int
        /// Real units in which no face was found.
        public var noFace: Int
        public var rate: Double, lower: Double, upper: Double
        enum CodingKeys: String, CodingKey { case model, run, condition, dataset, group, units, flagged, noFace = "no_face", rate, lower, upper }
    }

    /// Expected calibration error (10 equal-width bins) of P(fake) for one (model run, condition, scope, level), with a
    /// percentile bootstrap interval over the scored units (face-frames or videos; 1,000 resamples).
    public struct CalibrationRow: Codable, Sendable, Equatable {
        public var model: String
        public var run: Int
        public var condition: String
        /// `pooled` (every dataset together) or a dataset name.
        public var scope: String
        /// `frame` or `video (maxOverFacesThenMean)`.
        public var level: String
        public var count: Int
        public var ece: Double, lower: Double, upper: Double
    }

    /// The real-flag rate of `items` (reals only are used) at `threshold`.
    public static func realFlagRate(_ items: [Item], threshold: Double) -> (units: Int, flagged: Int, noFace: Int) {
        var (units, flagged, noFace) = (0, 0, 0)
        for item in items where item.label == 0 && item.error == nil {
            guard let score = unitScore(item) else { noFace += 1; continue }
            units += 1
            if score >= threshold { flagged += 1 }
        }
        return (units, flagged, noFace)
    }

    /// The verdict score of one item: per frame the highest face score, then the mean over frames, raised to a
    /// fusion's floor when it has one (nil without faces).
    public static func unitScore(_ item: Item) -> Double? {
        guard !item.faces.isEmpty else { return nil }
        return try? Item.videoScores([item]).scores.first
    }

    /// Wilson's score interval for `k` successes in `n` trials (z = 1.96); (0, 1) for n = 0.
    public static func wilsonInterval(_ k: Int, _ n: Int, z: Double = 1.959964) -> (lower: Double, upper: Double) {
        guard n > 0 else { return (0, 1) }
        let (p, nn) = (Double(k) / Double(n), Double(n))
        let centre = (p + z * z / (2 * nn)) / (1 + z * z / nn)
        let half = z / (1 + z * z / nn) * (p * (1 - p) / nn + z * z / (4 * nn * nn)).squareRoot()
        return (max(0, centre - half), min(1, centre + half))
    }

    /// Fills `realFlags` and `calibration` from `items` (called by `computeMetrics`).
    mutating func computeRealsAndCalibration(bootstrapResamples: Int) throws {
        realFlags = []
        calibration = []
        for (run, model) in models.enumerated() {
            for condition in conditions {
                let scored = items.filter { $0.run == run && $0.condition == condition && $0.error == nil }
                for dataset in datasets {
                    let reals = scored.filter { $0.dataset == dataset.name && $0.label == 0 }
                    guard !reals.isEmpty else { continue }
                    var groups: [(String, [Item])] = [("all", reals)]
                    let keys = Set(reals.flatMap { ($0.attributes ?? [:]).keys }).sorted()
                    for key in keys {
                        let values = Set(reals.compactMap { $0.attributes?[key] }).sorted()
                        groups += values.map { v in ("\(key)=\(v)", reals.filter { $0.attributes?[key] == v }) }
                    }
                    for (group, members) in groups {
                        let r = Self.realFlagRate(members, threshold: model.threshold)
                        let (lower, upper) = Self.wilsonInterval(r.flagged, r.units)
                        realFlags.append(RealFlagRow(model: model.name, run: run, condition: condition, dataset: dataset.name, group: group,
                                                     units: r.units, flagged: r.flagged, noFace: r.noFace,
                                                     rate: r.units > 0 ? Double(r.flagged) / Double(r.units) : 0, lower: lower, upper: upper))
                    }
                }
                var scopes: [(String, [Item])] = [("pooled", scored)]
                scopes += datasets.map { d in (d.name, scored.filter { $0.dataset == d.name }) }
                for (scope, members) in scopes {
                    let frames = members.flatMap { item in item.faces.map { ($0.score, item.label) } }
                    let units = members.compactMap { item in Self.unitScore(item).map { ($0, item.label) } }
                    for (level, pairs) in [("frame", frames), ("video (maxOverFacesThenMean)", units)] where pairs.count >= 2 {
                        let ece: ([Double], [Int]) throws -> Double = { try Metrics.expectedCalibrationError(probabilities: $0, labels: $1, bins: 10) }
                        let interval = try Metrics.bootstrapCI(ece, scores: pairs.map(\.0), labels: pairs.map(\.1),
                                                               resamples: max(bootstrapResamples, 1), seed: seed)
                        calibration.append(CalibrationRow(model: model.name, run: run, condition: condition, scope: scope, level: level,
                                                          count: pairs.count, ece: interval.estimate, lower: interval.lower, upper: interval.upper))
                    }
                }
            }
        }
    }
}
