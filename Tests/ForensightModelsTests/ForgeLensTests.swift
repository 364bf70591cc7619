import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightTestSupport

/// ForgeLens against an independent PyTorch model with the same seeded weights
/// (scripts/reference/make_forgelens_fixture.py): on a tiny EfficientNet-Lite trunk (blocks 0 and 2: 16 × 16 and
/// 8 × 8 maps) and on the tiny Hugging Face CLIP image encoder of Fixtures/clip (blocks 0 and 1), d = 16, a guidance
/// bottleneck of 8, two FAFormer layers of 8 heads.
final class ForgeLensTests: XCTestCase {
    /// The fixture's head sizes.
    static let tinyConfig = ForgeLensConfig(width: 16, guidanceWidth: 8, layers: 2, heads: 8, feedForward: 32, dropout: 0.1)

    /// The M2TR fixture's tiny trunk (stem 8; MBConv e1 k3 s1; two MBConvs e2 k5, the first of stride 2; 8 channels).
    static var tinyBackbone: EfficientNetLiteConfig {
        var backbone = EfficientNetLiteConfig.lite0
        var first = backbone.stages[0], second = backbone.stages[2]
        (first.inputChannels, first.outputChannels) = (8, 8)
        (second.repeats, second.expandRatio, second.inputChannels, second.outputChannels) = (2, 2, 8, 8)
        (backbone.stages, backbone.stemChannels, backbone.headChannels) = ([first, second], 8, 16)
        return backbone
    }

