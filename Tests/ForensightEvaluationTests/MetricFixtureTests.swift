import XCTest
import Foundation
import ForensightEvaluation

/// The fixture file, decoded with JSONDecoder (exact decimal → double; Linux JSONSerialization is off by a few ulps,
/// which would move scores that sit on ECE bin edges).
struct MetricFixture: Decodable {
    struct Curve: Decodable { var fpr, tpr, thresholdsAfterInf: [Double] }
    struct Case: Decodable {
        var name: String
        var scores: [Double]
        var labels: [Int]
        var threshold, auc, averagePrecision, eer, eerThreshold: Double
        var roc, rocDropped: Curve
        var tprAtFpr, tnrAtTpr: [String: Double]
        var accuracy, precision, recall, f1: Double
        var logLossSklearn, logLossClipped, brier, ece: Double?
    }
    struct BootstrapCase: Decodable {
        var scores: [Double]
        var labels: [Int]
        var resamples: Int
        var seed: UInt64
        var level, estimate, lower, upper: Double
        var used: Int
    }
    var cases: [Case]
    var splitmix64Seed0: [String]
    var bootstrapAuc: BootstrapCase

    static let shared: MetricFixture = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/metrics.json")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try! decoder.decode(MetricFixture.self, from: Data(contentsOf: url))
    }()
}

/// Metrics against scikit-learn and the numpy reference of docs/METRICS.md
/// (fixtures from scripts/reference/make_metric_fixtures.py).
final class MetricFixtureTests: XCTestCase {
    static var cases: [MetricFixture.Case] { MetricFixture.shared.cases }
    let tolerance = 1e-9

