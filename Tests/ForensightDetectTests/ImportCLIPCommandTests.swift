import XCTest
import Foundation

extension CommandLineTests {
    /// `models import clip` converts the OpenAI TorchScript fixture (sizes from the shapes, QuickGELU by default) and
    /// records the configuration; an open_clip state dict without `--activation` and a non-CLIP file are one stderr
    /// line and exit 1, with nothing written.
    func testModelsImportCLIP() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ForensightModelsTests/Fixtures/clip")
        let archive = fixtures.appendingPathComponent("openai_torchscript.pt").path
        guard FileManager.default.fileExists(atPath: archive) else { throw XCTSkip("CLIP fixtures absent (make_clip_fixtures.py)") }
        let out = dir.appendingPathComponent("clip.safetensors").path
        let imported = try run(["models", "import", "clip", archive, "--heads", "4", "--out", out])
        XCTAssertEqual(imported.status, 0, imported.stderr)
        XCTAssertTrue(imported.stderr.contains("OpenAI TorchScript") && imported.stderr.contains("2 layers, 4 heads"), imported.stderr)
        let info = try run(["models", "info", out, "--json"])
        XCTAssertEqual(info.status, 0, info.stderr)
        let metadata = (try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as! [String: Any])["metadata"] as! [String: String]
        XCTAssertEqual(metadata["clip.activation"], "quick_gelu")
        XCTAssertEqual(metadata["clip.output_dim"], "16")
        XCTAssertEqual(metadata["clip.image_size"], "32")

        let noActivation = try run(["models", "import", "clip", fixtures.appendingPathComponent("open_clip.bin").path, "--heads", "4",
                                    "--out", dir.appendingPathComponent("x.safetensors").path])
        XCTAssertEqual(noActivation.status, 1)
        XCTAssertTrue(noActivation.stderr.contains("open_clip.bin") && noActivation.stderr.contains("activation"), noActivation.stderr)
        XCTAssertEqual(noActivation.stderr.split(separator: "\n").count, 1, noActivation.stderr)
        let notCLIP = try run(["models", "import", "clip", out.replacingOccurrences(of: "clip.safetensors", with: "none.safetensors"),
                               "--out", dir.appendingPathComponent("x.safetensors").path])
        XCTAssertEqual(notCLIP.status, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.safetensors").path))
    }
}
