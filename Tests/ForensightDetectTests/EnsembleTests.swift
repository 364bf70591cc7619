import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightMedia
import ForensightFaces
import ForensightDetect
import ForensightEvaluation

/// The ensemble detector: stacking of members' calibrated logits, its single-file format, its errors, its records.
final class EnsembleTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-ensemble-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// A small EfficientNet-Lite0 detector with its own seeded initialisation and a random head, so members disagree.
    static func member(_ id: String, seed: UInt64, calibration: PlattScaling? = nil, margin: Float = 1.3) throws -> DeepfakeDetector {
        var card = DetectorCard(id: id, architecture: "efficientnet-lite0")
        (card.inputSize, card.cropMargin, card.calibration) = (64, margin, calibration)
        let detector = try ParameterInit.withSeed(seed) { try DeepfakeDetector(card: card) }
        var random = SeededRandom(seed: seed)
        let head = detector.network.fc.weight
        for i in 0..<head.count { head.data[i] = Float(Int(random.next() % 2001) - 1000) / 100 }
        detector.network.fc.markStateChanged()
        detector.network.eval()
        return detector
    }

    static func faces(_ count: Int, seed: UInt64 = 3) -> [RGBImage] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in RGBImage(width: 64, height: 64, pixels: (0..<(64 * 64 * 3)).map { _ in UInt8(random.next() % 256) }) }
    }

    func pair() throws -> EnsembleDetector {
        let a = try Self.member("a", seed: 1, calibration: PlattScaling(scale: 0.5, bias: -0.25)), b = try Self.member("b", seed: 2)
        return try EnsembleDetector(id: "a+b", members: [a, b], combiner: StackingCombiner(weights: [1.2, 0.7], bias: -0.3), threshold: 0.6)
    }

    func testCombinedLogitIsTheStackingOfMemberLogits() throws {
        let ensemble = try pair()
        let faces = Self.faces(5)
        let scores = ensemble.scores(faces)
        let pa = ensemble.members[0].probabilities(faces), pb = ensemble.members[1].probabilities(faces)
        XCTAssertNotEqual(pa, pb)
        for (f, s) in scores.enumerated() {
            XCTAssertEqual(s.members, [pa[f], pb[f]])
            let z = -0.3 + 1.2 * StackingCombiner.feature(probability: Double(pa[f])) + 0.7 * StackingCombiner.feature(probability: Double(pb[f]))
            XCTAssertEqual(Double(s.logit), z, accuracy: 1e-5)
            XCTAssertEqual(Double(s.probability), 1 / (1 + exp(-z)), accuracy: 1e-6)
        }
        XCTAssertEqual(ensemble.faceLogits(faces, batchSize: 2), scores.map(\.logit))
        XCTAssertEqual(ensemble.probabilities(faces), scores.map(\.probability).map { Float($0) }, accuracy: 1e-6)
        // The card carries crop fields from the members and the stacking.
        XCTAssertEqual(ensemble.card.architecture, "ensemble")
        XCTAssertEqual(ensemble.card.ensemble?.members, ["a", "b"])
        XCTAssertEqual(ensemble.card.cropMargin, 1.3)
        XCTAssertNil(ensemble.card.calibration)
    }

    func testSaveLoadRoundTripThroughTheRegistry() throws {
        let ensemble = try pair()
        let path = dir.appendingPathComponent("ab.safetensors").path
        try ensemble.save(to: path)
        let file = try SafetensorsFile(path: path)
        XCTAssertNotNil(file.metadata["forensight.member.0.card"])
        XCTAssertNotNil(file.metadata["forensight.member.1.card"])
        XCTAssertTrue(file.names.allSatisfy { $0.hasPrefix("member.0.") || $0.hasPrefix("member.1.") })
        XCTAssertEqual(file.names.filter { $0.hasPrefix("member.0.") }.count, file.names.filter { $0.hasPrefix("member.1.") }.count)
        XCTAssertTrue(DetectorRegistry.architectures.contains("ensemble"))
        let loaded = try XCTUnwrap(try DetectorRegistry.load(path: path) as? EnsembleDetector)
        XCTAssertEqual(loaded.card, ensemble.card)
        XCTAssertEqual(loaded.members.map(\.card), ensemble.members.map(\.card))
        XCTAssertTrue(loaded.members.allSatisfy { $0 is DeepfakeDetector })
        XCTAssertEqual(loaded.weightsSHA256, try FileDigest.sha256Hex(ofFile: path))
        let faces = Self.faces(4, seed: 9)
        XCTAssertEqual(loaded.faceLogits(faces, batchSize: 16), ensemble.faceLogits(faces, batchSize: 16))
        XCTAssertEqual(loaded.scores(faces), ensemble.scores(faces))
        // The same members with other stacking weights give other logits.
        let other = try EnsembleDetector(id: "a+b", members: ensemble.members, combiner: StackingCombiner(weights: [0.2, 1.5], bias: 0.4))
        XCTAssertNotEqual(other.faceLogits(faces, batchSize: 16), ensemble.faceLogits(faces, batchSize: 16))
        // An ensemble is not built from a card alone.
        XCTAssertThrowsError(try DetectorRegistry.make(card: ensemble.card))
    }

    func testMembersThatCropDifferentlyAreRejected() throws {
        let a = try Self.member("a", seed: 1), wide = try Self.member("wide", seed: 2, margin: 1.5)
        XCTAssertThrowsError(try EnsembleDetector(id: "x", members: [a, wide], combiner: StackingCombiner(weights: [1, 1], bias: 0))) { error in
            XCTAssertTrue(error is DetectorError)
            XCTAssertTrue("\(error)".contains("\"a\"") && "\(error)".contains("\"wide\""), "\(error)")
        }
        let mesh = try Self.member("mesh", seed: 3)
        mesh.card.landmarks = .facemesh
        XCTAssertThrowsError(try EnsembleDetector(id: "x", members: [a, mesh], combiner: StackingCombiner(weights: [1, 1], bias: 0))) {
            XCTAssertTrue("\($0)".contains("\"mesh\""), "\($0)")
        }
        XCTAssertThrowsError(try EnsembleDetector(id: "x", members: [a, a], combiner: StackingCombiner(weights: [1, 1], bias: 0))) {
            XCTAssertTrue("\($0)".contains("share the id"), "\($0)")
        }
        XCTAssertThrowsError(try EnsembleDetector(id: "x", members: [a], combiner: StackingCombiner(weights: [1, 1], bias: 0)))
        XCTAssertThrowsError(try StackingScores.score(members: [a, wide], faces: Self.faces(1), labels: [0]))
    }

    /// A models/ folder's ensemble is preferred to the single model beside it.
    func testDefaultLocationsPreferAnEnsembleFile() {
        XCTAssertEqual(ModelLocations.preferred(in: URL(fileURLWithPath: "/opt/models")),
                       ["/opt/models/ensemble-default.safetensors", "/opt/models/sbi-efficientnet-lite0.safetensors"])
    }

    /// Damaged or inconsistent ensemble files: each is one line naming the file, never a crash.
    func testCorruptOrInconsistentFilesGiveOneLineErrors() throws {
        let path = dir.appendingPathComponent("ok.safetensors").path
        try pair().save(to: path)
        let good = try SafetensorsFile(path: path)
        let tensors = try good.allTensors()
        var card = try DetectorCard.read(from: good, path: path)
        func variant(_ name: String, tensors: [String: Tensor], metadata: [String: String]) throws -> String {
            let p = dir.appendingPathComponent(name).path
            try Safetensors.write(tensors, to: p, metadata: metadata)
            return p
        }
        var cases: [String] = []
        card.ensemble?.weights = [1]
        cases.append(try variant("weights.safetensors", tensors: tensors, metadata: good.metadata.merging(["forensight.card": card.json]) { $1 }))
        card = try DetectorCard.read(from: good, path: path)
        card.ensemble?.members = ["a", "c"]
        cases.append(try variant("ids.safetensors", tensors: tensors, metadata: good.metadata.merging(["forensight.card": card.json]) { $1 }))
        card = try DetectorCard.read(from: good, path: path)
        card.cropSize = 224
        cases.append(try variant("crop.safetensors", tensors: tensors, metadata: good.metadata.merging(["forensight.card": card.json]) { $1 }))
        cases.append(try variant("missing.safetensors", tensors: tensors.filter { $0.key != good.names.last! }, metadata: good.metadata))
        cases.append(try variant("stray.safetensors", tensors: tensors.merging(["member.7.x": Tensor([1], shape: [1])]) { $1 }, metadata: good.metadata))
        cases.append(try variant("nocard.safetensors", tensors: tensors, metadata: good.metadata.filter { $0.key != "forensight.member.1.card" }))
        cases.append(try variant("badcard.safetensors", tensors: tensors, metadata: good.metadata.merging(["forensight.member.0.card": "{"]) { $1 }))
        cases.append(try variant("unknown.safetensors", tensors: tensors, metadata: good.metadata.merging(
            ["forensight.member.0.card": good.metadata["forensight.member.0.card"]!.replacingOccurrences(of: "efficientnet-lite0", with: "no-such-net")]) { $1 }))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let truncated = dir.appendingPathComponent("truncated.safetensors")
        try bytes.prefix(bytes.count / 2).write(to: truncated)
        cases.append(truncated.path)
        for p in cases {
            XCTAssertThrowsError(try DetectorRegistry.load(path: p), p) { error in
                XCTAssertTrue(error is DetectorError, "\(p): \(error)")
                XCTAssertTrue("\(error)".contains(p), "\(error)")
                XCTAssertFalse("\(error)".contains("\n"), "\(error)")
            }
        }
    }

    /// Grad-CAM of an ensemble is the map of the member contributing most (largest w_i · logit(p_i)) to each face.
    func testGradCAMComesFromTheMostContributingMember() throws {
        let a = try Self.member("a", seed: 1), b = try Self.member("b", seed: 2)
        let ensemble = try EnsembleDetector(id: "x", members: [a, b], combiner: StackingCombiner(weights: [1, -1], bias: 0))
        let faces = Self.faces(4, seed: 21)
        let (maps, side) = ensemble.gradCAM(faces)
        XCTAssertEqual(maps.count, 4)
        for (f, score) in ensemble.scores(faces).enumerated() {
            let c = ensemble.contributions(score)
            let winner = c[0] >= c[1] ? 0 : 1
            XCTAssertEqual(ensemble.explainingMember(score), winner)
            let own = (ensemble.members[winner] as! DeepfakeDetector).gradCAM([faces[f]])
            XCTAssertEqual(side, own.side)
            XCTAssertEqual(maps[f], own.maps[0])
        }
        let score = EnsembleFaceScore(members: [0.2, 0.9], logit: 0, probability: 0.5)
        XCTAssertEqual(ensemble.explainingMember(score), 0)                    // logit(0.2) > −logit(0.9)
    }

    /// Scoring labelled crops gives the rows of the CSV `models ensemble --fit` reads; the fit matches stacking the rows.
    func testScoresCSVRoundTripAndFit() throws {
        let ensemble = try pair()
        let faces = Self.faces(12, seed: 33)
        let labels = faces.indices.map { $0 % 3 == 0 ? 1 : 0 }
        let rows = try StackingScores.score(members: ensemble.members, faces: faces, labels: labels)
        XCTAssertEqual(rows.map(\.label), labels)
        XCTAssertEqual(rows.map(\.probabilities), ensemble.scores(faces).map { $0.members.map(Double.init) })
        let csv = dir.appendingPathComponent("scores.csv").path
        try StackingScores.write(memberIDs: ["a", "b"], rows: rows, to: csv)
        let read = try StackingScores.read(path: csv)
        XCTAssertEqual(read.memberIDs, ["a", "b"])
        XCTAssertEqual(read.rows, rows)
        // Columns in another order are matched by id.
        let swapped = rows.map { StackingRow(label: $0.label, probabilities: $0.probabilities.reversed()) }
        let (fitted, report) = try EnsembleDetector.fit(id: "e", members: ensemble.members, memberIDs: ["b", "a"], rows: swapped)
        let direct = try StackingCombiner.fit(features: rows.map { $0.probabilities.map(StackingCombiner.feature(probability:)) }, labels: labels)
        XCTAssertEqual(fitted.combiner, direct)
        XCTAssertEqual(report.members.map(\.id), ["a", "b"])
        let reals = rows.filter { $0.label == 0 }.map { direct.probability(members: $0.probabilities) }
        XCTAssertEqual(Double(fitted.card.threshold), StackingCombiner.threshold(realScores: reals), accuracy: 1e-6)
        XCTAssertLessThanOrEqual(reals.filter { $0 >= Double(fitted.card.threshold) }.count, Int(0.02 * Double(reals.count)))
        XCTAssertEqual(try EnsembleDetector.fit(id: "e", members: ensemble.members, memberIDs: ["a", "b"], rows: rows, threshold: 0.7).0.card.threshold, 0.7)
        XCTAssertThrowsError(try EnsembleDetector.fit(id: "e", members: ensemble.members, memberIDs: ["a", "c"], rows: rows))
        // Bad CSVs: one line naming the file and the line.
        for (name, text) in [("header", "y,a,b\n1,0.5,0.5\n"), ("label", "label,a,b\n2,0.5,0.5\n"), ("p", "label,a,b\n1,1.5,0.5\n"),
                             ("short", "label,a,b\n1,0.5\n"), ("empty", "")] {
            let p = dir.appendingPathComponent("\(name).csv").path
            try text.write(toFile: p, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try StackingScores.read(path: p)) { XCTAssertTrue("\($0)".hasPrefix(p + ":") && !"\($0)".contains("\n"), "\($0)") }
        }
    }

    /// detect's record for an ensemble lists each member's P(fake) per face and face-frame, and the combined P is
    /// σ(b + Σ w·logit(p)); a single model's record has `members: null`. Needs MTCNN and a UTKFace photo.
    func testEnsembleRecordListsMemberProbabilities() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/datasets/utkface-real/images").standardized.path
        guard let name = try? FileManager.default.contentsOfDirectory(atPath: folder).sorted().first(where: { $0.hasSuffix(".jpg") }) else {
            throw XCTSkip("../shared/datasets/utkface-real absent")
        }
        guard MTCNN.weightsPresent() else { throw XCTSkip("MTCNN weights absent (run scripts/setup/weights.sh)") }
        let ensemble = try pair()
        let v = try Pipeline(detector: ensemble, faceDetector: try MTCNN(), frames: 2).analyze(path: folder + "/" + name)
        XCTAssertEqual(v.schema, "forensight.detect/3")
        let object = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(v)) as! [String: Any]
        let face = try XCTUnwrap((object["faces"] as? [[String: Any]])?.first)
        let frame = try XCTUnwrap((face["frames"] as? [[String: Any]])?.first)
        let members = try XCTUnwrap(frame["members"] as? [[String: Any]])
        XCTAssertEqual(members.map { $0["id"] as? String }, ["a", "b"])
        let p = members.map { $0["p_fake"] as! Double }
        let z = -0.3 + 1.2 * StackingCombiner.feature(probability: p[0]) + 0.7 * StackingCombiner.feature(probability: p[1])
        XCTAssertEqual(frame["probability"] as! Double, 1 / (1 + exp(-z)), accuracy: 1e-5)
        XCTAssertEqual((face["members"] as? [[String: Any]])?.map { $0["p_fake"] as! Double }, p)   // one frame: means are the frame's
        XCTAssertEqual(try JSONDecoder().decode(Verdict.self, from: try JSONEncoder().encode(v)), v)
        // A single member's record: the same keys, members null.
        let single = try Pipeline(detector: ensemble.members[0], faceDetector: try MTCNN(), frames: 2).analyze(path: folder + "/" + name)
        let plain = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(single)) as! [String: Any]
        let plainFace = try XCTUnwrap((plain["faces"] as? [[String: Any]])?.first)
        XCTAssertTrue(plainFace["members"] is NSNull)
        XCTAssertTrue(((plainFace["frames"] as? [[String: Any]])?.first?["members"]) is NSNull)
        XCTAssertEqual(single.faces[0].frames[0].probability, p[0], accuracy: 1e-6)
        // The explanation draws the ensemble's Grad-CAM.
        let (verdict, crops) = try Pipeline(detector: ensemble, faceDetector: try MTCNN(), frames: 2).analyzeKeepingCrops(path: folder + "/" + name)
        let artifacts = try Pipeline(detector: ensemble, faceDetector: try MTCNN(), frames: 2).explanation(of: verdict, crops: crops)
        XCTAssertEqual(artifacts.map(\.name), ["face0.png"])
    }
}

