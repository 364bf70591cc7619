import XCTest
import Foundation
import ForensightEvaluation

/// Items of a fusion: the video-level score is the primary member's aggregate raised to the file's floor
/// (`raised_to`) when another member fired, in every video metric (rows, Cross-AUC, reals called FAKE, stability's
/// unit score), while frame-level metrics keep the primary's face scores; the fields survive the results file.
final class FusionFloorTests: XCTestCase {
    func item(_ id: String, label: Int, scores: [Double], raisedTo: Double? = nil) -> EvaluationResults.Item {
        var item = EvaluationResults.Item(model: "fused", run: 0, condition: "clean", dataset: "vids", id: id, videoID: id,
                                          method: label == 1 ? "m" : nil, label: label,
                                          faces: scores.enumerated().map { EvaluationResults.FaceScore(frame: $0.offset, face: 0, score: $0.element) },
                                          error: nil)
        item.raisedTo = raisedTo
        if raisedTo != nil { item.memberProbabilities = ["faces": scores.reduce(0, +) / Double(scores.count), "mouth": 0.97] }
        return item
    }

    func testAFusionFloorRaisesTheVideoScoreButNotTheFrameScores() throws {
        let items = [item("r1", label: 0, scores: [0.2, 0.4]), item("r2", label: 0, scores: [0.3, 0.3]),
                     item("f1", label: 1, scores: [0.1, 0.2], raisedTo: 0.9), item("f2", label: 1, scores: [0.25, 0.25])]
        let videos = try EvaluationResults.Item.videoScores(items)
        XCTAssertEqual(videos.videoIDs, ["f1", "f2", "r1", "r2"])
        for (a, b) in zip(videos.scores, [0.9, 0.25, 0.3, 0.3]) { XCTAssertEqual(a, b, accuracy: 1e-12, "f1 raised from 0.15 to its floor") }
        XCTAssertEqual(EvaluationResults.unitScore(items[2]), 0.9)
        XCTAssertEqual(try XCTUnwrap(EvaluationResults.unitScore(items[3])), 0.25, accuracy: 1e-12)

        var results = EvaluationResults(command: "test", seed: 0, framesPerVideo: 2,
                                        models: [.init(name: "fused", path: "f", id: "fused", sha256: "", threshold: 0.5, notes: "")],
                                        datasets: [.init(name: "vids", path: "/data/vids", real: 2, fake: 2, methods: ["m"])],
                                        conditions: ["clean"], items: items)
        try results.computeMetrics(bootstrapResamples: 0)
        let video = try XCTUnwrap(results.rows.first { $0.dataset == "vids" && $0.subset == "all" && $0.report.level != .frame })
        XCTAssertEqual(video.report.auc, 0.5, accuracy: 1e-12, "f1 (0.9) above both reals, f2 (0.25) below both")
        let frame = try XCTUnwrap(results.rows.first { $0.dataset == "vids" && $0.subset == "all" && $0.report.level == .frame })
        XCTAssertLessThan(frame.report.auc, 0.2, "frame scores stay the primary's")

        let decoded = try JSONDecoder().decode(EvaluationResults.self, from: try JSONEncoder().encode(results))
        XCTAssertEqual(decoded.items[2].raisedTo, 0.9)
        XCTAssertEqual(decoded.items[2].memberProbabilities?["mouth"], 0.97)
        XCTAssertNil(decoded.items[3].raisedTo)
        let json = String(decoding: try JSONEncoder().encode(items[2]), as: UTF8.self)
        XCTAssertTrue(json.contains("\"raised_to\":0.9"), json)
    }
}
