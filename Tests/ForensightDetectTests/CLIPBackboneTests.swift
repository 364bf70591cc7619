import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightMedia
import ForensightModels
import ForensightDetect

/// The CLIP variants of the zoo's detectors (`forgelens-clip`, `dfd-fcg-clip`, `clip-adapter-clip`) on the tiny
/// OpenAI-format CLIP encoder of the importer fixtures: the card carries the encoder's sizes and CLIP's
/// normalisation, the user's weights load into the detector's encoder exactly, a saved detector reloads with the
/// same encoder and the same logits, and a card or checkpoint that does not fit is one clear error.
final class CLIPBackboneTests: XCTestCase {
    func checkpoint() throws -> CLIPCheckpoint {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ForensightModelsTests/Fixtures/clip/openai_torchscript.pt").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("CLIP fixtures absent (make_clip_fixtures.py)") }
        return try CLIPCheckpoint(path: path, heads: 4)
    }

    func faces(_ count: Int) -> [RGBImage] {
        (0..<count).map { n in
            var random = SeededRandom(seed: UInt64(n) + 11)
            return RGBImage(width: 48, height: 48, pixels: (0..<(48 * 48 * 3)).map { _ in UInt8(truncatingIfNeeded: random.next() % 256) })
        }
    }

    func make(_ architecture: String, layers: [Int], from clip: CLIPCheckpoint) throws -> any CLIPBackboneDetector {
        var card = DetectorCard(id: "tiny-" + architecture, architecture: architecture)
        card.useCLIP(CLIPBackboneSpec(clip.config, selected: layers))
        let detector = try XCTUnwrap(try ParameterInit.withSeed(5) { try DetectorRegistry.makeTrainable(card: card) } as? any CLIPBackboneDetector)
        try detector.loadPretrained(Dictionary(uniqueKeysWithValues: clip.encoder.stateDict()))
        return detector
    }

    func testEveryCLIPVariantTakesTheUsersEncoderAndRoundTrips() throws {
        let clip = try checkpoint()
        XCTAssertEqual(clip.config.layers, 2)
        let variants: [(String, [Int])] = [
            (ForgeLensDetector.clipArchitecture, ForgeLensDetector.defaultCLIPLayers(2)),
            (DFDFCGDetector.clipArchitecture, DFDFCGDetector.defaultCLIPLayers(2)),
            (CLIPAdapterDetector.clipArchitecture, CLIPAdapterDetector.defaultCLIPLayers(2)),
        ]
        XCTAssertEqual(variants.map(\.1), [[0, 1], [0, 1], [1]])
        for (architecture, layers) in variants {
            XCTAssertTrue(DetectorRegistry.trainableArchitectures.contains(architecture), architecture)
            let detector = try make(architecture, layers: layers, from: clip)
            // The card: CLIP's input side and normalisation, the encoder's sizes and the blocks read.
            XCTAssertEqual(detector.card.inputSize, clip.config.imageSize)
            XCTAssertEqual(detector.card.pixelScale, 1)
            XCTAssertEqual(detector.card.mean[0], 0.48145466, accuracy: 1e-7)
            XCTAssertEqual(detector.card.clipBackbone?.selected, layers)
            XCTAssertNil(detector.pretrainedWeightsName)
            // The user's weights, exactly, in the detector's (frozen) encoder.
            let encoder = try XCTUnwrap(detector.clipEncoder)
            let mine = Dictionary(uniqueKeysWithValues: encoder.stateDict())
            for (key, value) in clip.encoder.stateDict() { XCTAssertEqual(mine[key]?.scalars, value.scalars, "\(architecture) \(key)") }
            XCTAssertTrue(encoder.namedParameters().allSatisfy { !$0.1.requiresGrad || architecture == CLIPAdapterDetector.clipArchitecture })
            XCTAssertThrowsError(try detector.setInputSize(clip.config.imageSize * 2))
            // A file round trip: the same card and the same logits.
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("clip-\(architecture)-\(UUID().uuidString).safetensors").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            detector.module.eval()
            let before = detector.faceLogits(faces(3), batchSize: 2)
            try detector.save(to: path, dtype: .f32)
            let loaded = try DetectorRegistry.load(path: path)
            var expected = detector.card
            expected.schema = 2  // stored under the lowest schema that carries pixel_scale
            XCTAssertEqual(loaded.card, expected)
            let after = loaded.faceLogits(faces(3), batchSize: 2)
            XCTAssertEqual(before.count, 3)
            for (a, b) in zip(before, after) { XCTAssertEqual(a, b, accuracy: 1e-5, architecture) }
            XCTAssertTrue(before.allSatisfy(\.isFinite))
        }
    }