    func assertClose(_ a: [Double], _ b: [Double], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, "\(message): length", file: file, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: tolerance, message, file: file, line: line) }
    }

    func testFixtureHasTheAgreedCases() {
        let names = Set(Self.cases.map(\.name))
        XCTAssertEqual(names, ["random_continuous", "heavy_ties", "all_equal", "perfect", "inverted", "small_n3",
                               "imbalanced_1_20", "probabilities", "logits_threshold_0"])
    }

    func testRankingMetricsMatchSklearn() throws {
        for c in Self.cases {
            let s = c.scores, y = c.labels, name = c.name
            XCTAssertEqual(try Metrics.auc(scores: s, labels: y), c.auc, accuracy: tolerance, "\(name) AUC")
            XCTAssertEqual(try Metrics.averagePrecision(scores: s, labels: y), c.averagePrecision,
                           accuracy: tolerance, "\(name) AP")
            for (key, drop, expected) in [("roc", false, c.roc), ("roc_dropped", true, c.rocDropped)] {
                let roc = try Metrics.rocCurve(scores: s, labels: y, dropIntermediate: drop)
                assertClose(roc.falsePositiveRate, expected.fpr, "\(name) \(key) fpr")
                assertClose(roc.truePositiveRate, expected.tpr, "\(name) \(key) tpr")
                XCTAssertEqual(roc.thresholds.first, .infinity, "\(name) \(key) first threshold")
                assertClose(Array(roc.thresholds.dropFirst()), expected.thresholdsAfterInf, "\(name) \(key) thresholds")
            }
        }
    }

    func testOperatingPointMetricsMatchReference() throws {
        for c in Self.cases {
            let s = c.scores, y = c.labels, name = c.name
            let eer = try Metrics.equalErrorRate(scores: s, labels: y)
            XCTAssertEqual(eer.rate, c.eer, accuracy: tolerance, "\(name) EER")
            XCTAssertEqual(eer.threshold, c.eerThreshold, accuracy: tolerance, "\(name) EER threshold")
            for (target, value) in c.tprAtFpr {
                XCTAssertEqual(try Metrics.tprAtFPR(Double(target)!, scores: s, labels: y), value,
                               accuracy: tolerance, "\(name) TPR@FPR \(target)")
            }
            for (target, value) in c.tnrAtTpr {
                XCTAssertEqual(try Metrics.tnrAtTPR(Double(target)!, scores: s, labels: y), value,
                               accuracy: tolerance, "\(name) TNR@TPR \(target)")
            }
        }
    }

    func testThresholdMetricsMatchSklearn() throws {
        for c in Self.cases {
            let s = c.scores, y = c.labels, t = c.threshold, name = c.name
            XCTAssertEqual(try Metrics.accuracy(scores: s, labels: y, threshold: t), c.accuracy, accuracy: tolerance, name)
            XCTAssertEqual(try Metrics.precision(scores: s, labels: y, threshold: t), c.precision, accuracy: tolerance, name)
            XCTAssertEqual(try Metrics.recall(scores: s, labels: y, threshold: t), c.recall, accuracy: tolerance, name)
            XCTAssertEqual(try Metrics.f1(scores: s, labels: y, threshold: t), c.f1, accuracy: tolerance, name)
        }
    }

    func testProbabilityMetricsMatchReference() throws {
        var checked = 0
        for c in Self.cases where c.brier != nil {
            let p = c.scores, y = c.labels, name = c.name
            XCTAssertEqual(try Metrics.logLoss(probabilities: p, labels: y), c.logLossClipped!,
                           accuracy: tolerance, "\(name) log-loss ε=1e-15")
            XCTAssertEqual(try Metrics.logLoss(probabilities: p, labels: y, clip: Double.ulpOfOne), c.logLossSklearn!,
                           accuracy: tolerance, "\(name) log-loss as sklearn 1.9")
            XCTAssertEqual(try Metrics.brier(probabilities: p, labels: y), c.brier!, accuracy: tolerance, "\(name) Brier")
            XCTAssertEqual(try Metrics.expectedCalibrationError(probabilities: p, labels: y), c.ece!,
                           accuracy: tolerance, "\(name) ECE")
            checked += 1
        }
        XCTAssertEqual(checked, 7)
    }

    func testReportAgreesWithTheSingleMetrics() throws {
        for c in Self.cases {
            let s = c.scores, y = c.labels, t = c.threshold, name = c.name
            let r = try MetricReport.compute(scores: s, labels: y, threshold: t)
            XCTAssertEqual(r.auc, c.auc, accuracy: tolerance, name)
            XCTAssertEqual(r.averagePrecision, c.averagePrecision, accuracy: tolerance, name)
            XCTAssertEqual(r.eer, c.eer, accuracy: tolerance, name)
            XCTAssertEqual(r.f1, c.f1, accuracy: tolerance, name)
            XCTAssertEqual(r.countFake, y.filter { $0 == 1 }.count)
            XCTAssertEqual(r.countReal, y.filter { $0 == 0 }.count)
            let fpr = c.tprAtFpr
            for point in r.tprAtFPR { XCTAssertEqual(point.value, fpr["\(point.target)"]!, accuracy: tolerance, name) }
            if c.brier != nil {
                XCTAssertEqual(r.logLoss!, c.logLossClipped!, accuracy: tolerance, name)
                XCTAssertEqual(r.brier!, c.brier!, accuracy: tolerance, name)
                XCTAssertEqual(r.expectedCalibrationError!, c.ece!, accuracy: tolerance, name)
            } else {
                XCTAssertNil(r.logLoss, name)
                XCTAssertNil(r.brier)
                XCTAssertNil(r.expectedCalibrationError)
            }
        }
    }

    func testSplitMix64MatchesReferenceStream() {
        var rng = SplitMix64(seed: 0)
        let expected = MetricFixture.shared.splitmix64Seed0.map { UInt64($0)! }
        XCTAssertEqual(expected.first, 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual((0..<expected.count).map { _ in rng.next() }, expected)
    }

    func testBootstrapAUCMatchesPythonReference() throws {
        let b = MetricFixture.shared.bootstrapAuc
        let ci = try Metrics.bootstrapCI({ try Metrics.auc(scores: $0, labels: $1) },
                                         scores: b.scores, labels: b.labels,
                                         resamples: b.resamples,
                                         seed: b.seed, level: b.level)
        XCTAssertEqual(ci.resamplesUsed, b.used)
        XCTAssertEqual(ci.resamplesRequested, 200)
        XCTAssertEqual(ci.estimate, b.estimate, accuracy: tolerance)
        XCTAssertEqual(ci.lower, b.lower, accuracy: tolerance)
        XCTAssertEqual(ci.upper, b.upper, accuracy: tolerance)
    }
}
