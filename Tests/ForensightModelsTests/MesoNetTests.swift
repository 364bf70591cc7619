import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels

/// Meso-4 against an independent PyTorch model with the same seeded weights (scripts/reference/make_mesonet_fixture.py).
final class MesoNetTests: XCTestCase {
    func testMatchesPyTorch() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/mesonet.safetensors")
        let tensors = try Safetensors.read(path: url.path)
        let model = Meso4(inputSize: 64)
        let report = try model.loadStateDict(tensors.filter { !["input", "logits", "features"].contains($0.key) }, strict: true)
        XCTAssertTrue(report.isClean, report.description)
        model.eval()
        let x = try XCTUnwrap(tensors["input"])
        let (logits, features) = withoutGrad { (model(x), model.features(x)) }
        XCTAssertEqual(logits.shape, [2, 1])
        for (a, b) in zip(logits.scalars, try XCTUnwrap(tensors["logits"]).scalars) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        for (a, b) in zip(features.scalars, try XCTUnwrap(tensors["features"]).scalars) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        // The taped path (what training runs) gives the same logits.
        let taped = model(Tensor(x.scalars, shape: x.shape, requiresGrad: true))
        XCTAssertLessThan(zip(taped.scalars, logits.scalars).map { abs($0 - $1) }.max()!, 1e-5)
    }

    func testTheFullSizeNetworkHasThePapersShape() {
        let model = Meso4()
        XCTAssertEqual(model.fc1.weight.shape, [16, 1024], "16 channels of 8 × 8 after the pools of a 256 px input")
        XCTAssertEqual(model.parameterCount(), 27_977)
        model.eval()
        let out = withoutGrad { model(Tensor.zeros([1, 3, 256, 256])) }
        XCTAssertEqual(out.shape, [1, 1])
    }
}
