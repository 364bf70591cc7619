import XCTest
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import ForensightMedia
import ForensightEvaluation
import ForensightProtocols

/// Results files: metrics per model, condition, dataset and method; summaries over runs; the report rendered from them.
final class EvaluationProtocolTests: XCTestCase {
    typealias Item = EvaluationResults.Item

    func item(_ id: String, label: Int, method: String? = nil, scores: [Double], run: Int = 0, condition: String = "clean",
              error: String? = nil) -> Item {
        Item(model: "m", run: run, condition: condition, dataset: "D", id: id, videoID: id, method: method, label: label,
             faces: scores.enumerated().map { .init(frame: $0.offset, face: 0, score: $0.element) }, error: error)
    }

    func results(runs: Int = 1) -> EvaluationResults {
        var items: [Item] = []
        for run in 0..<runs {
            let shift = Double(run) * 0.05
            items += [item("r1", label: 0, scores: [0.1, 0.2], run: run), item("r2", label: 0, scores: [0.3 + shift, 0.35], run: run),
                      item("r3", label: 0, scores: [0.6, 0.1], run: run),
                      item("a1", label: 1, method: "A", scores: [0.9, 0.8], run: run), item("a2", label: 1, method: "A", scores: [0.25, 0.3], run: run),
                      item("b1", label: 1, method: "B", scores: [0.7 - shift, 0.65], run: run),
                      item("bad", label: 1, method: "B", scores: [], run: run, error: "unreadable"),
                      item("noface", label: 0, scores: [], run: run)]
        }
        let models = (0..<runs).map { _ in EvaluationResults.Model(name: "m", path: "m.safetensors", id: "m", sha256: "00", threshold: 0.5, notes: "") }
        return EvaluationResults(command: "test", seed: 1, framesPerVideo: 2, models: models,
                                 datasets: [.init(name: "D", path: "/d", real: 4, fake: 4, methods: ["A", "B"])], conditions: ["clean"], items: items)
    }

    func testRowsMatchDirectMetricsPerSubsetAndLevel() throws {
        var r = results()
        try r.computeMetrics(bootstrapResamples: 50)
        // Subsets all, A, B; levels frame, video (mean), video (max-mean).
        XCTAssertEqual(r.rows.count, 9)
        let frameA = try XCTUnwrap(r.rows.first { $0.subset == "A" && $0.report.level == .frame })
        let realScores = [0.1, 0.2, 0.3, 0.35, 0.6, 0.1], aScores = [0.9, 0.8, 0.25, 0.3]
        XCTAssertEqual(frameA.report.auc, try Metrics.auc(scores: realScores + aScores, labels: [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]), accuracy: 1e-12)
        let videoAll = try XCTUnwrap(r.rows.first { $0.subset == "all" && $0.report.level == .video(.maxOverFacesThenMean) })
        // Videos (max-mean with one face per frame = mean): reals 0.15, 0.325, 0.35; fakes 0.85, 0.275, 0.675. The
        // unreadable and the faceless items are left out.
        XCTAssertEqual(videoAll.report.countReal, 3)
        XCTAssertEqual(videoAll.report.countFake, 3)
        XCTAssertEqual(videoAll.report.auc, try Metrics.auc(scores: [0.15, 0.325, 0.35, 0.85, 0.275, 0.675], labels: [0, 0, 0, 1, 1, 1]), accuracy: 1e-12)
        XCTAssertNotNil(videoAll.report.confidenceIntervals?["auc"])
        XCTAssertEqual(r.summaries.count, 9)
        XCTAssertEqual(r.summary(model: "m", dataset: "D")?.aucMean, videoAll.report.auc)
    }

    func testSummariesAverageRunsWithSpreadAndRoundTrip() throws {
        var r = results(runs: 2)
        try r.computeMetrics(bootstrapResamples: 0)
        let s = try XCTUnwrap(r.summary(model: "m", dataset: "D", subset: "B"))
        let aucs = r.rows.filter { $0.subset == "B" && $0.report.level.description == s.level }.map(\.report.auc)
        XCTAssertEqual(aucs.count, 2)
        XCTAssertEqual(s.runs, 2)
        XCTAssertEqual(s.aucMean, (aucs[0] + aucs[1]) / 2, accuracy: 1e-12)
        XCTAssertEqual(s.aucStd, abs(aucs[0] - aucs[1]) / 2.0.squareRoot(), accuracy: 1e-12)
        let decoded = try JSONDecoder().decode(EvaluationResults.self, from: try JSONEncoder().encode(r))
        XCTAssertEqual(decoded, r)
    }

    func testReportHasTablesAndWellFormedCharts() throws {
        var r = results()
        r.conditions += ["jpeg-q90", "jpeg-q50"]
        for q in ["jpeg-q90", "jpeg-q50"] { r.items += r.items.filter { $0.condition == "clean" }.map { var i = $0; i.condition = q; return i } }
        try r.computeMetrics(bootstrapResamples: 20)
        let report = EvaluationReport(r)
        let md = report.markdown(), html = report.html()
        XCTAssertTrue(md.contains("| m | D | all |"))
        XCTAssertTrue(md.contains("![ROC curves, video level, D](roc-d.svg)"))
        XCTAssertEqual(Set(report.svgFiles.map(\.0)), ["roc-d.svg", "methods-d.svg", "scores-d.svg", "jpeg.svg"])
        XCTAssertFalse(html.lowercased().contains("<script"))
        XCTAssertFalse(html.contains("http://") && html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"))
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 4)
        for (name, svg) in report.svgFiles {
            let parser = XMLParser(data: Data(svg.utf8))
            XCTAssertTrue(parser.parse(), "\(name) is not well-formed XML: \(String(describing: parser.parserError))")
        }
    }

    func testConditionNames() {
        XCTAssertEqual(EvaluationCondition(name: "clean"), .clean)
        XCTAssertEqual(EvaluationCondition(name: "jpeg-q50"), EvaluationCondition(perturbation: .jpeg(quality: 50)))
        XCTAssertEqual(EvaluationCondition(name: "crop:blur-sigma1.5"), EvaluationCondition(perturbation: .gaussianBlur(sigma: 1.5), stage: .crop))
        XCTAssertEqual(EvaluationCondition(name: "noise-sigma10-seed3"), EvaluationCondition(perturbation: .gaussianNoise(sigma: 10, seed: 3)))
        XCTAssertEqual(EvaluationCondition(name: "downscale-2x"), EvaluationCondition(perturbation: .downscale(factor: 2)))
        for bad in ["jpeg-q0", "jpeg-q101", "jpeg-q7.5", "blur", "downscale-2", "crop:", "sharpen", ""] {
            XCTAssertNil(EvaluationCondition(name: bad), bad)
        }
        // Names round-trip.
        for c in EvaluationCondition.jpegSweep + EvaluationCondition.degradations(seed: 4) {
            XCTAssertEqual(EvaluationCondition(name: c.name), c, c.name)
        }
    }
}
