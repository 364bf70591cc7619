import XCTest
import Foundation
import ForensightCheckpoint

/// A TorchScript archive's tensors by attribute path (the CLIP fixture written by torch.jit.save in float16,
/// scripts/reference/make_clip_fixtures.py); `isTorchScript` tells it from a torch.save zip of the same model.
final class TorchScriptArchiveTests: XCTestCase {
    func testModuleTreeTensorsAreReadByAttributePath() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ForensightModelsTests/Fixtures/clip")
        let archive = fixtures.appendingPathComponent("openai_torchscript.pt").path, torchSave = fixtures.appendingPathComponent("open_clip.bin").path
        guard FileManager.default.fileExists(atPath: archive), FileManager.default.fileExists(atPath: torchSave) else {
            throw XCTSkip("CLIP fixtures absent (make_clip_fixtures.py)")
        }
        XCTAssertTrue(TorchCheckpoint.isTorchScript(path: archive))
        XCTAssertFalse(TorchCheckpoint.isTorchScript(path: torchSave))
        let scripted = try TorchCheckpoint.read(path: archive), saved = try TorchCheckpoint.read(path: torchSave)
        // The state dict's names and shapes, plus the attributes state_dict leaves out (open_clip's non-persistent
        // causal `attn_mask` buffer); the values are the float16 roundings of the state dict's.
        XCTAssertEqual(Set(scripted.keys).subtracting(saved.keys), ["attn_mask"])
        let conv = try XCTUnwrap(scripted["visual.conv1.weight"])
        XCTAssertEqual(conv.shape, [32, 3, 8, 8])
        XCTAssertEqual(conv.dtype, .float16)
        for (key, tensor) in saved {
            let half = try XCTUnwrap(scripted[key])
            XCTAssertEqual(half.shape, tensor.shape, key)
            for (a, b) in zip(half.values, tensor.values) { XCTAssertEqual(a, b, accuracy: 1e-3 * max(1, abs(b)), key) }
        }
    }
}