private func XCTAssertEqual(_ a: [Float], _ b: [Float], accuracy: Float, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}

extension EnsembleTests {
    /// With units in the rows (as `train --detector ensemble` writes them), the fitted threshold is placed on videos
    /// and photos as `detect` reports them: a video whose one frame scores high no longer sets it alone.
    func testTheThresholdIsPlacedOnUnitsWhenTheRowsNameThem() throws {
        let a = try EnsembleTests.member("seam", seed: 1), b = try EnsembleTests.member("synth", seed: 2)
        var rows: [StackingRow] = []
        // 60 real videos of 4 frames: one frame of every third video spikes; 60 fakes score high.
        for v in 0..<60 {
            for f in 0..<4 {
                let spike = v % 3 == 0 && f == 0
                let p = spike ? 0.9 : 0.1 + Double((v * 7 + f) % 10) / 50
                rows.append(StackingRow(label: 0, probabilities: [p, p], unit: "video\(v)"))
            }
            rows.append(StackingRow(label: 1, probabilities: [0.8 + Double(v % 5) / 30, 0.85], unit: "fake/video\(v)"))
        }
        let (_, byUnit) = try EnsembleDetector.fit(id: "u", members: [a, b], memberIDs: ["seam", "synth"], rows: rows)
        let (_, byFace) = try EnsembleDetector.fit(id: "f", members: [a, b], memberIDs: ["seam", "synth"],
                                                   rows: rows.map { StackingRow(label: $0.label, probabilities: $0.probabilities) })
        XCTAssertEqual(byUnit.realUnits, 60)
        XCTAssertEqual(byFace.realUnits, 240)
        XCTAssertTrue(byUnit.thresholdPerUnit)
        XCTAssertFalse(byFace.thresholdPerUnit, "rows without units: per face, whatever the counts")
        XCTAssertEqual(byUnit.weights, byFace.weights, "units change the threshold, not the stacking")
        XCTAssertLessThan(byUnit.threshold, byFace.threshold, "20 spiking frames in 240 push a per-face threshold up")
        XCTAssertLessThanOrEqual(byUnit.realFlaggedRate, 0.02)
        // The CSV keeps the units (a comma in a unit name is replaced) and an old CSV without them still reads.
        let csv = StackingScores.csv(memberIDs: ["seam", "synth"], rows: rows)
        XCTAssertTrue(csv.hasPrefix("label,unit,seam,synth\n0,video0,"), String(csv.prefix(40)))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("units-\(UUID()).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try csv.write(toFile: path, atomically: true, encoding: .utf8)
        let read = try StackingScores.read(path: path)
        XCTAssertEqual(read.memberIDs, ["seam", "synth"])
        XCTAssertEqual(read.rows, rows)
        try "label,seam,synth\n0,0.1,0.2\n1,0.9,0.8\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(try StackingScores.read(path: path).rows.map(\.unit), [nil, nil])
    }
}
