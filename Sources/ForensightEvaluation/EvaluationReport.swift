import Foundation

/// A report of an `EvaluationResults` file: tables and SVG charts, rendered as one self-contained HTML page and as
/// Markdown with the charts as SVG files beside it (`forensight report`).
public struct EvaluationReport {
    public enum Block {
        case heading(String)
        case paragraph(String)
        case table(header: [String], rows: [[String]])
        /// A chart: file stem (for Markdown) and the SVG text.
        case figure(name: String, caption: String, svg: String)
    }

    public let results: EvaluationResults
    public internal(set) var blocks: [Block] = []

    static let videoRule = "video (maxOverFacesThenMean)"

    public init(_ results: EvaluationResults) {
        self.results = results
        build()
    }

    func f(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "–" }

    /// AUC mean (± sd over runs when there are several).
    func auc(_ s: EvaluationResults.Summary?) -> String {
        guard let s else { return "–" }
        return s.runs > 1 ? String(format: "%.4f ± %.4f", s.aucMean, s.aucStd) : f(s.aucMean)
    }

    mutating func build() {
        let modelNames = results.models.map(\.name).uniqued()
        blocks.append(.heading("Forensight evaluation"))
        blocks.append(.paragraph("Made by `\(results.command)` (seed \(results.seed), \(results.framesPerVideo) frames per video). "
            + "Video-level scores use the max-over-faces-then-mean rule (SBI) unless a column says mean (DeepfakeBench); "
            + "frame level is one score per face crop. Intervals are 95 % bootstrap intervals (1,000 resamples)."))
        blocks.append(.table(header: ["model", "weights (sha256)", "threshold", "training"],
                             rows: results.models.map { [$0.name, String($0.sha256.prefix(12)), f($0.threshold), $0.notes] }))
        // Tested = scored under the clean condition by the first model (its training samples are left out).
        let clean = results.items.filter { $0.condition == "clean" && $0.run == 0 }
        blocks.append(.table(header: ["dataset", "real", "fake", "tested real", "tested fake", "methods"], rows: results.datasets.map { d in
            let tested = clean.filter { $0.dataset == d.name }
            return [d.name, String(d.real), String(d.fake), String(tested.filter { $0.label == 0 }.count),
                    String(tested.filter { $0.label == 1 }.count), d.methods.joined(separator: ", ")]
        }))

        blocks.append(.heading("Results (clean)"))
        var rows: [[String]] = []
        for model in modelNames {
            for dataset in results.datasets {
                for subset in ["all"] + dataset.methods {
                    guard let video = results.summary(model: model, dataset: dataset.name, subset: subset) else { continue }
                    let first = results.rows.first { $0.model == model && $0.condition == "clean" && $0.dataset == dataset.name && $0.subset == subset
                        && $0.report.level.description == Self.videoRule }
                    let ci = first?.report.confidenceIntervals?["auc"].map { String(format: "[%.3f, %.3f]", $0.lower, $0.upper) } ?? ""
                    let tpr = first?.report.tprAtFPR.first { $0.target == 0.01 }?.value
                    rows.append([model, dataset.name, subset, "\(auc(video)) \(ci)",
                                 auc(results.summary(model: model, dataset: dataset.name, subset: subset, level: "video (mean)")),
                                 auc(results.summary(model: model, dataset: dataset.name, subset: subset, level: "frame")),
                                 f(first?.report.averagePrecision), f(first?.report.eer), f(first?.report.accuracy), f(tpr)])
                }
            }
        }
        blocks.append(.table(header: ["model", "dataset", "fakes", "video AUC", "video AUC (mean)", "frame AUC", "video AP", "video EER",
                                      "video ACC", "video TPR@1%FPR"], rows: rows))
        if results.datasets.count > 1 || modelNames.count > 1 {
            blocks.append(.heading("Cross-dataset matrix (video AUC, clean)"))
            blocks.append(.table(header: ["model \\ tested on"] + results.datasets.map(\.name),
                                 rows: modelNames.map { m in [m] + results.datasets.map { auc(results.summary(model: m, dataset: $0.name)) } }))
        }
        crossAUCSection(models: modelNames)
        for dataset in results.datasets { figures(for: dataset, models: modelNames) }
        robustness(models: modelNames)
        realsAndCalibration()
        stabilitySection(models: modelNames)
    }

