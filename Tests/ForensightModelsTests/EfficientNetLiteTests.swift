import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels

/// EfficientNet-Lite0 and -Lite2 with the real ImageNet weights against the reference PyTorch implementation
/// (fixtures from scripts/reference/make_efficientnet_lite_fixture.py; weights from scripts/setup/weights.sh).
final class EfficientNetLiteTests: XCTestCase {
    static func fixture(_ variant: String) -> [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/efficientnet_\(variant)_reference.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    static func weightsPath(_ variant: String) -> String {
        let cache = ProcessInfo.processInfo.environment["FORENSIGHT_CACHE"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/forensight").path
        return cache + "/weights/efficientnet_\(variant).safetensors"
    }

    func input(_ name: String, count n: Int) -> [Float] {
        switch name {
        case "linspace": return (0..<n).map { Float(-1.0 + Double($0) * (2.0 / Double(n - 1))) }
        default: return (0..<n).map { Float(sin(Double(Float($0) * Float(0.001)))) }
        }
    }

    func testImageNetWeightsMatchPyTorch() throws { try checkAgainstPyTorch("lite0", config: .lite0) }

    func testLite2ImageNetWeightsMatchPyTorch() throws { try checkAgainstPyTorch("lite2", config: .lite2) }

    func checkAgainstPyTorch(_ variant: String, config: EfficientNetLiteConfig) throws {
        guard FileManager.default.fileExists(atPath: Self.weightsPath(variant)) else {
            throw XCTSkip("EfficientNet-\(variant) weights not installed (run scripts/setup/weights.sh)")
        }
        let model = EfficientNetLite(config)
        let report = try model.load(safetensors: Self.weightsPath(variant))
        XCTAssertTrue(report.isClean, report.description)
        model.eval()
        for case let spec as [String: Any] in Self.fixture(variant)["inputs"] as! [Any] {
            let shape = spec["shape"] as! [Int]
            let name = spec["name"] as! String
            let x = Tensor(input(name, count: shape.reduce(1, *)), shape: shape)
            let (logits, features) = withoutGrad { (model(x), model.features(x)) }
            let expectedLogits = spec["logits_first20"] as! [[Double]]
            let sums = spec["logits_sum"] as! [Double], argmax = spec["argmax"] as! [Int]
            let featureSums = spec["features_sum"] as! [Double]
            for b in 0..<shape[0] {
                let row = logits.slice(axis: 0, b..<(b + 1)).scalars
                for (i, e) in expectedLogits[b].enumerated() { XCTAssertEqual(Double(row[i]), e, accuracy: 1e-4, "\(name)[\(b)] logit \(i)") }
                XCTAssertEqual(row.reduce(0.0) { $0 + Double($1) }, sums[b], accuracy: 1e-3, "\(name)[\(b)] logit sum")
                XCTAssertEqual(row.indices.max { row[$0] < row[$1] }, argmax[b], "\(name)[\(b)] argmax")
                let f = features.slice(axis: 0, b..<(b + 1)).scalars
                XCTAssertEqual(f.reduce(0.0) { $0 + Double($1) }, featureSums[b], accuracy: 1e-2, "\(name)[\(b)] feature sum")
            }
            // The training path (batch statistics off, composite ops) gives the same logits as the fused one.
            let composite = Tensor(input(name, count: shape.reduce(1, *)), shape: shape, requiresGrad: true)
            let viaTape = model(composite)
            XCTAssertLessThan(zip(viaTape.scalars, logits.scalars).map { Swift.abs($0 - $1) }.max()!, 1e-4)
        }
    }

    func testBlockTableAndKeysFollowTheCheckpoint() {
        let model = EfficientNetLite(.lite0)
        XCTAssertEqual(model.blocks.count, 16)
        let keys = Set(model.stateDict().map(\.0))
        XCTAssertTrue(keys.isSuperset(of: ["_conv_stem.weight", "_bn0.running_var", "_blocks.0._depthwise_conv.weight",
                                           "_blocks.15._project_conv.weight", "_conv_head.weight", "_bn1.weight", "_fc.bias"]))
        XCTAssertFalse(keys.contains("_blocks.0._expand_conv.weight"), "block 0 has no expansion")
        XCTAssertEqual(model.parameterCount(), 4_652_008)
    }
}

extension EfficientNetLiteTests {
    /// Lite2's table (width 1.1, depth 1.2, stem, head and the outer stages' repeats fixed) gives the checkpoint's
    /// 21 blocks and channel counts.
    func testLite2BlockTable() {
        let model = EfficientNetLite(.lite2)
        XCTAssertEqual(model.blocks.count, 21)
        XCTAssertEqual(model.blocks[20].projectConv.weight.shape, [352, 1248, 1, 1])
        XCTAssertEqual(model.blocks[4].depthwiseConv.weight.shape, [144, 1, 5, 5])
        XCTAssertEqual(model.convHead.weight.shape, [1280, 352, 1, 1])
        XCTAssertEqual(EfficientNetLiteConfig.named("efficientnet-lite2"), .lite2)
        XCTAssertNil(EfficientNetLiteConfig.named("efficientnet-b4"))
    }
}
