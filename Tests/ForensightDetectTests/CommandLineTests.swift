import XCTest
import Foundation
import ForensightMedia
import ForensightFaces
import ForensightEvaluation

/// The `forensight` executable as a user runs it: exit codes, stdout records, one-line errors on stderr.
/// Skipped when the executable has not been built next to the tests (`scripts/test.sh` builds it).
final class CommandLineTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-cli-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func executable() throws -> String { try CLIRunner.executable() }

    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) { try CLIRunner.run(arguments) }

    func testUsageErrorsExitWithTwo() throws {
        XCTAssertEqual(try run(["detect"]).status, 2)
        XCTAssertEqual(try run(["detect", "--frames", "0", "x.png"]).status, 2)
        XCTAssertEqual(try run(["detect", "--json", "--csv", "x.png"]).status, 2)
        XCTAssertEqual(try run(["evaluate", "d", "--out", "r.json", "--model", "no-equals-sign"]).status, 2)
        XCTAssertEqual(try run(["no-such-command"]).status, 2)
        XCTAssertEqual(try run(["--help"]).status, 0)
    }

    func testDetectVerdictsRecordsAndBadFiles() throws {
        let wall = dir.appendingPathComponent("wall.png").path
        try ImageEncoder.write(RGBImage(width: 96, height: 64, fill: (120, 130, 140)), to: wall)
        guard MTCNN.weightsPresent() else { throw XCTSkip("MTCNN weights absent (run scripts/setup/weights.sh)") }
        let plain = try run(["detect", wall])
        
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertTrue(plain.stdout.hasPrefix(wall + ": NO_FACE"), plain.stdout)

        let json = try run(["detect", wall, "--json"])
        let record = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(record["schema"] as? String, "forensight.detect/3")
        XCTAssertEqual(record["verdict"] as? String, "NO_FACE")

        let missing = try run(["detect", dir.appendingPathComponent("missing.mp4").path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.stderr.split(separator: "\n").count, 1, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("missing.mp4"))

        // A folder with a good and a broken file: both reported, the run goes on, status 0.
        let folder = dir.appendingPathComponent("mixed")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: wall, toPath: folder.appendingPathComponent("a.png").path)
        try Data("not a video".utf8).write(to: folder.appendingPathComponent("b.mp4"))
        let csv = try run(["detect", folder.path, "--csv"])
        XCTAssertEqual(csv.status, 0, csv.stderr)
        let rows = csv.stdout.split(separator: "\n")
        XCTAssertEqual(rows.first, "source,verdict,probability,faces,frames,frames_with_faces,error")
        XCTAssertEqual(rows.count, 3)
        XCTAssertTrue(rows[1].contains(",NO_FACE,"))
        XCTAssertTrue(rows[2].contains(",ERROR,"))
    }

    func testReportRejectsAFileThatIsNotResults() throws {
        let junk = dir.appendingPathComponent("junk.json").path
        try Data("{\"a\": 1}".utf8).write(to: URL(fileURLWithPath: junk))
        let result = try run(["report", junk, "--out", dir.appendingPathComponent("r").path])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("not a forensight evaluate results file"), result.stderr)
    }
}

