import Foundation

extension EvaluationResults {
    /// How one benign edit moved the verdicts of one class of one dataset (`evaluate --stability`).
    ///
    /// Each image is paired with its edited copy (same item id; conditions `clean` and `edit:<name>`). A flip is any
    /// change among REAL, FAKE and NO_FACE at the model's threshold (flip rate with Wilson's 95 % interval). |ΔP| is over
    /// the pairs where both versions have a face. Where the dataset has both classes, `auc` and `aucClean` are the
    /// video-level (max-mean; a photo is its own video) AUCs, and the paired difference edit − clean has a percentile
    /// bootstrap interval over videos.
    public struct StabilityRow: Codable, Sendable, Equatable {
        public var model: String
        public var run: Int
        public var edit: String
        public var dataset: String
        /// `real`, `fake`, or `all` for the AUC row.
        public var subset: String
        public var pairs: Int
        public var flips: Int
        public var flipRate: Double, flipLower: Double, flipUpper: Double
        public var meanAbsDelta: Double?, p95AbsDelta: Double?
        public var auc: Double?, aucClean: Double?, aucDelta: Double?, aucDeltaLower: Double?, aucDeltaUpper: Double?
        enum CodingKeys: String, CodingKey {
            case model, run, edit, dataset, subset, pairs, flips, flipRate = "flip_rate", flipLower = "flip_lower", flipUpper = "flip_upper"
            case meanAbsDelta = "mean_abs_delta", p95AbsDelta = "p95_abs_delta", auc, aucClean = "auc_clean", aucDelta = "auc_delta"
            case aucDeltaLower = "auc_delta_lower", aucDeltaUpper = "auc_delta_upper"
        }
    }

    /// The verdict of one item at `threshold`: nil for an unreadable file, else REAL / FAKE / NO_FACE.
    public static func verdictLabel(_ item: Item, threshold: Double) -> String? {
        guard item.error == nil else { return nil }
        guard let score = unitScore(item) else { return "NO_FACE" }
        return score >= threshold ? "FAKE" : "REAL"
    }

    /// Fills `stability` from items whose condition starts with `edit:`.
    mutating func computeStability(bootstrapResamples: Int) throws {
        stability = []
        for (run, model) in models.enumerated() {
            let clean = Dictionary(items.filter { $0.run == run && $0.condition == "clean" }.map { ($0.dataset + "\u{1F}" + $0.id, $0) },
                                   uniquingKeysWith: { a, _ in a })
            for condition in conditions where condition.hasPrefix("edit:") {
                let edited = items.filter { $0.run == run && $0.condition == condition }
                for dataset in datasets {
                    let members = edited.filter { $0.dataset == dataset.name }
                    guard !members.isEmpty else { continue }
                    for (subset, label) in [("real", 0), ("fake", 1)] {
                        var (pairs, flips, deltas) = (0, 0, [Double]())
                        for e in members where e.label == label {
                            guard let c = clean[e.dataset + "\u{1F}" + e.id], let before = Self.verdictLabel(c, threshold: model.threshold),
                                  let after = Self.verdictLabel(e, threshold: model.threshold) else { continue }
                            pairs += 1
                            if before != after { flips += 1 }
                            if let a = Self.unitScore(c), let b = Self.unitScore(e) { deltas.append(abs(b - a)) }
                        }
                        guard pairs > 0 else { continue }
                        let (lower, upper) = Self.wilsonInterval(flips, pairs)
                        let sorted = deltas.sorted()
                        let p95 = sorted.isEmpty ? nil : sorted[min(sorted.count - 1, Int((0.95 * Double(sorted.count - 1)).rounded(.up)))]
                        stability.append(StabilityRow(model: model.name, run: run, edit: String(condition.dropFirst(5)), dataset: dataset.name,
                                                      subset: subset, pairs: pairs, flips: flips, flipRate: Double(flips) / Double(pairs),
                                                      flipLower: lower, flipUpper: upper,
                                                      meanAbsDelta: deltas.isEmpty ? nil : deltas.reduce(0, +) / Double(deltas.count), p95AbsDelta: p95))
                    }
                    if let row = try pairedAUC(model: model, run: run, condition: condition, dataset: dataset.name, clean: clean,
                                               edited: members, resamples: bootstrapResamples) {
                        stability.append(row)
                    }
                }
            }
        }
    }

    /// Video-level AUC clean and under the edit over the videos scored in both, with the paired bootstrap difference.
    private func pairedAUC(model: Model, run: Int, condition: String, dataset: String, clean: [String: Item], edited: [Item],
                           resamples: Int) throws -> StabilityRow? {
        var byVideo: [String: (label: Int, clean: [Double], edit: [Double])] = [:]
        for e in edited {
            guard let c = clean[e.dataset + "\u{1F}" + e.id], let a = Self.unitScore(c), let b = Self.unitScore(e) else { continue }
            byVideo[e.videoID, default: (e.label, [], [])].clean.append(a)
            byVideo[e.videoID, default: (e.label, [], [])].edit.append(b)
        }
        let videos = byVideo.keys.sorted().map { byVideo[$0]! }
        let labels = videos.map(\.label)
        guard labels.contains(0), labels.contains(1) else { return nil }
        let cleanScores = videos.map { $0.clean.reduce(0, +) / Double($0.clean.count) }
        let editScores = videos.map { $0.edit.reduce(0, +) / Double($0.edit.count) }
        let (aucClean, aucEdit) = (try Metrics.auc(scores: cleanScores, labels: labels), try Metrics.auc(scores: editScores, labels: labels))
        var differences: [Double] = []
        let options = BootstrapOptions(resamples: max(resamples, 1), seed: seed, level: 0.95)
        Bootstrap.forEachResample(count: videos.count, options: options) { indices in
            let y = indices.map { labels[$0] }
            guard y.contains(0), y.contains(1),
                  let a = try? Metrics.auc(scores: indices.map { cleanScores[$0] }, labels: y),
                  let b = try? Metrics.auc(scores: indices.map { editScores[$0] }, labels: y) else { return }
            differences.append(b - a)
        }
        let interval: (lower: Double, upper: Double)? = differences.isEmpty ? nil : Bootstrap.percentileInterval(differences, level: 0.95)
        return StabilityRow(model: model.name, run: run, edit: String(condition.dropFirst(5)), dataset: dataset, subset: "all",
                            pairs: videos.count, flips: 0, flipRate: 0, flipLower: 0, flipUpper: 0, meanAbsDelta: nil, p95AbsDelta: nil,
                            auc: aucEdit, aucClean: aucClean, aucDelta: aucEdit - aucClean,
                            aucDeltaLower: interval?.lower, aucDeltaUpper: interval?.upper)
    }
}