    /// ROC curves, per-method bars and score histograms of one dataset (clean, first run of each model).
    mutating func figures(for dataset: EvaluationResults.Dataset, models: [String]) {
        let stem = dataset.name.lowercased().filter { $0.isLetter || $0.isNumber }
        // With many methods, one curve per family (the first folder of the fakes' paths) keeps the chart readable.
        let families = methodFamilies(dataset: dataset.name)
        let familyNames = Set(families.values).sorted()
        let byFamily = dataset.methods.count > 8 && familyNames.count > 1 && familyNames.count < dataset.methods.count
        var roc: [SVGChart.Series] = []
        for model in models {
            let subsets = byFamily ? familyNames.map { ($0, true) } : (dataset.methods.count > 1 ? dataset.methods : []).map { ($0, false) }
            for (subset, isFamily) in [("all", false)] + subsets {
                guard let (scores, labels) = videoScores(model: model, condition: "clean", dataset: dataset.name, subset: subset,
                                                         families: isFamily ? families : nil),
                      let curve = try? Metrics.rocCurve(scores: scores, labels: labels) else { continue }
                let name = isFamily ? "\(subset) (\(families.values.filter { $0 == subset }.count) methods)" : subset
                roc.append(.init(name: models.count > 1 ? "\(model) \(name)" : name,
                                 points: zip(curve.falsePositiveRate, curve.truePositiveRate).map { ($0, $1) }))
            }
        }
        guard !roc.isEmpty else { return }
        blocks.append(.heading(dataset.name))
        blocks.append(.figure(name: "roc-\(stem)", caption: "ROC curves, video level, \(dataset.name)",
                              svg: SVGChart(title: "ROC — \(dataset.name) (video level)", xLabel: "false positive rate",
                                            yLabel: "true positive rate").lines(roc, diagonal: true)))
        if dataset.methods.count > 1 {
            // Methods of one family side by side.
            let methods = dataset.methods.sorted { (families[$0] ?? "", $0) < (families[$1] ?? "", $1) }
            let series = models.map { m in (name: m, values: methods.map { results.summary(model: m, dataset: dataset.name, subset: $0)?.aucMean }) }
            var chart = SVGChart(title: "Video AUC per method — \(dataset.name)", xLabel: "manipulation method", yLabel: "AUC")
            chart.yRange = 0...1
            if methods.count > 8 { chart.width = max(chart.width, 150 + 58 + Double(methods.count) * Double(max(series.count, 1)) * 14) }
            blocks.append(.figure(name: "methods-\(stem)", caption: "Video AUC per manipulation method", svg: chart.bars(categories: methods, series: series)))
        }
        if let model = models.first, let (scores, labels) = videoScores(model: model, condition: "clean", dataset: dataset.name, subset: "all") {
            let groups = [(name: "real", values: zip(scores, labels).filter { $0.1 == 0 }.map(\.0)),
                          (name: "fake", values: zip(scores, labels).filter { $0.1 == 1 }.map(\.0))]
            blocks.append(.figure(name: "scores-\(stem)", caption: "Video scores, real against fake (\(model))",
                                  svg: SVGChart(title: "Video P(fake) — \(dataset.name), \(model)", xLabel: "P(fake)", yLabel: "fraction of videos").histogram(groups)))
        }
    }

    /// Metric-vs-JPEG-quality curves and a table over every condition.
    mutating func robustness(models: [String]) {
        let degraded = results.conditions.filter { $0 != "clean" }
        guard !degraded.isEmpty else { return }
        blocks.append(.heading("Robustness (video AUC)"))
        let columns = models.flatMap { m in results.datasets.map { (m, $0.name) } }
        blocks.append(.table(header: ["condition"] + columns.map { models.count > 1 ? "\($0.0) on \($0.1)" : $0.1 },
                             rows: results.conditions.map { c in [c] + columns.map { auc(results.summary(model: $0.0, condition: c, dataset: $0.1)) } }))
        let qualities = [100, 90, 75, 50, 30].filter { results.conditions.contains("jpeg-q\($0)") }
        guard qualities.count >= 2 else { return }
        let series = columns.map { m, d in
            SVGChart.Series(name: models.count > 1 ? "\(m) \(d)" : d, points: qualities.compactMap { q in
                results.summary(model: m, condition: "jpeg-q\(q)", dataset: d).map { (Double(q), $0.aucMean) }
            })
        }
        var chart = SVGChart(title: "Video AUC against JPEG quality", xLabel: "JPEG quality (libjpeg scale, applied to full frames)", yLabel: "AUC")
        (chart.xRange, chart.yRange) = (30...100, 0.4...1)
        chart.xTicks = qualities.map { (Double($0), String($0)) }
        blocks.append(.figure(name: "jpeg", caption: "Video AUC against JPEG quality", svg: chart.lines(series, markers: true)))
    }

