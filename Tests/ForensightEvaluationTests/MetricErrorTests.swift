import XCTest
import ForensightEvaluation

/// Bad inputs give a `MetricError` with a clear message, never NaN; bootstrap is deterministic per seed.
final class MetricErrorTests: XCTestCase {
    typealias Metric = ([Double], [Int]) throws -> Double

    /// Every metric behind one signature, with its name.
    static let all: [(String, Metric)] = [
        ("auc", { try Metrics.auc(scores: $0, labels: $1) }),
        ("ap", { try Metrics.averagePrecision(scores: $0, labels: $1) }),
        ("roc", { try Metrics.rocCurve(scores: $0, labels: $1).truePositiveRate[0] }),
        ("eer", { try Metrics.equalErrorRate(scores: $0, labels: $1).rate }),
        ("tpr@fpr", { try Metrics.tprAtFPR(0.01, scores: $0, labels: $1) }),
        ("tnr@tpr", { try Metrics.tnrAtTPR(0.95, scores: $0, labels: $1) }),
        ("accuracy", { try Metrics.accuracy(scores: $0, labels: $1) }),
        ("precision", { try Metrics.precision(scores: $0, labels: $1) }),
        ("recall", { try Metrics.recall(scores: $0, labels: $1) }),
        ("f1", { try Metrics.f1(scores: $0, labels: $1) }),
        ("logLoss", { try Metrics.logLoss(probabilities: $0, labels: $1) }),
        ("brier", { try Metrics.brier(probabilities: $0, labels: $1) }),
        ("ece", { try Metrics.expectedCalibrationError(probabilities: $0, labels: $1) }),
    ]
    static let ranking: Set<String> = ["auc", "ap", "roc", "eer", "tpr@fpr", "tnr@tpr"]

