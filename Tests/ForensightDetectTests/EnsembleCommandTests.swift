import XCTest
import Foundation
import ForensightDetect
import ForensightEvaluation

extension CommandLineTests {
    /// `models ensemble` end to end: two member files and a scores CSV give an ensemble file that the registry loads,
    /// with the stacking fitted on the CSV and the threshold of the 2 % rule; bad input is one line on stderr, exit 1.
    func testModelsEnsembleFitsAndWritesALoadableFile() throws {
        let a = try EnsembleTests.member("seam", seed: 1), b = try EnsembleTests.member("synth", seed: 2)
        let (pathA, pathB) = (dir.appendingPathComponent("a.safetensors").path, dir.appendingPathComponent("b.safetensors").path)
        try a.save(to: pathA)
        try b.save(to: pathB)
        // Twelve faces: fakes score higher on one member or the other (columns in the other order than --member).
        let rows: [StackingRow] = (0..<24).map { i in
            let fake = i % 2 == 1
            let seam = fake && i % 4 == 1 ? 0.55 + Double(i) / 80 : 0.1 + Double(i % 7) / 20
            let synth = fake && i % 4 == 3 ? 0.6 + Double(i) / 90 : 0.15 + Double(i % 5) / 25
            return StackingRow(label: fake ? 1 : 0, probabilities: [synth, seam])
        }
        let csv = dir.appendingPathComponent("scores.csv").path
        try StackingScores.write(memberIDs: ["synth", "seam"], rows: rows, to: csv)
        let out = dir.appendingPathComponent("ensemble.safetensors").path
        let result = try run(["models", "ensemble", "--member", pathA, "--member", pathB, "--fit", csv, "--out", out, "--id", "e1", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(object["id"] as? String, "e1")
        let fit = object["fit"] as! [String: Any]
        let expected = try StackingCombiner.fit(features: rows.map { $0.probabilities.reversed().map(StackingCombiner.feature(probability:)) },
                                                labels: rows.map(\.label))
        let weights = fit["weights"] as! [Double]
        for (w, e) in zip(weights, expected.weights) { XCTAssertEqual(w, e, accuracy: 1e-9) }
        XCTAssertEqual(fit["bias"] as! Double, expected.bias, accuracy: 1e-9)
        XCTAssertEqual((fit["members"] as! [[String: Any]]).map { $0["id"] as! String }, ["seam", "synth"])
        XCTAssertEqual(fit["threshold_source"] as? String, "fitted")
        let loaded = try XCTUnwrap(try DetectorRegistry.load(path: out) as? EnsembleDetector)
        XCTAssertEqual(loaded.card.id, "e1")
        XCTAssertEqual(loaded.memberIDs, ["seam", "synth"])
        XCTAssertEqual(loaded.combiner, expected)
        XCTAssertEqual(Double(loaded.card.threshold), fit["threshold"] as! Double, accuracy: 1e-6)
        let faces = EnsembleTests.faces(3)
        let direct = try EnsembleDetector(id: "e1", members: [a, b], combiner: expected)
        XCTAssertEqual(loaded.faceLogits(faces, batchSize: 16), direct.faceLogits(faces, batchSize: 16))

        // The readable form names weights, bias, threshold and AUCs; a given threshold is kept.
        let plain = try run(["models", "ensemble", "--member", pathA, "--member", pathB, "--fit", csv, "--out", out, "--threshold", "0.7"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        for word in ["seam", "synth", "bias", "combined", "threshold 0.7000 (given"] { XCTAssertTrue(plain.stdout.contains(word), plain.stdout) }

        // Bad input: a CSV without a member's column, a missing member file, members that crop differently, usage.
        try "label,seam\n1,0.5\n0,0.2\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let noColumn = try run(["models", "ensemble", "--member", pathA, "--member", pathB, "--fit", csv, "--out", out])
        XCTAssertEqual(noColumn.status, 1)
        XCTAssertEqual(noColumn.stderr.split(separator: "\n").count, 1, noColumn.stderr)
        XCTAssertTrue(noColumn.stderr.contains(csv) && noColumn.stderr.contains("synth"), noColumn.stderr)
        let missing = try run(["models", "ensemble", "--member", pathA, "--member", dir.appendingPathComponent("none.safetensors").path,
                               "--fit", csv, "--out", out])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("none.safetensors"), missing.stderr)
        let wide = try EnsembleTests.member("wide", seed: 3, margin: 1.6)
        let pathW = dir.appendingPathComponent("w.safetensors").path
        try wide.save(to: pathW)
        try StackingScores.write(memberIDs: ["seam", "wide"], rows: rows, to: csv)
        let crop = try run(["models", "ensemble", "--member", pathA, "--member", pathW, "--fit", csv, "--out", out])
        XCTAssertEqual(crop.status, 1)
        XCTAssertTrue(crop.stderr.contains("\"seam\"") && crop.stderr.contains("\"wide\""), crop.stderr)
        XCTAssertEqual(try run(["models", "ensemble", "--member", pathA, "--fit", csv, "--out", out]).status, 2)
        XCTAssertEqual(try run(["models", "ensemble", "--help"]).status, 0)
    }
}