    func testTheDetectorReadsTheEncodersOwnTokens() throws {
        // ForgeLens on CLIP reads the blocks the card selects: its token source gives the projection of exactly the
        // encoder's intermediate tokens.
        let clip = try checkpoint()
        let detector = try XCTUnwrap(try make(ForgeLensDetector.clipArchitecture, layers: [0, 1], from: clip) as? ForgeLensDetector)
        let tokens = try XCTUnwrap(detector.network.tokens as? CLIPTokens)
        let x = detector.inputTensor(faces(2))
        let reference = withoutGrad { clip.encoder.intermediates(x, layers: [0, 1]) }
        let got = withoutGrad { tokens.layerTokens(x) }
        for (n, layer) in [0, 1].enumerated() {
            let expected = withoutGrad { tokens.proj(reference[layer]!) }
            XCTAssertEqual(got[n].shape, expected.shape)
            XCTAssertEqual(zip(got[n].scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 1, 0, accuracy: 1e-6)
        }
    }

    func testCardsAndCheckpointsThatDoNotFitAreClearErrors() throws {
        // No clip_backbone: the error says how to train one.
        let bare = DetectorCard(id: "bare", architecture: ForgeLensDetector.clipArchitecture)
        XCTAssertThrowsError(try DetectorRegistry.make(card: bare)) { error in
            XCTAssertTrue("\(error)".contains("--clip"), "\(error)")
        }
        // Blocks the encoder does not have, or an unknown activation.
        let clip = try checkpoint()
        var card = DetectorCard(id: "bad", architecture: DFDFCGDetector.clipArchitecture)
        card.useCLIP(CLIPBackboneSpec(clip.config, selected: [0, 5]))
        XCTAssertThrowsError(try DetectorRegistry.make(card: card)) { XCTAssertTrue("\($0)".contains("selected blocks"), "\($0)") }
        var spec = CLIPBackboneSpec(clip.config, selected: [1])
        spec.activation = "swish"
        card.useCLIP(spec)
        XCTAssertThrowsError(try DetectorRegistry.make(card: card)) { XCTAssertTrue("\($0)".contains("activation"), "\($0)") }
        // The adapter reads one block.
        var adapter = DetectorCard(id: "two", architecture: CLIPAdapterDetector.clipArchitecture)
        adapter.useCLIP(CLIPBackboneSpec(clip.config, selected: [0, 1]))
        XCTAssertThrowsError(try DetectorRegistry.make(card: adapter)) { XCTAssertTrue("\($0)".contains("one block"), "\($0)") }
        // Weights of another encoder (a wider one) do not load.
        let detector = try make(ForgeLensDetector.clipArchitecture, layers: [0, 1], from: clip)
        var wider = clip.config
        (wider.width, wider.mlpWidth) = (clip.config.width * 2, clip.config.mlpWidth * 2)
        let other = CLIPVisionEncoder(wider)
        XCTAssertThrowsError(try detector.loadPretrained(Dictionary(uniqueKeysWithValues: other.stateDict()))) { error in
            XCTAssertTrue("\(error)".contains("do not fit"), "\(error)")
        }
    }
}

extension CommandLineTests {
    /// `train --architecture forgelens-clip --clip FILE` end to end on a few real photos with the tiny imported CLIP
    /// encoder: the exported file's card carries the encoder's sizes and CLIP's normalisation, `detect --model` runs
    /// it alone; a CLIP variant without `--clip`, and `--clip` with a Lite architecture, are one-line usage errors.
    func testTrainingACLIPVariantThroughTheCommandLine() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ForensightModelsTests/Fixtures/clip")
        let archive = fixtures.appendingPathComponent("openai_torchscript.pt").path
        guard FileManager.default.fileExists(atPath: archive) else { throw XCTSkip("CLIP fixtures absent (make_clip_fixtures.py)") }
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/datasets/utkface-real/images").standardized.path
        guard let all = try? FileManager.default.contentsOfDirectory(atPath: folder).sorted().filter({ $0.hasSuffix(".jpg") }), all.count >= 16 else {
            throw XCTSkip("../shared/datasets/utkface-real absent")
        }
        let clip = dir.appendingPathComponent("clip.safetensors").path
        let imported = try run(["models", "import", "clip", archive, "--heads", "4", "--out", clip])
        XCTAssertEqual(imported.status, 0, imported.stderr)
        let data = dir.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: data.appendingPathComponent("real"), withIntermediateDirectories: true)
        let names = Array(all.prefix(16))
        for name in names { try FileManager.default.copyItem(atPath: folder + "/" + name, toPath: data.appendingPathComponent("real/" + name).path) }
        try (["path,label"] + names.map { "real/\($0),real" }).joined(separator: "\n").write(to: data.appendingPathComponent("labels.csv"), atomically: true, encoding: .utf8)
        let common = ["train", "--detector", "sbi", "--data", data.path, "--cache", dir.appendingPathComponent("cache").path, "--epochs", "1",
                      "--steps-per-epoch", "2", "--reals-per-step", "2", "--val-fraction", "0.25", "--test-fraction", "0.1"]

