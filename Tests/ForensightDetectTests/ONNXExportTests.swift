import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightMedia
import ForensightDetect
import ForensightEvaluation

extension CommandLineTests {
    /// A Python with onnx and onnxruntime: $FORENSIGHT_PYTHON, else python3; nil when neither has them.
    private func onnxPython() -> String? {
        let candidates = [ProcessInfo.processInfo.environment["FORENSIGHT_PYTHON"], "python3"].compactMap { $0 }
        for python in candidates {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [python, "-c", "import onnx, onnxruntime"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            guard (try? p.run()) != nil else { continue }
            p.waitUntilExit()
            if p.terminationStatus == 0 { return python }
        }
        return nil
    }

    /// Runs `scripts/reference/run_onnx.py` on `onnx` with `inputs` (by graph input name) and returns the output file
    /// (status asserted).
    private func runONNX(_ python: String, _ onnx: String, _ inputs: [String: Tensor], _ name: String) throws -> SafetensorsFile {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/reference/run_onnx.py").path
        let input = dir.appendingPathComponent("\(name)-in.safetensors").path
        let output = dir.appendingPathComponent("\(name)-out.safetensors").path
        try Safetensors.write(inputs, to: input)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [python, script, onnx, input, output]
        let errors = Pipe()
        p.standardError = errors
        try p.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, message)
        return try SafetensorsFile(path: output)
    }

    /// Two smooth, asymmetric [2, 3, side, side] patterns (so the mirror image differs), offset by `phase`, and the
    /// same patterns mirrored left to right.
    private func patterns(side: Int, phase: Int = 0) -> (plain: Tensor, mirrored: Tensor) {
        var values = [Float](repeating: 0, count: 2 * 3 * side * side)
        for n in 0..<2 { for c in 0..<3 { for y in 0..<side { for col in 0..<side {
            values[((n * 3 + c) * side + y) * side + col] = sin(Float(col * (c + 1) + 3 * n + phase) / 9) * cos(Float(y) / 13) + Float(col) / Float(side) - 0.5
        } } } }
        var mirrored = values
        for row in 0..<(2 * 3 * side) { for col in 0..<side { mirrored[row * side + col] = values[row * side + side - 1 - col] } }
        return (Tensor(values, shape: [2, 3, side, side]), Tensor(mirrored, shape: [2, 3, side, side]))
    }