    func assertThrows(_ expected: MetricError, _ body: @autoclosure () throws -> Double, _ message: String,
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), message, file: file, line: line) { error in
            XCTAssertEqual(error as? MetricError, expected, message, file: file, line: line)
            XCTAssertFalse(String(describing: error).isEmpty)
        }
    }

    func testEmptyMismatchedInvalidLabelAndNaN() {
        for (name, metric) in Self.all {
            assertThrows(.emptyInput, try metric([], []), name)
            assertThrows(.lengthMismatch(scores: 2, labels: 3), try metric([0.1, 0.9], [0, 1, 1]), name)
            assertThrows(.invalidLabel(index: 1, value: 2), try metric([0.1, 0.9], [0, 2]), name)
            assertThrows(.nanScore(index: 2), try metric([0.1, 0.9, .nan], [0, 1, 1]), name)
        }
    }

    func testOneClassIsAnErrorOnlyForRankingMetrics() throws {
        for (name, metric) in Self.all {
            for label in [0, 1] {
                let labels = [label, label, label]
                if Self.ranking.contains(name) {
                    XCTAssertThrowsError(try metric([0.2, 0.4, 0.9], labels), name) { error in
                        guard case let .singleClass(_, present)? = error as? MetricError else {
                            return XCTFail("\(name): expected singleClass, got \(error)")
                        }
                        XCTAssertEqual(present, label)
                        XCTAssertTrue(String(describing: error).contains("needs both classes"))
                    }
                } else {
                    XCTAssertFalse(try metric([0.2, 0.4, 0.9], labels).isNaN, "\(name) on one class")
                }
            }
        }
    }

    func testZeroDivisionGivesZero() throws {
        // Nothing predicted fake, no fakes at all: precision, recall, F1 are 0 (sklearn zero_division default).
        let c = try Metrics.confusion(scores: [0.1, 0.2], labels: [0, 0])
        XCTAssertEqual(c, ConfusionCounts(truePositives: 0, falsePositives: 0, trueNegatives: 2, falseNegatives: 0))
        XCTAssertEqual([c.accuracy, c.precision, c.recall, c.f1], [1, 0, 0, 0])
    }

    func testThresholdIsInclusive() throws {
        let c = try Metrics.confusion(scores: [0.5, 0.5, 0.4999], labels: [1, 0, 1], threshold: 0.5)
        XCTAssertEqual(c, ConfusionCounts(truePositives: 1, falsePositives: 1, trueNegatives: 0, falseNegatives: 1))
    }

    func testProbabilityMetricsRejectNonProbabilities() {
        for (name, metric) in Self.all where ["logLoss", "brier", "ece"].contains(name) {
            assertThrows(.probabilityOutOfRange(index: 1, value: 1.5), try metric([0.2, 1.5], [0, 1]), name)
            assertThrows(.probabilityOutOfRange(index: 0, value: -0.1), try metric([-0.1, 0.5], [0, 1]), name)
        }
    }

    func testInvalidArguments() {
        let s = [0.1, 0.8, 0.4], y = [0, 1, 1]
        for target in [-0.1, 1.5, .nan] {
            XCTAssertThrowsError(try Metrics.tprAtFPR(target, scores: s, labels: y))
            XCTAssertThrowsError(try Metrics.tnrAtTPR(target, scores: s, labels: y))
        }
        XCTAssertThrowsError(try Metrics.expectedCalibrationError(probabilities: s, labels: y, bins: 0))
        XCTAssertThrowsError(try Metrics.accuracy(scores: s, labels: y, threshold: .nan))
        let auc: Metric = { try Metrics.auc(scores: $0, labels: $1) }
        XCTAssertThrowsError(try Metrics.bootstrapCI(auc, scores: s, labels: y, resamples: 0, seed: 1))
        XCTAssertThrowsError(try Metrics.bootstrapCI(auc, scores: s, labels: y, seed: 1, level: 1))
    }

    func testInfiniteScoresRankButNeverGiveNaN() throws {
        let s = [-Double.infinity, 0.2, .infinity, 0.7], y = [0, 0, 1, 1]
        XCTAssertEqual(try Metrics.auc(scores: s, labels: y), 1)
        XCTAssertEqual(try Metrics.equalErrorRate(scores: s, labels: y).rate, 0)
        XCTAssertEqual(try Metrics.tprAtFPR(0, scores: s, labels: y), 1)
    }

    func testInputsAreNotMutatedAndOrderDoesNotMatter() throws {
        let s = [0.9, 0.1, 0.4, 0.35, 0.8], y = [1, 0, 0, 1, 1]
        let (s0, y0) = (s, y)
        let auc = try Metrics.auc(scores: s, labels: y)
        XCTAssertEqual(s, s0)
        XCTAssertEqual(y, y0)
        XCTAssertEqual(auc, 5.0 / 6.0, accuracy: 1e-15)
        XCTAssertEqual(try Metrics.auc(scores: s.reversed(), labels: y.reversed()), auc)
    }

    func testBootstrapIsDeterministicPerSeed() throws {
        var g = SplitMix64(seed: 42)
        let y = (0..<200).map { _ in g.index(below: 2) }
        let s = y.map { Double($0) * 0.8 + Double(g.index(below: 1000)) / 1000 }
        let auc: Metric = { try Metrics.auc(scores: $0, labels: $1) }
        let a = try Metrics.bootstrapCI(auc, scores: s, labels: y, resamples: 300, seed: 1)
        let b = try Metrics.bootstrapCI(auc, scores: s, labels: y, resamples: 300, seed: 1)
        let c = try Metrics.bootstrapCI(auc, scores: s, labels: y, resamples: 300, seed: 2)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertEqual(a.estimate, try auc(s, y))
        XCTAssertEqual(a.resamplesUsed, 300)
        XCTAssertLessThan(a.lower, a.estimate)
        XCTAssertGreaterThan(a.upper, a.estimate)
    }

    func testBootstrapSkipsOneClassResamplesAndFailsWhenNoneRemain() throws {
        let auc: Metric = { try Metrics.auc(scores: $0, labels: $1) }
        // One fake in 10: about (9/10)^10 ≈ 35 % of the resamples have no fake.
        let s = (0..<10).map { Double($0) / 10 }, y = [0, 0, 0, 0, 0, 0, 1, 0, 0, 0]
        let ci = try Metrics.bootstrapCI(auc, scores: s, labels: y, resamples: 500, seed: 3)
        XCTAssertLessThan(ci.resamplesUsed, 500)
        XCTAssertGreaterThan(ci.resamplesUsed, 250)
        // A metric that can be scored on the full sample but on no resample.
        var calls = 0
        let onlyOnce: Metric = { _, _ in
            calls += 1
            if calls > 1 { throw MetricError.singleClass(metric: "test", presentLabel: 0) }
            return 1
        }
        XCTAssertThrowsError(try Metrics.bootstrapCI(onlyOnce, scores: s, labels: y, resamples: 5, seed: 0)) { error in
            XCTAssertEqual(error as? MetricError, .noUsableResamples(requested: 5))
        }
    }
}
