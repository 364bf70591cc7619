import XCTest
import Foundation
import ForensightEvaluation

/// Logistic stacking against scikit-learn's L2-regularised logistic regression (lbfgs)
/// (fixtures from scripts/reference/make_stacking_fixtures.py).
final class StackingTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable { var name: String; var features: [[Double]]; var labels: [Int]; var c: Double; var weights: [Double]; var bias: Double }
        var cases: [Case]
    }

    func testStackingFitMatchesScikitLearn() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/stacking.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        XCTAssertEqual(fixture.cases.count, 4)
        for c in fixture.cases {
            let fit = try StackingCombiner.fit(features: c.features, labels: c.labels, inverseRegularization: c.c)
            XCTAssertEqual(fit.weights.count, c.weights.count, c.name)
            for (a, b) in zip(fit.weights, c.weights) { XCTAssertEqual(a, b, accuracy: 1e-6, c.name) }
            XCTAssertEqual(fit.bias, c.bias, accuracy: 1e-6, c.name)
            // The same fit twice is bit-identical (deterministic).
            XCTAssertEqual(try StackingCombiner.fit(features: c.features, labels: c.labels, inverseRegularization: c.c), fit)
        }
    }

    func testCombinedLogitAndClampedFeatures() {
        let combiner = StackingCombiner(weights: [1.5, -0.5], bias: 0.25)
        let p = [0.8, 0.3]
        let z = 0.25 + 1.5 * log(0.8 / 0.2) - 0.5 * log(0.3 / 0.7)
        XCTAssertEqual(combiner.logit(p.map(StackingCombiner.feature(probability:))), z, accuracy: 1e-12)
        XCTAssertEqual(combiner.probability(members: p), 1 / (1 + exp(-z)), accuracy: 1e-12)
        XCTAssertEqual(StackingCombiner.feature(probability: 0), log(1e-6 / (1 - 1e-6)), accuracy: 1e-9)
        XCTAssertEqual(StackingCombiner.feature(probability: 1), -log(1e-6 / (1 - 1e-6)), accuracy: 1e-9)
    }

    func testStackingRejectsBadInput() {
        XCTAssertThrowsError(try StackingCombiner.fit(features: [], labels: []))
        XCTAssertThrowsError(try StackingCombiner.fit(features: [[0.1], [0.2]], labels: [0, 0]))
        XCTAssertThrowsError(try StackingCombiner.fit(features: [[0.1, 1], [0.2]], labels: [0, 1]))
        XCTAssertThrowsError(try StackingCombiner.fit(features: [[.nan], [0.2]], labels: [0, 1]))
        XCTAssertThrowsError(try StackingCombiner.fit(features: [[0.1], [0.2]], labels: [0, 2]))
        XCTAssertThrowsError(try StackingCombiner.fit(features: [[0.1], [0.2]], labels: [0, 1], inverseRegularization: 0))
    }

    func testThresholdLetsAtMostTwoPercentOfRealsThrough() {
        let reals = (0..<100).map { Double($0) / 100 }          // 0.00 … 0.99
        let t = StackingCombiner.threshold(realScores: reals)
        XCTAssertEqual(reals.filter { $0 >= t }.count, 2)
        XCTAssertEqual(t, 0.9701, accuracy: 1e-9)
        XCTAssertEqual(StackingCombiner.threshold(realScores: [0.1, 0.2]), 0.5)   // never below 0.5
        XCTAssertEqual(StackingCombiner.threshold(realScores: []), 0.5)
    }
}
