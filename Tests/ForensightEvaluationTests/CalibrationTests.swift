import XCTest
import Foundation
import ForensightEvaluation

/// Platt scaling against scikit-learn's unregularised logistic regression
/// (fixtures from scripts/reference/make_calibration_fixtures.py).
final class CalibrationTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable { var name: String; var logits: [Double]; var labels: [Int]; var scale, bias: Double }
        var cases: [Case]
    }

    func testPlattFitMatchesScikitLearn() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/platt.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        XCTAssertEqual(fixture.cases.count, 3)
        for c in fixture.cases {
            let fit = try PlattScaling.fit(logits: c.logits, labels: c.labels)
            XCTAssertEqual(fit.scale, c.scale, accuracy: 1e-5, c.name)
            XCTAssertEqual(fit.bias, c.bias, accuracy: 1e-5, c.name)
        }
    }

    func testCalibrationLowersTheExpectedCalibrationErrorOfOverconfidentScores() throws {
        // Labels drawn from σ(t); the detector reports 4t − 1, far too confident and shifted.
        var generator = LinearCongruential(seed: 11)
        var logits: [Double] = [], labels: [Int] = []
        for _ in 0..<4000 {
            let t = Double.random(in: -3...3, using: &generator)
            labels.append(Double.random(in: 0..<1, using: &generator) < 1 / (1 + exp(-t)) ? 1 : 0)
            logits.append(4 * t - 1)
        }
        let fit = try PlattScaling.fit(logits: logits, labels: labels)
        XCTAssertEqual(fit.scale, 0.25, accuracy: 0.05)
        XCTAssertEqual(fit.bias, 0.25, accuracy: 0.1)
        let raw = try Metrics.expectedCalibrationError(probabilities: logits.map { 1 / (1 + exp(-$0)) }, labels: labels, bins: 10)
        let calibrated = try Metrics.expectedCalibrationError(probabilities: logits.map { fit.probability(logit: $0) }, labels: labels, bins: 10)
        XCTAssertGreaterThan(raw, 0.08)
        XCTAssertLessThan(calibrated, 0.03)
        // The threshold maps back: a raw logit at the calibrated 0.5 point gives 0.5.
        let z = try XCTUnwrap(fit.rawLogit(forProbability: 0.5))
        XCTAssertEqual(fit.probability(logit: z), 0.5, accuracy: 1e-12)
    }

    func testPlattFitRejectsOneClassAndMismatchedInput() {
        XCTAssertThrowsError(try PlattScaling.fit(logits: [0.1, 0.2], labels: [0, 0]))
        XCTAssertThrowsError(try PlattScaling.fit(logits: [0.1], labels: [0, 1]))
        XCTAssertThrowsError(try PlattScaling.fit(logits: [.nan, 0.2], labels: [0, 1]))
        XCTAssertThrowsError(try PlattScaling.fit(logits: [0.1, 0.2], labels: [0, 2]))
    }

    func testSeparableClassesGiveAFiniteSteepFit() throws {
        let fit = try PlattScaling.fit(logits: [-2, -1, 1, 2], labels: [0, 0, 1, 1])
        XCTAssertTrue(fit.scale.isFinite && fit.scale > 1)
        XCTAssertGreaterThan(fit.probability(logit: 1), 0.99)
    }
}

/// A small deterministic generator for tests (Knuth's MMIX constants).
struct LinearCongruential: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state ^ (state >> 29)
    }
}
