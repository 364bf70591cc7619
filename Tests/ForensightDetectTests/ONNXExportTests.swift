import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightMedia
import ForensightDetect

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
}
