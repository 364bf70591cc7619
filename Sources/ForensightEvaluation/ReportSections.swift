import Foundation

extension EvaluationReport {
    /// Reals called FAKE (per dataset and attribute group) and the expected calibration error, clean condition.
    mutating func realsAndCalibration() {
        let flags = results.realFlags.filter { $0.condition == "clean" }
        if !flags.isEmpty {
            blocks.append(.heading("Reals called FAKE at the model's threshold (clean)"))
            blocks.append(.paragraph("A unit is what `detect` judges: a video (max over faces, then mean over frames) or a photo. "
                + "Units without a face (NO_FACE) are counted apart. Intervals are Wilson 95 % intervals. Groups come from the "
                + "dataset's attributes.csv, each attribute on its own."))
            blocks.append(.table(header: ["model", "dataset", "group", "real units", "called FAKE", "rate [95 % CI]", "NO_FACE"],
                                 rows: flags.map { r in
                [r.model, r.dataset, r.group, String(r.units), String(r.flagged),
                 String(format: "%.1f %% [%.1f, %.1f]", 100 * r.rate, 100 * r.lower, 100 * r.upper), String(r.noFace)]
            }))
        }
        let ece = results.calibration.filter { $0.condition == "clean" }
        if !ece.isEmpty {
            blocks.append(.heading("Calibration (clean)"))
            blocks.append(.paragraph("Expected calibration error of P(fake), 10 equal-width bins; 95 % bootstrap intervals over the scored "
                + "face-frames or videos. On a reals-only dataset it measures how far P(fake) sits above 0."))
            blocks.append(.table(header: ["model", "scope", "level", "scored", "ECE [95 % CI]"], rows: ece.map { r in
                [r.model, r.scope, r.level, String(r.count), String(format: "%.4f [%.4f, %.4f]", r.ece, r.lower, r.upper)]
            }))
        }
    }

    /// Flip rates, |ΔP(fake)| and paired AUC changes under the stability protocol's edits.
    mutating func stabilitySection(models: [String]) {
        let rows = results.stability
        guard !rows.isEmpty else { return }
        blocks.append(.heading("Stability under benign edits"))
        blocks.append(.paragraph("Each sampled image is scored as shipped and after each edit (written to disk and run through the whole "
            + "pipeline). A flip is any change among REAL, FAKE and NO_FACE; intervals are Wilson 95 %. |ΔP| is over images with a face "
            + "in both versions. AUC rows: video level (max-mean), with the paired bootstrap interval of the change."))
        func pct(_ r: EvaluationResults.StabilityRow) -> String { String(format: "%.1f %% [%.1f, %.1f]", 100 * r.flipRate, 100 * r.flipLower, 100 * r.flipUpper) }
        blocks.append(.table(header: ["model", "dataset", "class", "edit", "pairs", "flips", "flip rate [95 % CI]", "mean |ΔP|", "p95 |ΔP|"],
                             rows: rows.filter { $0.subset != "all" }.map { r in
            [r.model, r.dataset, r.subset, r.edit, String(r.pairs), String(r.flips), pct(r), f(r.meanAbsDelta), f(r.p95AbsDelta)]
        }))
        let aucRows = rows.filter { $0.subset == "all" }
        if !aucRows.isEmpty {
            blocks.append(.table(header: ["model", "dataset", "edit", "videos", "AUC clean", "AUC edited", "change [95 % CI]"], rows: aucRows.map { r in
                [r.model, r.dataset, r.edit, String(r.pairs), f(r.aucClean), f(r.auc),
                 String(format: "%+.4f [%+.4f, %+.4f]", r.aucDelta ?? 0, r.aucDeltaLower ?? 0, r.aucDeltaUpper ?? 0)]
            }))
        }
        let edits = rows.map(\.edit).uniqued()
        for (dataset, subset) in rows.filter({ $0.subset != "all" }).map({ ($0.dataset, $0.subset) }).uniquedPairs() {
            let series = models.map { m in
                (name: m, values: edits.map { e in rows.first { $0.model == m && $0.dataset == dataset && $0.subset == subset && $0.edit == e }.map(\.flipRate) })
            }
            let stem = (dataset + "-" + subset).lowercased().filter { $0.isLetter || $0.isNumber || $0 == "-" }
            blocks.append(.figure(name: "stability-\(stem)", caption: "Flip rate per edit, \(dataset) \(subset)s",
                                  svg: SVGChart(title: "Flip rate per edit: \(dataset), \(subset)", xLabel: "edit", yLabel: "flip rate")
                                    .bars(categories: edits, series: series)))
        }
    }
}

extension Array where Element == (String, String) {
    /// The pairs in first-seen order, without repeats.
    func uniquedPairs() -> [(String, String)] {
        var seen = Set<String>()
        return filter { seen.insert($0.0 + "\u{1F}" + $0.1).inserted }
    }
}