extension CommandLineTests {
    /// `evaluate` journals each item as it is scored; `--resume` keeps journaled items instead of scoring them again.
    func testEvaluateResumesFromItsJournal() throws {
        guard MTCNN.weightsPresent() else { throw XCTSkip("MTCNN weights absent (run scripts/setup/weights.sh)") }
        let data = dir.appendingPathComponent("data")
        for sub in ["real", "fake"] { try FileManager.default.createDirectory(at: data.appendingPathComponent(sub), withIntermediateDirectories: true) }
        try ImageEncoder.write(RGBImage(width: 90, height: 70, fill: (40, 50, 60)), to: data.appendingPathComponent("real/a.png").path)
        try ImageEncoder.write(RGBImage(width: 90, height: 70, fill: (60, 50, 40)), to: data.appendingPathComponent("fake/b.png").path)
        let out = dir.appendingPathComponent("r.json").path
        let first = try run(["evaluate", data.path, "--out", out])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + ".partial.jsonl"), "the journal outlives a finished run")
        let results = try JSONDecoder().decode(EvaluationResults.self, from: Data(contentsOf: URL(fileURLWithPath: out)))
        XCTAssertEqual(results.items.count, 2)
        XCTAssertTrue(results.items.allSatisfy { $0.faces.isEmpty })       // plain images: no face
        // An interrupted run left b.png journaled (with a score no plain image could get); resuming keeps it.
        var journaled = try XCTUnwrap(results.items.first { $0.id.hasSuffix("b.png") })
        journaled.faces = [.init(frame: 0, face: 0, score: 0.875)]
        try (String(decoding: try JSONEncoder().encode(journaled), as: UTF8.self) + "\n{\"cut\n").write(toFile: out + ".partial.jsonl", atomically: true, encoding: .utf8)
        let resumed = try run(["evaluate", data.path, "--out", out, "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming: 1 items"), resumed.stderr)
        let after = try JSONDecoder().decode(EvaluationResults.self, from: Data(contentsOf: URL(fileURLWithPath: out)))
        XCTAssertEqual(after.items.map(\.id), results.items.map(\.id))
        XCTAssertEqual(after.items.first { $0.id.hasSuffix("b.png") }?.faces.first?.score, 0.875)
        XCTAssertEqual(after.items.first { $0.id.hasSuffix("a.png") }?.faces.count, 0)
    }
}

extension CommandLineTests {
    /// `models import` turns a PyTorch checkpoint into safetensors with the values torch.load gives; `models info`
    /// lists them; a file that is not a checkpoint is one line on stderr and exit 1.
    func testModelsImportWritesTheCheckpointsTensors() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ForensightCheckpointTests/Fixtures")
        let out = dir.appendingPathComponent("state.safetensors").path
        let imported = try run(["models", "import", fixtures.appendingPathComponent("state_zip.pt").path, "--out", out, "--only", "conv."])
        XCTAssertEqual(imported.status, 0, imported.stderr)
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("expected.json"))) as! [String: Any]
        let state = (expected["sets"] as! [String: Any])["state"] as! [String: [String: Any]]
        let info = try run(["models", "info", out, "--json"])
        XCTAssertEqual(info.status, 0, info.stderr)
        let listed = (try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as! [String: Any])["tensors"] as! [[String: Any]]
        XCTAssertEqual(listed.map { $0["name"] as! String }, ["conv.bias", "conv.weight"])
        XCTAssertEqual(listed.map { $0["shape"] as! [Int] }, [state["conv.bias"]!["shape"] as! [Int], state["conv.weight"]!["shape"] as! [Int]])
        // The values themselves, read back through the safetensors loader the detectors use.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: out))
        let headerLength = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + headerLength))) as! [String: Any]
        let bias = header["conv.bias"] as! [String: Any], range = bias["data_offsets"] as! [Int]
        let values = bytes.subdata(in: (8 + headerLength + range[0])..<(8 + headerLength + range[1])).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        for (a, b) in zip(values, state["conv.bias"]!["values"] as! [Double]) { XCTAssertEqual(Double(a), b, accuracy: 1e-7) }

        let bad = try run(["models", "import", fixtures.appendingPathComponent("expected.json").path, "--out", dir.appendingPathComponent("x").path])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("expected.json") && bad.stderr.contains("not a PyTorch checkpoint"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("x").path))
    }
}

