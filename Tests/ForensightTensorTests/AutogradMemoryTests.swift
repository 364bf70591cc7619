import XCTest
import ForensightTensor

/// A step's graph is freed when the step's tensors go out of scope: no backward closure keeps its own op's output
/// (and so the whole graph behind it) alive. A cycle there leaked every training step's activations (M2TR's
/// branch-consistency term uses `sqrt`).
final class AutogradMemoryTests: XCTestCase {
    /// Builds y = op(x · w), runs backward, and returns weak references to the op's input and output.
    func graphIsFreed(_ name: String, _ op: (Tensor) -> Tensor, file: StaticString = #filePath, line: UInt = #line) {
        weak var weakInput: Tensor?
        weak var weakOutput: Tensor?
        let w = Tensor([0.5, 0.25, 0.75, 1.5], shape: [4], requiresGrad: true)
        do {
            let x = Tensor([0.3, 0.6, 0.9, 1.2], shape: [4])
            let hidden = x * w
            let out = op(hidden)
            weakInput = hidden
            weakOutput = out
            out.sum().backward()
            XCTAssertNotNil(w.grad, "\(name): no gradient reached the weight", file: file, line: line)
        }
        XCTAssertNil(weakOutput, "\(name): the op's output outlived its step (a cycle through its own backward)", file: file, line: line)
        XCTAssertNil(weakInput, "\(name): the graph behind the op outlived its step", file: file, line: line)
    }

    func testEveryOpThatReusesItsOutputFreesItsGraph() {
        graphIsFreed("sqrt") { $0.sqrt() }
        graphIsFreed("exp") { $0.exp() }
        graphIsFreed("sigmoid") { $0.sigmoid() }
        graphIsFreed("tanh") { $0.tanh() }
        graphIsFreed("softmax") { $0.softmax(axis: 0) }
        graphIsFreed("logSoftmax") { $0.logSoftmax(axis: 0) }
        graphIsFreed("relu") { $0.relu() }
    }

    /// The unowned captures still give the right gradients (the closures run while backward holds the output).
    func testGradientsThroughTheChangedOps() {
        let x = Tensor([0.3, 0.6, 0.9], shape: [3], requiresGrad: true)
        (x.sqrt() + x.exp() + x.sigmoid() + x.tanh()).sum().backward()
        for (i, v) in [Float(0.3), 0.6, 0.9].enumerated() {
            let s = 1 / (1 + Foundation.exp(-v)), t = Foundation.tanh(v)
            let expected = 0.5 / v.squareRoot() + Foundation.exp(v) + s * (1 - s) + (1 - t * t)
            XCTAssertEqual(x.grad!.scalars[i], expected, accuracy: 1e-5)
        }
    }
}
