import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightTestSupport

/// The tiny conv net of scripts/reference/make_model_fixtures.py, written with our layers.
final class TinyConvNet: Module {
    let conv1 = Conv2d(3, 8, kernel: 3, padding: 1)
    let bn1 = BatchNorm2d(8)
    let conv2 = Conv2d(8, 8, kernel: 3, stride: 2, padding: 1, groups: 8)
    let conv3 = Conv2d(8, 16, kernel: 1)
    let fc = Linear(16, 4)

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = bn1(conv1(x)).relu()
        h = conv2(h).relu6()
        h = conv3(h).maxPool2d(kernel: (2, 2)).gelu()
        return fc(h.adaptiveAvgPool2d((1, 1)).flattened(from: 1))
    }
}

/// Two PyTorch TransformerEncoderLayers (post-norm and pre-norm) under the keys `post.` and `pre.`.
final class TinyTransformer: Module {
    let post = TransformerEncoderLayer(dModel: 16, heads: 4, feedForward: 32, dropout: 0, activation: .gelu)
    let pre = TransformerEncoderLayer(dModel: 16, heads: 4, feedForward: 32, dropout: 0, activation: .gelu, normFirst: true)
}

final class ReferenceModelTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    func load(_ name: String) throws -> [String: Tensor] {
        try SafetensorsFile(path: Self.fixtures.appendingPathComponent(name).path).allTensors()
    }

    /// The model's own keys, taken from a fixture that also holds inputs, outputs and gradients.
    func stateDict(of model: Module, from all: [String: Tensor]) -> [String: Tensor] {
        let keys = Set(model.stateDict().map(\.0))
        return all.filter { keys.contains($0.key) }
    }

    func testTinyConvNetMatchesPyTorch() throws {
        let all = try load("tiny_convnet.safetensors")
        let net = TinyConvNet()
        let report = try net.loadStateDict(stateDict(of: net, from: all))
        XCTAssertTrue(report.isClean, report.description)
        XCTAssertEqual(net.stateDict().count, 13)
        net.eval()
        let x = all["input"]!
        x.requiresGrad = true
        let y = net(x)
        XCTAssertLessThan(scaledMaxDifference(y, all["output"]!), 1e-5)
        (y * all["r"]!).sum().backward()
        XCTAssertLessThan(scaledMaxDifference(x.grad!, all["grad.input"]!), 1e-5)
        for (key, p) in net.namedParameters() {
            XCTAssertLessThan(scaledMaxDifference(p.grad!, all["grad.\(key)"]!), 1e-5, key)
        }
    }

    func testTransformerEncoderLayersMatchPyTorch() throws {
        let all = try load("tiny_transformer.safetensors")
        let model = TinyTransformer()
        try model.loadStateDict(stateDict(of: model, from: all))
        model.eval()
        for (prefix, layer) in [("post", model.post), ("pre", model.pre)] {
            let x = all["input"]!.detached()
            x.requiresGrad = true
            for (_, p) in layer.namedParameters() { p.grad = nil }
            let y = layer(x)
            XCTAssertLessThan(scaledMaxDifference(y, all["\(prefix).output"]!), 1e-5, prefix)
            // The inference path (packed attention, no tape) gives the same output.
            let fast = withoutGrad { layer(all["input"]!) }
            XCTAssertLessThan(scaledMaxDifference(fast, all["\(prefix).output"]!), 1e-5, "\(prefix) inference path")
            (y * all["r"]!).sum().backward()
            XCTAssertLessThan(scaledMaxDifference(x.grad!, all["\(prefix).grad.input"]!), 1e-5, prefix)
            for (key, p) in layer.namedParameters() {
                guard let expected = all["\(prefix).grad.\(key)"] else { continue }
                XCTAssertLessThan(scaledMaxDifference(p.grad!, expected), 1e-5, "\(prefix).\(key)")
            }
        }
    }
}
