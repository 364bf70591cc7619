import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightTestSupport

/// M2TR against an independent PyTorch model with the same seeded weights (scripts/reference/make_m2tr_fixture.py):
/// a tiny EfficientNet-Lite trunk to an 8 × 8 map, d = 12, patch sizes 1, 2, 4, two transformer layers, a random
/// frequency filter and two fusion heads.
final class M2TRTests: XCTestCase {
    /// The fixture's configuration: the RFFR fixture's tiny trunk (stem 8; MBConv e1 k3 s1; two MBConvs e2 k5, the
    /// first of stride 2; 8 channels), 32 px input.
    static var tinyConfig: M2TRConfig {
        var backbone = EfficientNetLiteConfig.lite0
        var first = backbone.stages[0], second = backbone.stages[2]
        (first.inputChannels, first.outputChannels) = (8, 8)
        (second.repeats, second.expandRatio, second.inputChannels, second.outputChannels) = (2, 2, 8, 8)
        (backbone.stages, backbone.stemChannels, backbone.headChannels) = ([first, second], 8, 16)
        return M2TRConfig(backbone: backbone, backboneBlocks: 3, width: 12, patchSizes: [1, 2, 4], layers: 2, fusionHeads: 2,
                          inputSize: 32, dropout: 0.2)
    }

    static let outputs: Set<String> = ["input", "rgb", "frequency", "fused", "features", "logits", "consistency"]

    func worstDifference(_ a: Tensor, _ b: Tensor) -> Float {
        XCTAssertEqual(a.shape, b.shape)
        return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? .infinity
    }

    func testMatchesPyTorch() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/m2tr_reference.safetensors")
        let tensors = try Safetensors.read(path: url.path)
        let model = M2TRNetwork(Self.tinyConfig)
        let report = try model.loadStateDict(tensors.filter { !Self.outputs.contains($0.key) }, strict: true)
        XCTAssertTrue(report.isClean, report.description)
        model.eval()
        XCTAssertEqual(model.mapSide, 8)
        let x = try XCTUnwrap(tensors["input"])
        let (maps, logits, consistency) = withoutGrad { (model.maps(x), model(x), model.logitsAndConsistency(x).consistency) }
        XCTAssertLessThan(worstDifference(maps.rgb, try XCTUnwrap(tensors["rgb"])), 1e-4, "multi-scale transformer")
        XCTAssertLessThan(worstDifference(maps.frequency, try XCTUnwrap(tensors["frequency"])), 1e-4, "frequency filter")
        XCTAssertLessThan(worstDifference(maps.fused, try XCTUnwrap(tensors["fused"])), 1e-4, "cross-modality fusion")
        XCTAssertLessThan(worstDifference(withoutGrad { model.features(x) }, try XCTUnwrap(tensors["features"])), 1e-4)
        XCTAssertEqual(logits.shape, [2, 1])
        XCTAssertLessThan(worstDifference(logits, try XCTUnwrap(tensors["logits"])), 1e-4, "logits")
        XCTAssertEqual(consistency.scalars[0], try XCTUnwrap(tensors["consistency"]).scalars[0], accuracy: 1e-5)
        // The taped path (what training runs) gives the same logits.
        let taped = model(Tensor(x.scalars, shape: x.shape, requiresGrad: true))
        XCTAssertLessThan(worstDifference(taped, logits), 1e-5)
    }

    /// The filter is built from taped FFTs and products; its gradients (input and both filter halves) agree with
    /// finite differences, and a fresh filter is the identity.
    func testFrequencyFilterGradients() {
        let filter = ParameterInit.withSeed(4) { FrequencyFilter(channels: 2, height: 4, width: 6) }
        var random = SeededRandom(seed: 9)
        let x = Tensor.randn([2, 2, 4, 6], using: &random, requiresGrad: true)
        let identity = withoutGrad { filter(x) }
        XCTAssertLessThan(worstDifference(identity, x), 1e-5, "a = 1, b = 0 passes the map through")
        for w in [filter.weightReal, filter.weightImag] {
            let values = Tensor.randn(w.shape, using: &random)
            for i in 0..<w.count { w.data[i] = values.data[i] }
        }
        let (passed, result) = checkGradients([x, filter.weightReal, filter.weightImag], eps: 1e-2) { inputs in
            // The check perturbs the tensors in place, so the closure reads the module's own weights.
            _ = inputs
            return filter(x)
        }
        XCTAssertTrue(passed, result.description)
        XCTAssertGreaterThan(result.checked, 100)
    }

    /// Patch tokens are row-major patches flattened channel-first, and folding them back restores the map.
    func testPatchTokensRoundTrip() {
        let x = Tensor((0..<(2 * 3 * 4 * 4)).map(Float.init), shape: [2, 3, 4, 4])
        let tokens = MultiScalePatchAttention.patchTokens(x, patch: 2)
        XCTAssertEqual(tokens.shape, [2, 4, 12])
        // Token 1 of image 0 is the top-right 2 × 2 patch: channel 0's (0, 2), (0, 3), (1, 2), (1, 3) first.
        XCTAssertEqual(Array(tokens.scalars[12..<16]), [2, 3, 6, 7])
        XCTAssertEqual(MultiScalePatchAttention.patchMap(tokens, channels: 3, height: 4, width: 4, patch: 2).scalars, x.scalars)
    }

    /// The zoo configuration: Lite0 through its 112-channel stage gives a 14 × 14 map at 224 px, which patch sizes 1,
    /// 2 and 7 divide; the trunk takes the whole Lite0's keys, leaving only its later blocks and head unused.
    func testTheLite0ConfigurationCutsAt14() throws {
        let model = ParameterInit.withSeed(1) { M2TRNetwork(.lite0) }
        XCTAssertEqual(model.trunk.outputChannels, 112)
        XCTAssertEqual(model.trunk.stride, 16)
        XCTAssertEqual(model.mapSide, 14)
        XCTAssertEqual(model.filter.weightReal.shape, [96, 14, 14])
        XCTAssertEqual(model.trainableParameters().reduce(0) { $0 + $1.count }, 1_008_929, "0.70 M in the backbone, as docs/ZOO.md says")
        let lite0 = EfficientNetLite(.lite0)
        let report = try model.trunk.loadStateDict(Dictionary(uniqueKeysWithValues: lite0.stateDict()), strict: false)
        XCTAssertTrue(report.missing.isEmpty && report.mismatched.isEmpty, report.description)
        XCTAssertTrue(report.unexpected.allSatisfy { !$0.hasPrefix("_conv_stem") && !$0.hasPrefix("_blocks.10.") }, report.description)
        XCTAssertTrue(report.unexpected.contains("_blocks.11._expand_conv.weight") && report.unexpected.contains("_conv_head.weight"))
        model.eval()
        let out = withoutGrad { model(Tensor.zeros([1, 3, 224, 224])) }
        XCTAssertEqual(out.shape, [1, 1])
        XCTAssertTrue(out.scalars[0].isFinite)
    }

    /// The branch-consistency term is 0 for parallel features, 1 for orthogonal ones, whatever their lengths.
    func testBranchConsistency() {
        let u = Tensor([1, 0, 2, 2], shape: [2, 2]), v = Tensor([3, 0, 0, 5], shape: [2, 2])
        XCTAssertEqual(M2TRNetwork.branchConsistency(rgb: u, frequency: v).scalars[0], (0 + (1 - 1 / Float(2).squareRoot())) / 2, accuracy: 1e-5)
        XCTAssertEqual(M2TRNetwork.branchConsistency(rgb: u, frequency: u * 7).scalars[0], 0, accuracy: 1e-6)
    }
}
