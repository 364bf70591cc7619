import Foundation

extension EvaluationResults {
    /// Fills `rows` and `summaries` from `items`.
    ///
    /// For every model run, condition and dataset: the subset `all` (every fake against every real) and one subset
    /// per manipulation method (its fakes against all reals), each at frame level (one score per face crop) and at
    /// video level under each of `videoRules`. Hard decisions use the model's threshold. 95 % bootstrap intervals
    /// (1,000 resamples, `seed`) are computed for the `clean` condition. Subsets without a real and a fake that both have a
    /// face are skipped.
    public mutating func computeMetrics(bootstrapResamples: Int = 1000) throws {
        rows = []
        for (run, model) in models.enumerated() {
            for condition in conditions {
                for dataset in datasets {
                    let members = items.filter { $0.run == run && $0.condition == condition && $0.dataset == dataset.name && $0.error == nil }
                    let reals = members.filter { $0.label == 0 }
                    let methods = Set(members.filter { $0.label == 1 }.compactMap(\.method)).sorted()
                    var subsets: [(String, [Item])] = [("all", members)]
                    if methods.count > 1 { subsets += methods.map { m in (m, reals + members.filter { $0.label == 1 && $0.method == m }) } }
                    for (subset, chosen) in subsets {
                        guard chosen.contains(where: { $0.label == 0 && !$0.faces.isEmpty }), chosen.contains(where: { $0.label == 1 && !$0.faces.isEmpty }) else { continue }
                        let bootstrap = condition == "clean" && bootstrapResamples > 0
                            ? BootstrapOptions(resamples: bootstrapResamples, seed: seed, level: 0.95) : nil
                        for report in try Self.reports(chosen, threshold: model.threshold, bootstrap: bootstrap) {
                            rows.append(Row(model: model.name, run: run, condition: condition, dataset: dataset.name, subset: subset, report: report))
                        }
                    }
                }
            }
        }
        summaries = Self.summarize(rows)
        try computeRealsAndCalibration(bootstrapResamples: bootstrapResamples)
        try computeStability(bootstrapResamples: bootstrapResamples)
        crossAUC = try models.indices.flatMap { run in
            try conditions.compactMap { condition in
                try crossAUC(run: run, condition: condition).map { CrossAUCRow(model: models[run].name, run: run, condition: condition, matrix: $0) }
            }
        }
    }

    /// Frame-level and video-level reports for one set of items. Items without faces have no score and are left
    /// out of both levels (they stay in `items` with an empty `faces`).
    static func reports(_ items: [Item], threshold: Double, bootstrap: BootstrapOptions?) throws -> [MetricReport] {
        let withFaces = items.filter { !$0.faces.isEmpty }
        var frameScores: [Double] = [], frameLabels: [Int] = []
        for item in withFaces {
            for f in item.faces { frameScores.append(f.score); frameLabels.append(item.label) }
        }
        var out = [try MetricReport.compute(scores: frameScores, labels: frameLabels, threshold: threshold, level: .frame, bootstrap: bootstrap)]
        for rule in videoRules {
            let videos = try Item.videoScores(withFaces, rule: rule) { $0.dataset + "/" + $0.id }
            out.append(try MetricReport.compute(scores: videos.scores, labels: videos.labels, threshold: threshold, level: .video(rule),
                                                bootstrap: bootstrap))
        }
        return out
    }

    /// Mean and spread over the runs of each model.
    static func summarize(_ rows: [Row]) -> [Summary] {
        var groups: [String: [Row]] = [:]
        var order: [String] = []
        for r in rows {
            let key = [r.model, r.condition, r.dataset, r.subset, r.report.level.description].joined(separator: "\u{1F}")
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(r)
        }
        return order.map { key in
            let g = groups[key]!
            let aucs = g.map(\.report.auc)
            let mean = aucs.reduce(0, +) / Double(aucs.count)
            let std = aucs.count > 1 ? (aucs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(aucs.count - 1)).squareRoot() : 0
            return Summary(model: g[0].model, condition: g[0].condition, dataset: g[0].dataset, subset: g[0].subset,
                           level: g[0].report.level.description, runs: g.count, aucMean: mean, aucStd: std,
                           accuracyMean: g.map(\.report.accuracy).reduce(0, +) / Double(g.count),
                           eerMean: g.map(\.report.eer).reduce(0, +) / Double(g.count))
        }
    }

    /// The summary for a cell, if measured.
    public func summary(model: String, condition: String = "clean", dataset: String, subset: String = "all",
                        level: String = "video (maxOverFacesThenMean)") -> Summary? {
        summaries.first { $0.model == model && $0.condition == condition && $0.dataset == dataset && $0.subset == subset && $0.level == level }
    }
}