    /// Cross-AUC (`CrossAUCMatrix`): per model, one dataset's reals against another's fakes, when the results hold
    /// reals and fakes from at least two datasets between them.
    mutating func crossAUCSection(models: [String]) {
        let matrices = models.compactMap { m in
            results.models.firstIndex { $0.name == m }.flatMap { run in (try? results.crossAUC(run: run)).flatMap { $0 }.map { (m, $0) } }
        }
        guard let first = matrices.first?.1, Set(first.realDatasets + first.fakeDatasets).count > 1 else { return }
        blocks.append(.heading("Cross-AUC (video AUC, clean)"))
        blocks.append(.paragraph("Each cell is the AUC of one dataset's reals (row) against another dataset's fakes (column); the "
            + "diagonal is the dataset's own AUC. A low cell off the diagonal means that dataset's reals score like the other's "
            + "fakes, so a folder that mixes the two sources would be ranked badly even where each dataset alone is ranked well "
            + "(Luo, Chen & Liu, arXiv 2604.21478)."))
        for (model, matrix) in matrices {
            blocks.append(.table(header: ["\(model): reals of \\ fakes of"] + matrix.fakeDatasets.enumerated().map { "\($1) (\(matrix.fakeUnits[$0]))" },
                                 rows: matrix.realDatasets.enumerated().map { i, name in ["\(name) (\(matrix.realUnits[i]))"] + matrix.auc[i].map { f($0) } }))
            if let w = matrix.worst {
                blocks.append(.paragraph(String(format: "%@: lowest cell %.4f, %@ reals against %@ fakes.", model, w.auc, w.reals, w.fakes)))
            }
        }
    }

    /// The family of each fake method of `dataset`: the first folder of its fakes' paths inside the dataset (e.g.
    /// `stargan-celeba128` for `…:stargan-celeba128/fake/1.jpg`). Methods whose fakes sit in no folder are left out.
    public func methodFamilies(dataset: String) -> [String: String] {
        var out: [String: String] = [:]
        for item in results.items where item.dataset == dataset && item.label == 1 && item.run == 0 {
            guard let method = item.method, out[method] == nil else { continue }
            let path = item.id.split(separator: ":", maxSplits: 1).last.map(String.init) ?? item.id
            if let slash = path.firstIndex(of: "/") { out[method] = String(path[..<slash]) }
        }
        return out
    }

    /// Video-level (max-mean) scores and labels of the first run of `model`: the reals, and the fakes of `subset` (a
    /// method, or with `families` a family of methods, or `all`).
    func videoScores(model: String, condition: String, dataset: String, subset: String, families: [String: String]? = nil) -> ([Double], [Int])? {
        guard let run = results.models.firstIndex(where: { $0.name == model }) else { return nil }
        func inSubset(_ item: EvaluationResults.Item) -> Bool {
            if item.label == 0 || subset == "all" { return true }
            guard let families else { return item.method == subset }
            return item.method.flatMap { families[$0] } == subset
        }
        let chosen = results.items.filter { $0.run == run && $0.condition == condition && $0.dataset == dataset && $0.error == nil && !$0.faces.isEmpty
            && inSubset($0) }
        guard let videos = try? EvaluationResults.Item.videoScores(chosen), Set(videos.labels).count == 2 else { return nil }
        return (videos.scores, videos.labels)
    }
}

extension Array where Element: Hashable {
    func uniqued() -> [Element] { var seen = Set<Element>(); return filter { seen.insert($0).inserted } }
}
