import XCTest
import Foundation
import ForensightEvaluation

/// Cross-AUC against numpy + scikit-learn (fixture from scripts/reference/make_cross_auc_fixture.py): the matrix in
/// the results file, its lowest cell, and its section in the report.
final class CrossAUCTests: XCTestCase {
    func results(models: [String] = ["m"]) throws -> (EvaluationResults, [String: Any]) {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/cross_auc.json")
        let fixture = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var items: [EvaluationResults.Item] = []
        for (run, model) in models.enumerated() {
            for case let raw as [String: Any] in fixture["items"] as! [Any] {
                let faces = (raw["faces"] as! [[String: Any]]).map {
                    EvaluationResults.FaceScore(frame: $0["frame"] as! Int, face: $0["face"] as! Int, score: $0["score"] as! Double)
                }
                items.append(EvaluationResults.Item(model: model, run: run, condition: "clean", dataset: raw["dataset"] as! String,
                                                    id: raw["id"] as! String, videoID: raw["id"] as! String, method: nil,
                                                    label: raw["label"] as! Int, faces: faces, error: raw["error"] as? String))
            }
        }
        let datasets = (fixture["datasets"] as! [String]).map { EvaluationResults.Dataset(name: $0, path: "/data/" + $0, real: 0, fake: 0, methods: []) }
        let results = EvaluationResults(command: "test", seed: 0, framesPerVideo: 5,
                                        models: models.map { .init(name: $0, path: $0, id: $0, sha256: "", threshold: 0.5, notes: "") },
                                        datasets: datasets, conditions: ["clean"], items: items)
        return (results, fixture)
    }

    func testTheMatrixMatchesScikitLearn() throws {
        var (r, fixture) = try results()
        let matrix = try XCTUnwrap(try r.crossAUC(run: 0))
        XCTAssertEqual(matrix.realDatasets, fixture["real_datasets"] as! [String])
        XCTAssertEqual(matrix.fakeDatasets, fixture["fake_datasets"] as! [String])
        XCTAssertEqual(matrix.realUnits, fixture["real_units"] as! [Int])
        XCTAssertEqual(matrix.fakeUnits, fixture["fake_units"] as! [Int], "the unreadable and the faceless item are left out")
        let expected = fixture["auc"] as! [[Double]]
        for (i, row) in expected.enumerated() {
            for (j, value) in row.enumerated() { XCTAssertEqual(matrix.auc[i][j], value, accuracy: 1e-12, "cell \(i), \(j)") }
        }
        // The diagonal cell of a dataset with both kinds is its own video AUC.
        try r.computeMetrics(bootstrapResamples: 0)
        let own = try XCTUnwrap(r.summary(model: "m", dataset: "vids"))
        XCTAssertEqual(matrix.auc[0][0], own.aucMean, accuracy: 1e-12)
        // The lowest cell, and the stored rows.
        let lowest = expected.flatMap { $0 }.min()!
        XCTAssertEqual(try XCTUnwrap(matrix.worst).auc, lowest)
        XCTAssertEqual(r.crossAUC, [CrossAUCRow(model: "m", run: 0, condition: "clean", matrix: matrix)])
        // Round trip through the results file, and an older file without the field.
        let data = try JSONEncoder().encode(r)
        XCTAssertEqual(try JSONDecoder().decode(EvaluationResults.self, from: data).crossAUC, r.crossAUC)
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        object["cross_auc"] = nil
        XCTAssertEqual(try JSONDecoder().decode(EvaluationResults.self, from: JSONSerialization.data(withJSONObject: object)).crossAUC, [])
    }

    func testTheReportShowsOneMatrixPerModel() throws {
        var (r, fixture) = try results(models: ["a", "b"])
        try r.computeMetrics(bootstrapResamples: 0)
        let report = EvaluationReport(r)
        let tables = report.blocks.compactMap { block -> (header: [String], rows: [[String]])? in
            if case .table(let header, let rows) = block, header.first?.contains("reals of") == true { return (header, rows) }
            return nil
        }
        XCTAssertEqual(tables.count, 2)
        XCTAssertTrue(tables[0].header[0].hasPrefix("a:") && tables[1].header[0].hasPrefix("b:"))
        let expected = fixture["auc"] as! [[Double]]
        XCTAssertEqual(tables[0].rows[1][2], String(format: "%.4f", expected[1][1]))
        XCTAssertTrue(report.blocks.contains { if case .heading(let h) = $0 { return h.hasPrefix("Cross-AUC") }; return false })
    }

    func testNoMatrixWithoutRealsOrFakes() throws {
        let onlyReals = EvaluationResults(command: "t", seed: 0, framesPerVideo: 1, models: [.init(name: "m", path: "", id: "m", sha256: "", threshold: 0.5, notes: "")],
                                          datasets: [.init(name: "r", path: "", real: 1, fake: 0, methods: [])], conditions: ["clean"],
                                          items: [.init(model: "m", run: 0, condition: "clean", dataset: "r", id: "r:1", videoID: "r:1", method: nil, label: 0,
                                                        faces: [.init(frame: 0, face: 0, score: 0.3)], error: nil)])
        XCTAssertNil(try onlyReals.crossAUC(run: 0))
    }
}