extension CommandLineTests {
    /// `models architectures` lists what the registry builds and which of them `train --architecture` takes;
    /// `train` with an architecture it cannot train is a usage error naming the trainable ones.
    func testModelsArchitecturesAndTrainRefusingAnUntrainableOne() throws {
        let listed = try run(["models", "architectures", "--json"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        let trainable = Dictionary(uniqueKeysWithValues: rows.map { ($0["architecture"] as! String, $0["trainable"] as! Bool) })
        XCTAssertEqual(trainable["efficientnet-lite0"], true)
        XCTAssertEqual(trainable["efficientnet-lite2"], true)
        XCTAssertEqual(trainable["ensemble"], false)
        let data = dir.appendingPathComponent("empty-data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        for i in 0..<3 { try ImageEncoder.write(RGBImage(width: 32, height: 32, fill: (UInt8(40 * i), 90, 90)), to: data.appendingPathComponent("p\(i).png").path) }
        let refused = try run(["train", "--detector", "sbi", "--architecture", "ensemble", "--data", data.path,
                               "--out", dir.appendingPathComponent("run").path, "--cache", dir.appendingPathComponent("cache").path])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("ensemble cannot be trained") && refused.stderr.contains("efficientnet-lite2"), refused.stderr)
    }
}

extension CommandLineTests {
    /// A zoo architecture end to end through the CLI: `train --architecture meso4` on a few real photos (its own
    /// 256 px, 0…1 input, no pretrained weights), `--export`, then `detect --model` and `embed` with the file.
    func testTrainingMesoNetThroughTheCommandLine() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/datasets/utkface-real/images").standardized.path
        guard let all = try? FileManager.default.contentsOfDirectory(atPath: folder).sorted().filter({ $0.hasSuffix(".jpg") }), all.count >= 36 else {
            throw XCTSkip("../shared/datasets/utkface-real absent")
        }
        let names = Array(all.prefix(24)), unseen = Array(all[24..<36])
        let data = dir.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: data.appendingPathComponent("real"), withIntermediateDirectories: true)
        for name in names { try FileManager.default.copyItem(atPath: folder + "/" + name, toPath: data.appendingPathComponent("real/" + name).path) }
        // Reals only (training is fake-free), listed in a labels.csv.
        try (["path,label"] + names.map { "real/\($0),real" }).joined(separator: "\n").write(to: data.appendingPathComponent("labels.csv"), atomically: true, encoding: .utf8)
        let model = dir.appendingPathComponent("meso.safetensors").path
        let trained = try run(["train", "--detector", "sbi", "--architecture", "meso4", "--data", data.path, "--cache", dir.appendingPathComponent("cache").path,
                               "--epochs", "1", "--steps-per-epoch", "2", "--reals-per-step", "4", "--val-fraction", "0.25", "--test-fraction", "0.1",
                               "--out", dir.appendingPathComponent("run").path, "--export", model])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let info = try run(["models", "info", model, "--json"])
        let metadata = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])?["metadata"] as? [String: String])
        let card = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(metadata["forensight.card"]).utf8)) as? [String: Any])
        XCTAssertEqual(card["architecture"] as? String, "meso4")
        XCTAssertEqual(card["input_size"] as? Int, 256)
        XCTAssertEqual(card["pixel_scale"] as? Double, 1)
        XCTAssertEqual(card["schema"] as? Int, 2)
        let detected = try run(["detect", "--model", model, "--json", data.appendingPathComponent("real/" + names[0]).path])
        XCTAssertEqual(detected.status, 0, detected.stderr)
        let record = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(detected.stdout.utf8)) as? [String: Any])
        XCTAssertTrue(["REAL", "FAKE"].contains(record["verdict"] as? String ?? ""), detected.stdout)
        // Photos it never saw (`embed` leaves out what the model trained on).
        let other = dir.appendingPathComponent("unseen")
        try FileManager.default.createDirectory(at: other.appendingPathComponent("real"), withIntermediateDirectories: true)
        for name in unseen { try FileManager.default.copyItem(atPath: folder + "/" + name, toPath: other.appendingPathComponent("real/" + name).path) }
        try (["path,label"] + unseen.map { "real/\($0),real" }).joined(separator: "\n").write(to: other.appendingPathComponent("labels.csv"), atomically: true, encoding: .utf8)
        let embedded = try run(["embed", other.path, "--model", model, "--frames", "1", "--perplexity", "3", "--out", dir.appendingPathComponent("embed").path])
        XCTAssertEqual(embedded.status, 0, embedded.stderr)
        XCTAssertTrue(embedded.stdout.contains("16 features each"), embedded.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("embed/tsne-class.svg").path))
    }
}