    static func fixtures() throws -> [String: Tensor] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/forgelens_reference.safetensors")
        return try Safetensors.read(path: url.path)
    }

    static func isOutput(_ key: String) -> Bool {
        let names: Set<String> = ["input", "encoded", "features", "logits"]
        let stripped = key.hasPrefix("clip.") ? String(key.dropFirst(5)) : key
        return names.contains(stripped) || stripped.hasPrefix("guided.") || (stripped.hasPrefix("tokens.") && Int(stripped.dropFirst(7)) != nil)
    }

    func worstDifference(_ a: Tensor, _ b: Tensor) -> Float {
        XCTAssertEqual(a.shape, b.shape)
        return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? .infinity
    }

    func testMatchesPyTorchOnEfficientNetTokens() throws {
        let tensors = try Self.fixtures()
        let model = ForgeLensNetwork(backbone: Self.tinyBackbone, layers: [0, 2], config: Self.tinyConfig)
        let weights = tensors.filter { !$0.key.hasPrefix("clip.") && !Self.isOutput($0.key) }
        let report = try model.loadStateDict(weights, strict: true)
        XCTAssertTrue(report.isClean, report.description)
        model.eval()
        let x = try XCTUnwrap(tensors["input"])
        let (tokens, guided, encoded, features, logits) = withoutGrad {
            (model.tokens.layerTokens(x), model.guidedTokens(x), model.encoded(x), model.features(x), model(x))
        }
        XCTAssertEqual(tokens.map(\.shape), [[2, 257, 16], [2, 65, 16]])
        XCTAssertEqual(encoded.patchCounts, [256, 64])
        var worst: Float = 0
        for n in 0..<2 {
            worst = max(worst, worstDifference(tokens[n], try XCTUnwrap(tensors["tokens.\(n)"])))
            worst = max(worst, worstDifference(guided[n], try XCTUnwrap(tensors["guided.\(n)"])))
        }
        worst = max(worst, worstDifference(encoded.tokens, try XCTUnwrap(tensors["encoded"])))
        worst = max(worst, worstDifference(features, try XCTUnwrap(tensors["features"])))
        worst = max(worst, worstDifference(logits, try XCTUnwrap(tensors["logits"])))
        print("ForgeLens (EfficientNet-Lite tokens) max abs difference from PyTorch: \(worst)")
        XCTAssertLessThan(worst, 1e-4)
        XCTAssertEqual(logits.shape, [2, 1])
        // The taped path (what training runs) gives the same logits, and the frozen trunk stays off the tape.
        let taped = model(Tensor(x.scalars, shape: x.shape, requiresGrad: true))
        XCTAssertLessThan(worstDifference(taped, logits), 1e-5)
    }

    func testMatchesPyTorchOnCLIPTokens() throws {
        let tensors = try Self.fixtures()
        let clipURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/clip/hf_vision_model.safetensors")
        let encoder = try CLIPCheckpoint(path: clipURL.path, heads: 2, activation: .gelu).encoder
        let model = ForgeLensNetwork(clip: encoder, layers: [0, 1], config: Self.tinyConfig)
        var weights: [String: Tensor] = [:]
        for (key, value) in tensors where key.hasPrefix("clip.") && !Self.isOutput(key) { weights[String(key.dropFirst(5))] = value }
        for (key, value) in encoder.stateDict() { weights["tokens.encoder." + key] = value }
        let report = try model.loadStateDict(weights, strict: true)
        XCTAssertTrue(report.isClean, report.description)
        model.eval()
        let x = try XCTUnwrap(tensors["clip.input"])
        let (tokens, features, logits) = withoutGrad { (model.tokens.layerTokens(x), model.features(x), model(x)) }
        var worst: Float = 0
        for n in 0..<2 { worst = max(worst, worstDifference(tokens[n], try XCTUnwrap(tensors["clip.tokens.\(n)"]))) }
        worst = max(worst, worstDifference(features, try XCTUnwrap(tensors["clip.features"])))
        worst = max(worst, worstDifference(logits, try XCTUnwrap(tensors["clip.logits"])))
        print("ForgeLens (CLIP tokens) max abs difference from PyTorch: \(worst)")
        XCTAssertLessThan(worst, 1e-4)
        // Only the projection and what follows it train.
        model.freezeBackbone()
        XCTAssertTrue(model.trainableParameters().allSatisfy { p in !encoder.stateDict().contains { $0.1 === p } })
        XCTAssertEqual(model.parameterCount(trainableOnly: true), model.parameterCount() - encoder.parameterCount())
    }

    /// A fresh guidance module passes tokens through (its up-projection starts at zero), and the backbone is frozen
    /// and off the tape: only the projections, class tokens, guidance, FAFormer and head receive gradients.
    func testGuidanceStartsAsIdentityAndTheBackboneStaysFrozen() {
        let model = ParameterInit.withSeed(2) { ForgeLensNetwork(backbone: Self.tinyBackbone, layers: [0, 2], config: Self.tinyConfig) }
        var random = SeededRandom(seed: 3)
        let t = Tensor.randn([2, 5, 16], using: &random)
        XCTAssertEqual(withoutGrad { model.guidance(t) }.scalars, t.scalars)
        model.train()
        model.freezeBackbone()
        let lite = model.tokens as! EfficientNetLiteTokens
        XCTAssertFalse(lite.trunk.bn0.isTraining || lite.trunk.blocks.contains { $0.isTraining }, "frozen BatchNorm statistics")
        XCTAssertTrue(model.faformer[0].isTraining)
        let loss = model(Tensor.randn([2, 3, 32, 32], using: &random)).squared().mean()
        loss.backward()
        XCTAssertTrue(lite.trunk.namedParameters().allSatisfy { $0.1.grad == nil && !$0.1.requiresGrad })
        for p in [lite.classTokens, lite.proj[0].weight, model.guidance.down.weight, model.guidance.up.weight, model.focusToken,
                  model.layerEmbedding, model.faformer[0].selfAttn.inProjWeight, model.fc.weight] {
            XCTAssertNotNil(p.grad)
        }
    }

    /// The zoo configuration: Lite0 blocks 7, 10 and 14 give 196 + 196 + 49 patch tokens at 224 px; the trunk takes
    /// Lite0's keys through block 14; the trainable part is counted in docs/ZOO.md.
    func testTheLite0Configuration() throws {
        let model = ParameterInit.withSeed(1) { ForgeLensNetwork(backbone: .lite0) }
        let lite = try XCTUnwrap(model.tokens as? EfficientNetLiteTokens)
        XCTAssertEqual(lite.trunk.blocks.count, 15)
        XCTAssertEqual(lite.proj.map { $0.weight.shape[1] }, [80, 112, 192])
        model.freezeBackbone()
        XCTAssertEqual(model.parameterCount(trainableOnly: true), 464_065, "as docs/ZOO.md says")
        let report = try lite.trunk.loadStateDict(Dictionary(uniqueKeysWithValues: EfficientNetLite(.lite0).stateDict()), strict: false)
        XCTAssertTrue(report.missing.isEmpty && report.mismatched.isEmpty, report.description)
        XCTAssertTrue(report.unexpected.contains("_blocks.15._expand_conv.weight") && !report.unexpected.contains("_blocks.14._expand_conv.weight"))
        model.eval()
        let (encoded, logits) = withoutGrad { (model.encoded(Tensor.zeros([1, 3, 224, 224])), model(Tensor.zeros([1, 3, 224, 224]))) }
        XCTAssertEqual(encoded.patchCounts, [196, 196, 49])
        XCTAssertEqual(encoded.tokens.shape, [1, 1 + 197 + 197 + 50, 128])
        XCTAssertEqual(logits.shape, [1, 1])
        XCTAssertTrue(logits.scalars[0].isFinite)
    }
}
