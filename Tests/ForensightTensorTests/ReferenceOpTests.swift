import XCTest
import Foundation
import ForensightTensor
import ForensightTestSupport

/// Every op against PyTorch on fixed inputs: outputs and gradients
/// (fixtures from scripts/reference/make_engine_fixtures.py).
final class ReferenceOpTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    typealias Op = ([Tensor], SafetensorsFile, String) throws -> Tensor

    /// The Swift side of each fixture case.
    let ops: [String: Op] = [
        "conv_same": { x, _, _ in
            Tensor.conv2d(x[0], weight: x[1], stride: (2, 2), padding: .same(height: x[0].shape[2], width: x[0].shape[3], kernel: (3, 3), stride: (2, 2)))
        },
        "conv_same_asym": { x, _, _ in
            Tensor.conv2d(x[0], weight: x[1], stride: (2, 2), padding: .same(height: x[0].shape[2], width: x[0].shape[3], kernel: (3, 3), stride: (2, 2)))
        },
        "conv_dilated_groups": { x, _, _ in Tensor.conv2d(x[0], weight: x[1], bias: x[2], padding: .symmetric(2, 2), dilation: (2, 2), groups: 2) },
        "conv_depthwise": { x, _, _ in Tensor.conv2d(x[0], weight: x[1], bias: x[2], stride: (2, 2), padding: .symmetric(2, 2), groups: 5) },
        "conv_pointwise": { x, _, _ in Tensor.conv2d(x[0], weight: x[1], bias: x[2]) },
        "maxpool_ceil": { x, _, _ in x[0].maxPool2d(kernel: (3, 3), stride: (2, 2), ceilMode: true) },
        "avgpool_pad": { x, _, _ in x[0].avgPool2d(kernel: (2, 2), stride: (2, 2), padding: .symmetric(1, 1)) },
        "adaptive_avg": { x, _, _ in x[0].adaptiveAvgPool2d((3, 4)) },
        "bilinear": { x, _, _ in x[0].upsampleBilinear((9, 4)) },
        "bilinear_ac": { x, _, _ in x[0].upsampleBilinear((9, 4), alignCorners: true) },
        "bilinear_down": { x, _, _ in x[0].upsampleBilinear((4, 5)) },
        "nearest": { x, _, _ in x[0].upsampleNearest((12, 9)) },
        "layer_norm": { x, _, _ in Tensor.layerNorm(x[0], weight: x[1], bias: x[2], eps: 1e-5) },
        "batch_norm_train": { x, _, _ in
            Tensor.batchNorm(x[0], runningMean: nil, runningVar: nil, weight: x[1], bias: x[2], eps: 1e-5).output
        },
        "batch_norm_eval": { x, _, _ in
            Tensor.batchNorm(x[0], runningMean: x[3], runningVar: x[4], weight: x[1], bias: x[2], eps: 1e-5).output
        },
        "gelu": { x, _, _ in x[0].gelu() }, "quick_gelu": { x, _, _ in x[0].quickGelu() },
        "silu": { x, _, _ in x[0].silu() }, "sigmoid": { x, _, _ in x[0].sigmoid() },
        "tanh": { x, _, _ in x[0].tanh() }, "relu6": { x, _, _ in x[0].relu6() },
        "prelu": { x, _, _ in x[0].prelu(x[1]) },
        "softmax": { x, _, _ in x[0].softmax(axis: 1) },
        "log_softmax": { x, _, _ in x[0].logSoftmax(axis: 1) },
        "softmax_axis0": { x, _, _ in x[0].softmax(axis: 0) },
        "sdpa": { x, _, _ in Tensor.scaledDotProductAttention(x[0], x[1], x[2], mask: x[3]) },
        "matmul_batched": { x, _, _ in Tensor.matmul(x[0], x[1]) },
        "linear": { x, _, _ in Tensor.linear(x[0], weight: x[1], bias: x[2]) },
        "fft2": { x, _, _ in x[0].fft2() }, "ifft2": { x, _, _ in x[0].ifft2() }, "fft2_224": { x, _, _ in x[0].fft2() },
        "cross_entropy_ls": { x, file, name in
            let targets = try file.tensor("\(name).targets").scalars.map { Int($0) }
            return Tensor.crossEntropy(x[0], targets: targets, labelSmoothing: 0.1)
        },
        "bce_logits": { x, _, _ in Tensor.binaryCrossEntropyWithLogits(x[0], targets: x[1]) },
        "reduce_var": { x, _, _ in x[0].variance(axes: [0, 2], correction: 1) },
    ]

    func testEveryOpMatchesPyTorch() throws {
        let file = try SafetensorsFile(path: Self.fixtures.appendingPathComponent("engine_ops.safetensors").path)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("engine_ops.json"))) as! [String: Any]
        let cases = json["cases"] as! [[String: Any]]
        XCTAssertGreaterThanOrEqual(cases.count, 30)
        for c in cases {
            let name = c["name"] as! String
            guard let op = ops[name] else { XCTFail("no Swift op for fixture case \(name)"); continue }
            let inputSpecs = c["inputs"] as! [[String: Any]]
            let inputs = try inputSpecs.map { spec -> Tensor in
                let t = try file.tensor("\(name).\(spec["tensor"] as! String)")
                t.requiresGrad = spec["grad"] is String
                return t
            }
            let out = try op(inputs, file, name)
            let expected = try file.tensor("\(name).out")
            XCTAssertEqual(out.shape, expected.shape, name)
            guard out.shape == expected.shape else { continue }
            XCTAssertLessThan(scaledMaxDifference(out, expected), 1e-5, "\(name) output")
            let r = try file.tensor("\(name).r")
            (out * r).sum().backward()
            for spec in inputSpecs {
                guard let gradName = spec["grad"] as? String else { continue }
                let i = Int((spec["tensor"] as! String).dropFirst(2))!
                let expectedGrad = try file.tensor("\(name).\(gradName)")
                guard let grad = inputs[i].grad else { XCTFail("\(name): no gradient for input \(i)"); continue }
                XCTAssertLessThan(scaledMaxDifference(grad, expectedGrad), 1e-5, "\(name) gradient of input \(i)")
            }
        }
    }
}
