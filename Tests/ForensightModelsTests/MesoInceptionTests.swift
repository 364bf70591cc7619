import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels

/// MesoInception-4 against an independent PyTorch model with the same seeded weights
/// (scripts/reference/make_mesoinception_fixture.py).
final class MesoInceptionTests: XCTestCase {
    func testMatchesPyTorch() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/mesoinception.safetensors")
        let tensors = try Safetensors.read(path: url.path)
        let model = MesoInception4(inputSize: 64)
        let report = try model.loadStateDict(tensors.filter { !["input", "logits", "features"].contains($0.key) }, strict: true)
        XCTAssertTrue(report.isClean, report.description)
        model.eval()
        let x = try XCTUnwrap(tensors["input"])
        let (logits, features) = withoutGrad { (model(x), model.features(x)) }
        XCTAssertEqual(logits.shape, [2, 1])
        XCTAssertEqual(features.shape, [2, 16])
        for (a, b) in zip(logits.scalars, try XCTUnwrap(tensors["logits"]).scalars) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        for (a, b) in zip(features.scalars, try XCTUnwrap(tensors["features"]).scalars) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        // The taped path (what training runs) gives the same logits, and gradients reach the first Inception block.
        let taped = model(Tensor(x.scalars, shape: x.shape, requiresGrad: true))
        XCTAssertLessThan(zip(taped.scalars, logits.scalars).map { abs($0 - $1) }.max()!, 1e-5)
        taped.sum().backward()
        let grad = try XCTUnwrap(model.block1.branch4.weight.grad)
        XCTAssertGreaterThan(grad.scalars.map(abs).max()!, 0, "no gradient through the dilated branch")
    }

    func testTheFullSizeNetworkHasThePapersShape() {
        let model = MesoInception4()
        XCTAssertEqual(model.block1.outChannels, 11)
        XCTAssertEqual(model.block2.outChannels, 12)
        XCTAssertEqual(model.fc1.weight.shape, [16, 1024], "16 channels of 8 × 8 after the pools of a 256 px input")
        XCTAssertEqual(model.parameterCount(), 28_615, "PyTorch's count of the same network (make_mesoinception_fixture.py)")
        XCTAssertEqual(model.block1.branch3.dilation.0, 2)
        XCTAssertEqual(model.block1.branch4.dilation.0, 3)
        model.eval()
        let out = withoutGrad { model(Tensor.zeros([1, 3, 256, 256])) }
        XCTAssertEqual(out.shape, [1, 1])
    }
}
