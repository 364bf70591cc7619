import XCTest
import Foundation
import ForensightEvaluation

/// Video aggregation rules on a hand-made example, and the Codable report.
final class VideoAggregationTests: XCTestCase {
    /// Video "a" (fake): frame 0 has faces 0.2 and 0.9, frame 1 has one face 0.4, frame 2 has faces 0.6 and 0.1.
    /// Video "b" (real): frames 0, 1 with one face each: 0.3, 0.1 (listed out of order on purpose).
    let records = [
        FrameScore(videoID: "b", frameIndex: 1, score: 0.1, label: 0),
        FrameScore(videoID: "a", frameIndex: 2, faceID: 1, score: 0.1, label: 1),
        FrameScore(videoID: "a", frameIndex: 0, faceID: 0, score: 0.2, label: 1),
        FrameScore(videoID: "a", frameIndex: 1, faceID: 0, score: 0.4, label: 1),
        FrameScore(videoID: "b", frameIndex: 0, score: 0.3, label: 0),
        FrameScore(videoID: "a", frameIndex: 0, faceID: 1, score: 0.9, label: 1),
        FrameScore(videoID: "a", frameIndex: 2, faceID: 0, score: 0.6, label: 1),
    ]

    func testRulesOnHandMadeExample() throws {
        let expected: [VideoAggregation: [Double]] = [
            .mean: [(0.2 + 0.9 + 0.4 + 0.6 + 0.1) / 5, (0.3 + 0.1) / 2],
            .maxOverFacesThenMean: [(0.9 + 0.4 + 0.6) / 3, (0.3 + 0.1) / 2],
            .max: [0.9, 0.3],
            .median: [0.4, 0.2],
            .confident: [(0.9 + 0.4 + 0.6) / 3, (0.3 + 0.1) / 2],
        ]
        XCTAssertEqual(Set(expected.keys), Set(VideoAggregation.allCases))
        for (rule, scores) in expected {
            let v = try rule.aggregate(records)
            XCTAssertEqual(v.rule, rule)
            XCTAssertEqual(v.videoIDs, ["a", "b"])
            XCTAssertEqual(v.labels, [1, 0])
            XCTAssertEqual(v.frameCounts, [3, 2])
            XCTAssertEqual(v.recordCounts, [5, 2])
            for (x, e) in zip(v.scores, scores) { XCTAssertEqual(x, e, accuracy: 1e-15, rule.name) }
            // The input order does not matter.
            XCTAssertEqual(try rule.aggregate(records.reversed()), v)
        }
    }

    func testConfidentRuleKeepsConfidentFrames() throws {
        // 2 of 5 frame maxima above 0.8: their mean. 9 of 10 below 0.2 is not "more than 90 %"; 10 of 11 is.
        let fake = [0.95, 0.85, 0.3, 0.1, 0.2].enumerated().map { FrameScore(videoID: "f", frameIndex: $0.offset, score: $0.element, label: 1) }
        XCTAssertEqual(try VideoAggregation.confident.aggregate(fake).scores[0], 0.9, accuracy: 1e-12)
        let nineOfTen = (0..<10).map { FrameScore(videoID: "r", frameIndex: $0, score: $0 == 0 ? 0.5 : 0.1, label: 0) }
        XCTAssertEqual(try VideoAggregation.confident.aggregate(nineOfTen).scores[0], 1.4 / 10, accuracy: 1e-12)
        let tenOfEleven = (0..<11).map { FrameScore(videoID: "r", frameIndex: $0, score: $0 == 0 ? 0.5 : 0.1, label: 0) }
        XCTAssertEqual(try VideoAggregation.confident.aggregate(tenOfEleven).scores[0], 0.1, accuracy: 1e-12)
    }

    func testLabelConsistencyAndDuplicates() {
        var bad = records
        bad[3].label = 0
        XCTAssertThrowsError(try VideoAggregation.mean.aggregate(bad)) { error in
            XCTAssertEqual(error as? MetricError, .inconsistentVideoLabel(videoID: "a", labels: [0, 1]))
            XCTAssertTrue(String(describing: error).contains("'a'"))
        }
        XCTAssertThrowsError(try VideoAggregation.max.aggregate(records + [records[2]])) { error in
            XCTAssertEqual(error as? MetricError, .duplicateRecord(videoID: "a", frameIndex: 0, faceID: 0))
        }
        XCTAssertThrowsError(try VideoAggregation.median.aggregate([])) { error in
            XCTAssertEqual(error as? MetricError, .emptyInput)
        }
        var nan = records
        nan[4].score = .nan
        XCTAssertThrowsError(try VideoAggregation.mean.aggregate(nan)) { error in
            XCTAssertEqual(error as? MetricError, .nanScore(index: 4))
        }
    }

    func testVideoReportNamesTheRuleAndRoundTrips() throws {
        var all = records
        // Two more videos so both classes have more than one video.
        all += [FrameScore(videoID: "c", frameIndex: 0, score: 0.7, label: 1),
                FrameScore(videoID: "d", frameIndex: 0, score: 0.35, label: 0),
                FrameScore(videoID: "d", frameIndex: 5, score: 0.45, label: 0)]
        let videos = try VideoAggregation.maxOverFacesThenMean.aggregate(all)
        let report = try MetricReport.compute(videos: videos, bootstrap: BootstrapOptions(resamples: 200, seed: 9))
        XCTAssertEqual(report.level, .video(.maxOverFacesThenMean))
        XCTAssertEqual(report.level.description, "video (maxOverFacesThenMean)")
        XCTAssertEqual(report.countFake, 2)
        XCTAssertEqual(report.countReal, 2)
        XCTAssertEqual(report.auc, 1)
        XCTAssertEqual(report.tprAtFPR.map(\.target), [0.001, 0.01, 0.05])
        let ci = try XCTUnwrap(report.confidenceIntervals)
        XCTAssertEqual(Set(ci.keys), ["auc", "averagePrecision", "eer", "tprAtFPR@0.001", "tprAtFPR@0.01", "tprAtFPR@0.05",
                                      "accuracy", "precision", "recall", "f1", "logLoss", "brier", "expectedCalibrationError"])
        XCTAssertLessThan(ci["auc"]!.resamplesUsed, 200)  // some resamples of 4 videos are one-class
        XCTAssertEqual(ci["accuracy"]!.resamplesUsed, 200)
        let data = try JSONEncoder().encode(report)
        XCTAssertEqual(try JSONDecoder().decode(MetricReport.self, from: data), report)
        let again = try MetricReport.compute(videos: videos, bootstrap: BootstrapOptions(resamples: 200, seed: 9))
        XCTAssertEqual(again, report)
    }

    func testFrameReportOnLogitsLeavesProbabilityMetricsOut() throws {
        let report = try MetricReport.compute(scores: [-2, 1.5, 0.3, -0.1], labels: [0, 1, 1, 0], threshold: 0)
        XCTAssertEqual(report.level, .frame)
        XCTAssertNil(report.logLoss)
        XCTAssertNil(report.expectedCalibrationError)
        XCTAssertEqual(report.accuracy, 1)
        XCTAssertThrowsError(try MetricReport.compute(scores: [0.1, 0.2], labels: [1, 1]))
    }
}