    /// `forensight export MODEL --onnx FILE`, the primary command, and its alias `models export-onnx MODEL --out FILE`
    /// write the same bytes (one shared implementation); `onnx.checker` accepts the file (full check), which declares
    /// IR version 8, the default opset 13 and producer forensight, and its metadata holds the detector's card as
    /// forensight.card. `export --help` teaches the option with examples. The checker part skips without onnx.
    func testExportCommandWritesACheckedGraphWithItsCard() throws {
        let help = try run(["export", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("--onnx") && help.stdout.contains("Examples:") && help.stdout.contains("forensight export "), help.stdout)
        var card = DetectorCard(id: "export-meso4", architecture: "meso4")
        (card.inputSize, card.pixelScale, card.mean, card.std) = (64, 1, [0, 0, 0], [1, 1, 1])
        let detector = try ParameterInit.withSeed(3) { try MesoNetDetector(card: card) }
        let model = dir.appendingPathComponent("export-meso4.safetensors").path
        try detector.save(to: model, dtype: .f32)
        let onnx = dir.appendingPathComponent("export-meso4.onnx"), alias = dir.appendingPathComponent("alias.onnx")
        let exported = try run(["export", model, "--onnx", onnx.path])
        XCTAssertEqual(exported.status, 0, exported.stderr)
        XCTAssertTrue(exported.stderr.contains("wrote \(onnx.path)"), exported.stderr)
        XCTAssertEqual(try run(["models", "export-onnx", model, "--out", alias.path]).status, 0)
        XCTAssertEqual(try Data(contentsOf: onnx), try Data(contentsOf: alias), "export --onnx and models export-onnx write the same file")
        XCTAssertEqual(try run(["export", model]).status, 2, "--onnx is required")

        guard let python = onnxPython() else { throw XCTSkip("no python with onnx and onnxruntime (pip install onnx onnxruntime)") }
        let check = """
        import json, sys, onnx
        m = onnx.load(sys.argv[1])
        onnx.checker.check_model(m, full_check=True)
        print(json.dumps({"ir": m.ir_version, "opset": [[o.domain, o.version] for o in m.opset_import], "producer": m.producer_name,
                          "metadata": {p.key: p.value for p in m.metadata_props}, "outputs": [o.name for o in m.graph.output]}))
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [python, "-c", check, onnx.path]
        let output = Pipe(), errors = Pipe()
        (p.standardOutput, p.standardError) = (output, errors)
        try p.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "onnx.checker: \(message)")
        let facts = try XCTUnwrap(try JSONSerialization.jsonObject(with: printed) as? [String: Any])
        XCTAssertEqual(facts["ir"] as? Int, 8)
        XCTAssertEqual((facts["opset"] as? [[Any]])?.map { "\($0[0]):\($0[1])" }, [":13"], "the default domain at opset 13")
        XCTAssertEqual(facts["producer"] as? String, "forensight")
        XCTAssertEqual(facts["outputs"] as? [String], ["logits"])
        let metadata = try XCTUnwrap(facts["metadata"] as? [String: String])
        let stored = try XCTUnwrap(metadata["forensight.card"], "the card is in metadata_props")
        let decoded = try JSONDecoder().decode(DetectorCard.self, from: Data(stored.utf8))
        XCTAssertEqual([decoded.id, decoded.architecture], ["export-meso4", "meso4"])
        XCTAssertEqual(metadata["forensight.source"], "export-meso4.safetensors")
    }

    /// The shipped models export, one graph per network: the default file (a fusion of a face ensemble, EfficientNet-
    /// Lite2 at 256 px, two Lite0 and the photo-only RFFR member with its inpainter, with the mouth-motion MLP) gives five
    /// graphs named by member, the single self-blend model one. ONNX Runtime gives each network's logits within 1e-4 on fixed inputs
    /// (mirror-averaged members: the mean of the crop's and its mirror's logit, as `detect` computes), and each graph
    /// carries its member's card and, for several, the whole detector's card.
    func testModelsExportONNXWritesEveryShippedNetworkMatchingOnnxRuntime() throws {
        guard let python = onnxPython() else { throw XCTSkip("no python with onnx and onnxruntime (pip install onnx onnxruntime)") }
        let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("models")
        for (file, expected) in [("ensemble-default", ["0-sbi-lite2-256", "1-sbi-lite0-256", "2-sbi-lite0-all", "3-rffr-efficientnet-lite0", "4-mouth-motion"]),
                                 ("sbi-efficientnet-lite0", [""])] {
            let model = models.appendingPathComponent(file + ".safetensors").path
            let detector = try DetectorRegistry.load(path: model)
            let exported = try run(["export", model, "--onnx", dir.appendingPathComponent(file + ".onnx").path])
            XCTAssertEqual(exported.status, 0, exported.stderr)
            var networks: [any Detector]
            if let fused = detector as? FusedDetector {
                networks = fused.members.flatMap { ($0 as? EnsembleDetector)?.members ?? [$0] }
            } else {
                networks = [detector]
            }
            XCTAssertEqual(networks.count, expected.count)
            for (network, suffix) in zip(networks, expected) {
                let name = suffix.isEmpty ? file + ".onnx" : "\(file).\(suffix).onnx"
                let path = dir.appendingPathComponent(name).path
                XCTAssertTrue(FileManager.default.fileExists(atPath: path), name)
                let inputs: [String: Tensor], ours: [Float]
                if let mouth = network as? MouthMotionDetector {
                    let f = mouth.network.inputFeatures
                    let x = Tensor((0..<(3 * f)).map { mouth.network.featureMean.scalars[$0 % f] + Float(($0 * 31) % 97) / 50 - 1 }, shape: [3, f])
                    (inputs, ours) = (["input": x], withoutGrad { mouth.network(x) }.scalars)
                } else if let rffr = network as? RFFRDetector {
                    // Both inputs of the graph: the normalised crop and the crop at the inpainter's working size.
                    let crop = patterns(side: rffr.card.inputSize), working = patterns(side: rffr.network.inpainter.config.workingSize, phase: 5)
                    func logits(_ c: Tensor, _ w: Tensor) -> [Float] { withoutGrad { rffr.network(rffr.network.input(normalized: c, working: w)) }.scalars }
                    let plain = logits(crop.plain, working.plain)
                    ours = rffr.card.flipAverage == true ? zip(plain, logits(crop.mirrored, working.mirrored)).map { ($0 + $1) / 2 } : plain
                    inputs = ["crop": crop.plain, "working": working.plain]
                } else {
                    let d = try XCTUnwrap(network as? DeepfakeDetector, name)
                    let x = patterns(side: d.card.inputSize)
                    let plain = withoutGrad { d.network(x.plain) }.scalars
                    if d.card.flipAverage == true {
                        ours = zip(plain, withoutGrad { d.network(x.mirrored) }.scalars).map { ($0 + $1) / 2 }
                        XCTAssertGreaterThan(abs(ours[0] - plain[0]), 1e-3, "the mirror changes the logit: \(name)")
                    } else {
                        ours = plain
                    }
                    inputs = ["input": x.plain]
                }
                let out = try runONNX(python, path, inputs, name)
                let theirs = try XCTUnwrap(try out.allTensors()["logits"])
                XCTAssertEqual(theirs.shape, [ours.count, 1])
                XCTAssertGreaterThan(abs(ours[0] - ours[1]), 1e-3, "distinct logits for distinct inputs: \(name)")
                for (a, b) in zip(ours, theirs.scalars) { XCTAssertEqual(a, b, accuracy: 1e-4, name) }
                XCTAssertTrue(try XCTUnwrap(out.metadata["forensight.card"]).contains("\"id\":\"\(network.card.id)\""))
                if !suffix.isEmpty {
                    XCTAssertTrue(try XCTUnwrap(out.metadata["forensight.parent_card"]).contains("\"id\":\"\(detector.card.id)\""))
                }
            }
        }
    }

    /// `models export-onnx` writes Meso-4 and MesoInception-4 detector files (seeded weights, BatchNorm statistics
    /// moved off identity) as ONNX graphs that onnx.checker accepts and ONNX Runtime runs to our logits within 1e-4 on
    /// fixed inputs, the card in the metadata. Skips when no Python has onnx and onnxruntime.
    func testModelsExportONNXMatchesOnnxRuntime() throws {
        guard let python = onnxPython() else { throw XCTSkip("no python with onnx and onnxruntime (pip install onnx onnxruntime)") }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/reference/run_onnx.py").path
        for (i, architecture) in ["meso4", "mesoinception4"].enumerated() {
            var card = DetectorCard(id: "onnx-\(architecture)", architecture: architecture)
            (card.inputSize, card.pixelScale, card.mean, card.std) = (64, 1, [0, 0, 0], [1, 1, 1])
            let detector = try ParameterInit.withSeed(UInt64(7 + i)) { try MesoNetDetector(card: card) }
            var generator = SeededRandom(seed: UInt64(11 + i))
            for (key, tensor) in detector.module.stateDict() where key.contains("running") || key.contains("bn") {
                for j in 0..<tensor.count { tensor.data[j] = key.hasSuffix("running_var") ? 0.5 + generator.nextFloat() : generator.nextFloat() - 0.5 }
            }
            detector.module.eval()
            let model = dir.appendingPathComponent("\(architecture).safetensors").path
            try detector.save(to: model, dtype: .f32)
            let onnx = dir.appendingPathComponent("\(architecture).onnx").path
            let exported = try run(["models", "export-onnx", model, "--out", onnx])
            XCTAssertEqual(exported.status, 0, exported.stderr)

            let x = Tensor((0..<(3 * 3 * 64 * 64)).map { Float(($0 * 7919 + 13 * i) % 1000) / 1000 }, shape: [3, 3, 64, 64])
            let input = dir.appendingPathComponent("\(architecture)-in.safetensors").path
            let output = dir.appendingPathComponent("\(architecture)-out.safetensors").path
            try Safetensors.write(["input": x], to: input)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [python, script, onnx, input, output]
            let errors = Pipe()
            p.standardError = errors
            try p.run()
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, message)
            let file = try SafetensorsFile(path: output)
            let theirs = try XCTUnwrap(try file.allTensors()["logits"])
            let ours = withoutGrad { detector.trainingLogits(x) }
            XCTAssertEqual(theirs.shape, [3, 1])
            XCTAssertGreaterThan(Set(ours.scalars).count, 1, "distinct logits for distinct inputs")
            for (a, b) in zip(ours.scalars, theirs.scalars) { XCTAssertEqual(a, b, accuracy: 1e-4, architecture) }
            let stored = try XCTUnwrap(file.metadata["forensight.card"])
            XCTAssertTrue(stored.contains("\"architecture\":\"\(architecture)\""), stored)
        }
        let notMeso = try run(["models", "export-onnx", dir.appendingPathComponent("missing.safetensors").path, "--out", dir.appendingPathComponent("x.onnx").path])
        XCTAssertEqual(notMeso.status, 1)
        XCTAssertEqual(notMeso.stderr.split(separator: "\n").count, 1, notMeso.stderr)
    }

    /// A network without an exporter (ForgeLens): alone it is a one-line error (exit 1); in an ensemble it is skipped,
    /// named on stderr, and the other members are written.
    func testModelsExportONNXSkipsNetworksWithoutAnExporter() throws {
        var card = DetectorCard(id: "forgelens-small", architecture: "forgelens-efficientnet-lite0")
        card.inputSize = 224
        let forgelens = try ParameterInit.withSeed(5) { try DetectorRegistry.make(card: card) }
        let alone = dir.appendingPathComponent("forgelens.safetensors").path
        try forgelens.save(to: alone, dtype: .f32)
        let refused = try run(["models", "export-onnx", alone, "--out", dir.appendingPathComponent("forgelens.onnx").path])
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stderr.split(separator: "\n").count, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("forgelens-efficientnet-lite0") && refused.stderr.contains(alone), refused.stderr)
        let lite = try EnsembleTests.member("lite", seed: 2)
        let pair = try EnsembleDetector(id: "pair", members: [lite, forgelens], combiner: StackingCombiner(weights: [1, 1], bias: 0))
        let path = dir.appendingPathComponent("pair.safetensors").path
        try pair.save(to: path, dtype: .f32)
        let partial = try run(["models", "export-onnx", path, "--out", dir.appendingPathComponent("pair.onnx").path])
        XCTAssertEqual(partial.status, 0, partial.stderr)
        XCTAssertTrue(partial.stderr.contains("skipped 1-forgelens-small"), partial.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("pair.0-lite.onnx").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("pair.1-forgelens-small.onnx").path))
    }

    /// `export --onnx` on an M2TR detector (the ImageNet Lite0 trunk, seeded layers after it with BatchNorm
    /// statistics and the frequency filter moved off their starting values, mirror averaging on): ONNX Runtime gives our logits within 1e-4 on fixed inputs, the frequency filter
    /// included as its matrix. Skips when no Python has onnx and onnxruntime.
    func testModelsExportONNXOfM2TRMatchesOnnxRuntime() throws {
        guard let python = onnxPython() else { throw XCTSkip("no python with onnx and onnxruntime (pip install onnx onnxruntime)") }
        var card = DetectorCard(id: "m2tr-onnx", architecture: "m2tr-efficientnet-lite0")
        (card.inputSize, card.flipAverage) = (224, true)
        let weights = ModelLocations.weightsDirectory + "/efficientnet_lite0.safetensors"
        guard FileManager.default.fileExists(atPath: weights) else { throw XCTSkip("no ImageNet Lite0 weights (bash scripts/setup/weights.sh)") }
        let m2tr = try XCTUnwrap(try ParameterInit.withSeed(5) { try DetectorRegistry.make(card: card) } as? M2TRDetector)
        // The ImageNet trunk (a seeded random one of 11 blocks fades every input to the same map), then the statistics
        // of the layers after it and the frequency filter moved off their starting values.
        try m2tr.loadPretrained(try SafetensorsFile(path: weights).allTensors())
        var generator = SeededRandom(seed: 17)
        for (key, tensor) in m2tr.network.stateDict() where !key.hasPrefix("trunk.") && (key.contains("running") || key.hasPrefix("filter.")) {
            for j in 0..<tensor.count {
                tensor.data[j] = key.hasSuffix("running_var") ? 0.5 + generator.nextFloat()
                    : key.hasPrefix("filter.") ? 2 * generator.nextFloat() - 1 : 0.2 * (generator.nextFloat() - 0.5)
            }
        }
        m2tr.network.eval()
        let model = dir.appendingPathComponent("m2tr.safetensors").path, onnx = dir.appendingPathComponent("m2tr.onnx").path
        try m2tr.save(to: model, dtype: .f32)
        let exported = try run(["export", model, "--onnx", onnx])
        XCTAssertEqual(exported.status, 0, exported.stderr)
        let x = patterns(side: 224)
        let ours = zip(withoutGrad { m2tr.network(x.plain) }.scalars, withoutGrad { m2tr.network(x.mirrored) }.scalars).map { ($0 + $1) / 2 }
        let out = try runONNX(python, onnx, ["input": x.plain], "m2tr")
        let theirs = try XCTUnwrap(try out.allTensors()["logits"])
        XCTAssertEqual(theirs.shape, [2, 1])
        XCTAssertGreaterThan(abs(ours[0] - ours[1]), 1e-3, "distinct logits for distinct inputs")
        for (a, b) in zip(ours, theirs.scalars) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        XCTAssertTrue(try XCTUnwrap(out.metadata["forensight.card"]).contains("\"id\":\"m2tr-onnx\""))
    }
}