        let missing = try run(common + ["--architecture", "forgelens-clip", "--out", dir.appendingPathComponent("run0").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("--clip"), missing.stderr)
        XCTAssertEqual(missing.stderr.split(separator: "\n").count, 1, missing.stderr)
        let misplaced = try run(common + ["--architecture", "efficientnet-lite0", "--clip", clip, "--out", dir.appendingPathComponent("run1").path])
        XCTAssertNotEqual(misplaced.status, 0)
        XCTAssertTrue(misplaced.stderr.contains("forgelens-clip"), misplaced.stderr)

        let model = dir.appendingPathComponent("forgelens-clip.safetensors").path
        let trained = try run(common + ["--architecture", "forgelens-clip", "--clip", clip, "--out", dir.appendingPathComponent("run").path, "--export", model])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let info = try run(["models", "info", model, "--json"])
        let metadata = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])?["metadata"] as? [String: String])
        let card = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(metadata["forensight.card"]).utf8)) as? [String: Any])
        XCTAssertEqual(card["architecture"] as? String, "forgelens-clip")
        XCTAssertEqual(card["input_size"] as? Int, 32)
        let backbone = try XCTUnwrap(card["clip_backbone"] as? [String: Any])
        XCTAssertEqual(backbone["layers"] as? Int, 2)
        XCTAssertEqual(backbone["selected"] as? [Int], [0, 1])
        XCTAssertEqual(backbone["activation"] as? String, "quick_gelu")
        let detected = try run(["detect", "--model", model, "--json", data.appendingPathComponent("real/" + names[0]).path])
        XCTAssertEqual(detected.status, 0, detected.stderr)
        let record = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(detected.stdout.utf8)) as? [String: Any])
        XCTAssertTrue(["REAL", "FAKE"].contains(record["verdict"] as? String ?? ""), detected.stdout)
    }
}
