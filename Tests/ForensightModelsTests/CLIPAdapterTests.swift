import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightTestSupport

/// The CLIP adapter network against an independent PyTorch model with the same seeded weights
/// (scripts/reference/make_clip_adapter_fixture.py): every part on, on the tiny EfficientNet-Lite trunk of the
/// ForgeLens fixture (block 2: an 8 × 8 grid at 32 px), d = 16; then the parts one by one.
final class CLIPAdapterTests: XCTestCase {
    /// The fixture's sizes (its Freq-Adapter scales are random there, zero in a fresh model).
    static func tinyConfig(_ parts: CLIPAdapterParts = .all) -> CLIPAdapterConfig {
        CLIPAdapterConfig(width: 16, heads: 4, feedForward: 32, dropout: 0.1, adapterChannels: 8, frequencyCutoff: 0.125, arcScale: 16,
                          arcMargin: 0.3, identityHidden: 8, identitySlots: 5, reversal: 0.5, parts: parts)
    }

    static let labels: [Float] = [0, 0, 1, 1]
    static let identities: [Int?] = [3, 7, 3, nil]

    static func fixtures() throws -> [String: Tensor] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/clip_adapter_reference.safetensors")
        return try Safetensors.read(path: url.path)
    }

    static func tinyModel(_ parts: CLIPAdapterParts = .all, seed: UInt64 = 1) -> CLIPAdapterNetwork {
        ParameterInit.withSeed(seed) { CLIPAdapterNetwork(backbone: ForgeLensTests.tinyBackbone, layer: 2, config: tinyConfig(parts)) }
    }

    func worst(_ a: Tensor, _ b: Tensor?, file: StaticString = #filePath, line: UInt = #line) -> Float {
        guard let b else { XCTFail("missing fixture tensor", file: file, line: line); return .infinity }
        XCTAssertEqual(a.shape, b.shape, file: file, line: line)
        return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? .infinity
    }

    func testMatchesPyTorch() throws {
        let tensors = try Self.fixtures()
        let model = Self.tinyModel()
        let outputs: Set<String> = ["input", "adapted", "boundary_weights", "features", "logits", "train_logits", "identity_loss", "bce_loss"]
        let weights = tensors.filter { !outputs.contains($0.key) && !$0.key.hasPrefix("grad_") }
        let report = try model.loadStateDict(weights, strict: true)
        XCTAssertTrue(report.isClean, report.description)
        model.eval()
        model.freezeBackbone()
        let x = try XCTUnwrap(tensors["input"])
        let (adapted, features, logits) = withoutGrad { (model.adaptedTokens(x), model.features(x), model(x)) }
        var worstOutput: Float = 0
        worstOutput = max(worstOutput, worst(adapted.tokens, tensors["adapted"]))
        worstOutput = max(worstOutput, worst(try XCTUnwrap(adapted.boundaryWeights), tensors["boundary_weights"]))
        worstOutput = max(worstOutput, worst(features, tensors["features"]))
        worstOutput = max(worstOutput, worst(logits, tensors["logits"]))

        // The taped path (norm tuning: the trunk on the tape), the ArcMargin training logits, the identity loss.
        let taped = model.features(x)
        let trainLogits = model.logits(features: taped, labels: Self.labels)
        worstOutput = max(worstOutput, worst(trainLogits, tensors["train_logits"]))
        let identityLoss = try XCTUnwrap(model.identity?.loss(taped, identities: Self.identities))
        worstOutput = max(worstOutput, worst(identityLoss.reshaped([1]), tensors["identity_loss"]))
        print("CLIP adapter max abs difference from PyTorch (tokens, weights, features, logits, losses): \(worstOutput)")
        XCTAssertLessThan(worstOutput, 1e-4)

        // Gradients of the identity loss through the gradient reversal, and of the training cross-entropy into the
        // trunk's BatchNorm gammas (norm tuning) and the adapter's scale.
        let named = Dictionary(uniqueKeysWithValues: model.namedParameters())
        var worstGradient: Float = 0
        identityLoss.backward()
        for key in ["identity.out.weight", "encoder.linear1.weight", "tokens.proj.0.weight"] {
            worstGradient = max(worstGradient, worst(try XCTUnwrap(named[key]?.grad, key), tensors["grad_identity." + key]))
        }
        for (_, p) in model.namedParameters() { p.grad = nil }
        let bce = Tensor.binaryCrossEntropyWithLogits(model.logits(features: model.features(x), labels: Self.labels),
                                                      targets: Tensor(Self.labels, shape: [4, 1]))
        XCTAssertEqual(bce.item, try XCTUnwrap(tensors["bce_loss"]).item, accuracy: 1e-4)
        bce.backward()
        for key in ["tokens.trunk._bn0.weight", "tokens.trunk._blocks.2._bn2.weight", "freq_adapter.fft_scale"] {
            worstGradient = max(worstGradient, worst(try XCTUnwrap(named[key]?.grad, key), tensors["grad_bce." + key]))
        }
        print("CLIP adapter max abs gradient difference from PyTorch: \(worstGradient)")
        XCTAssertLessThan(worstGradient, 1e-4)
        XCTAssertNil(named["tokens.trunk._blocks.2._project_conv.weight"]?.grad, "the trunk's weights stay frozen")
    }

    /// The identity discriminator's gradient reaches the feature reversed and scaled: −α times the finite-difference
    /// gradient of the same loss without the reversal.
    func testGradientReversalAgainstFiniteDifferences() {
        let discriminator = ParameterInit.withSeed(4) { IdentityDiscriminator(width: 6, hidden: 5, slots: 4, reversal: 0.7) }
        var random = SeededRandom(seed: 9)
        let features = Tensor.randn([5, 6], using: &random, requiresGrad: true)
        let ids: [Int?] = [0, 1, 2, nil, 1]
        discriminator.loss(features, identities: ids)!.backward()
        let analytic = features.grad!.scalars
        // The same network without the reversal: a plain MLP cross-entropy, differentiated numerically.
        func plainLoss(_ f: Tensor) -> Float {
            withoutGrad {
                let logits = discriminator.out(discriminator.hidden(f).relu()).gather([0, 1, 2, 4], axis: 0).gather([0, 1, 2], axis: 1)
                return Tensor.crossEntropy(logits, targets: [0, 1, 2, 1]).item
            }
        }
        let eps: Float = 1e-3
        for i in 0..<features.count {
            let saved = features.data[i]
            features.data[i] = saved + eps; let up = plainLoss(features)
            features.data[i] = saved - eps; let down = plainLoss(features)
            features.data[i] = saved
            let numeric = (up - down) / (2 * eps)
            XCTAssertEqual(analytic[i], -0.7 * numeric, accuracy: 2e-3 + 0.02 * abs(numeric), "element \(i)")
        }
        XCTAssertTrue(analytic.allSatisfy(\.isFinite) && analytic.contains { $0 != 0 })
    }

    /// The new composite functions pass the finite-difference check: L2 normalisation, the ArcMargin head with and
    /// without labels, Boundary Mining's gate and the Freq-Adapter's fusion.
    func testCompositeGradients() {
        var random = SeededRandom(seed: 11)
        func input(_ shape: [Int]) -> Tensor { Tensor.randn(shape, using: &random, requiresGrad: true) }
        let head = ParameterInit.withSeed(2) { ArcMarginHead(width: 5, scale: 4, margin: 0.3) }
        for labels in [nil, [Float(0), 1, 1]] as [[Float]?] {
            let (ok, result) = checkGradients([input([3, 5]), head.centres]) { head(l2Normalized($0[0]), labels: labels) }
            XCTAssertTrue(ok, "ArcMargin \(labels.map { "\($0)" } ?? "inference"): \(result)")
        }
        let x = Tensor.randn([2, 3, 16, 16], using: &random)
        let boundary = ParameterInit.withSeed(3) { BoundaryMining() }
        let (okB, resultB) = checkGradients([input([2, 16, 4]), boundary.gate.weight, boundary.gate.bias!]) { boundary(x, patches: $0[0], grid: 4).tokens }
        XCTAssertTrue(okB, "Boundary Mining: \(resultB)")
        let adapter = ParameterInit.withSeed(5) { FrequencyAdapter(width: 4, channels: 3, cutoff: 0.125) }
        for t in [adapter.fftScale, adapter.dwtScale] { for i in 0..<t.count { t.data[i] = 0.5 } }
        let (okF, resultF) = checkGradients([input([2, 16, 4]), adapter.fftScale, adapter.fftStem.weight, adapter.dwtProj.weight]) {
            adapter(x, patches: $0[0], grid: 4)
        }
        XCTAssertTrue(okF, "Freq-Adapter: \(resultF)")
    }

    /// The fixed views: a constant image has no high frequencies and no edges inside; Haar details of a horizontal
    /// ramp are all in one band.
    func testHighFrequencyViews() {
        let flat = Tensor.full([1, 3, 8, 8], 0.4)
        XCTAssertLessThan(HighFrequencyViews.fftHighPass(flat, radius: 1).scalars.map(abs).max()!, 1e-5)
        XCTAssertEqual(HighFrequencyViews.haarDetails(flat).scalars.map(abs).max()!, 0, accuracy: 1e-6)
        let ramp = Tensor((0..<64).map { Float($0 % 8) }, shape: [1, 1, 8, 8])
        let bands = HighFrequencyViews.haarDetails(ramp).scalars   // [LH, HL, HH] each 4 × 4
        XCTAssertEqual(bands[0..<16].map(abs).max()!, 0, accuracy: 1e-6)
        XCTAssertTrue(bands[16..<32].allSatisfy { abs($0 + 1) < 1e-6 }, "HL of a ramp rising by one per column: (a − b + c − d) / 2 = −1")
        XCTAssertEqual(bands[32..<48].map(abs).max()!, 0, accuracy: 1e-6)
        let cues = HighFrequencyViews.boundaryCues(Tensor.full([1, 3, 8, 8], 0.4)).scalars
        XCTAssertEqual(cues[9], 0, accuracy: 1e-6, "no residual inside a flat patch")
        XCTAssertEqual(cues[64 + 9], 1e-3, accuracy: 1e-5, "Sobel magnitude √(0 + 10⁻⁶) inside a flat patch")
    }

    /// Slerp stays on the sphere, pairs only same-label rows, and repeats for a seed.
    func testSlerpAugmentation() {
        var random = SeededRandom(seed: 3)
        let f = l2Normalized(Tensor.randn([5, 8], using: &random))
        var a = SeededRandom(seed: 7), b = SeededRandom(seed: 7)
        let (mixed, labels) = slerpAugmented(f, labels: [0, 0, 1, 1, 2], using: &a)!
        let again = slerpAugmented(f, labels: [0, 0, 1, 1, 2], using: &b)!
        XCTAssertEqual(mixed.scalars, again.features.scalars)
        XCTAssertEqual(labels, [0, 0, 1, 1], "the lone label-2 row has no partner")
        for r in 0..<4 {
            let norm = (0..<8).map { mixed.scalars[r * 8 + $0] }.reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertEqual(norm, 1, accuracy: 1e-4)
        }
        XCTAssertNil(slerpAugmented(f.slice(axis: 0, 0..<2), labels: [0, 1], using: &a))
    }

    /// A fresh Freq-Adapter leaves the tokens as they are; each part switched off removes its keys; norm tuning
    /// trains the trunk's BatchNorm γ and β only, with frozen running statistics.
    func testPartsSwitchAndNormTuning() {
        let full = Self.tinyModel()
        var random = SeededRandom(seed: 5)
        let x = Tensor.randn([2, 3, 32, 32], using: &random)
        let p = Tensor.randn([2, 64, 16], using: &random)
        XCTAssertEqual(withoutGrad { full.freqAdapter!(x, patches: p, grid: 8) }.scalars, p.scalars)
        let keys = Set(full.stateDict().map(\.0))
        let cases: [(CLIPAdapterParts, String)] = [(.freq, "freq_adapter."), (.boundary, "boundary."), (.identity, "identity."), (.arcMargin, "arc_head.")]
        for (part, prefix) in cases {
            let ablated = Set(Self.tinyModel(CLIPAdapterParts.all.subtracting(part)).stateDict().map(\.0))
            XCTAssertTrue(keys.contains { $0.hasPrefix(prefix) } && !ablated.contains { $0.hasPrefix(prefix) }, prefix)
        }
        XCTAssertTrue(Set(Self.tinyModel([]).stateDict().map(\.0)).contains("fc.weight"), "the linear head without arcmargin")
        XCTAssertEqual(CLIPAdapterParts(names: ["freq", "arcmargin"]), [.freq, .arcMargin])
        XCTAssertEqual(CLIPAdapterParts(names: "all".split(separator: ",").map(String.init))?.names, ["norms", "freq", "boundary", "identity", "arcmargin", "slerp"])
        XCTAssertNil(CLIPAdapterParts(names: ["bogus"]))

        full.train()
        full.freezeBackbone()
        let lite = full.tokens as! EfficientNetLiteTokens
        let statistics = lite.trunk.stateDict().filter { $0.0.contains("running") }.flatMap { $0.1.scalars }
        full(x).squared().mean().backward()
        XCTAssertTrue(full.normParameters.allSatisfy { $0.requiresGrad && $0.grad != nil })
        XCTAssertTrue(lite.trunk.namedParameters().filter { $0.0.hasSuffix("conv.weight") || $0.0.hasSuffix("stem.weight") }.allSatisfy { $0.1.grad == nil })
        XCTAssertEqual(lite.trunk.stateDict().filter { $0.0.contains("running") }.flatMap { $0.1.scalars }, statistics, "running statistics frozen")
        let frozen = Self.tinyModel(CLIPAdapterParts.all.subtracting(.norms))
        frozen.freezeBackbone()
        XCTAssertTrue(frozen.normParameters.allSatisfy { !$0.requiresGrad })
        XCTAssertEqual(full.parameterCount(trainableOnly: true) - frozen.parameterCount(trainableOnly: true), full.normParameters.reduce(0) { $0 + $1.count })
    }

    /// The zoo configuration: Lite0 block 10 gives 196 patch tokens at 224 px.
    func testTheLite0Configuration() {
        let model = ParameterInit.withSeed(1) { CLIPAdapterNetwork(backbone: .lite0) }
        model.eval()
        model.freezeBackbone()
        let (tokens, logits) = withoutGrad { (model.adaptedTokens(Tensor.zeros([1, 3, 224, 224])).tokens, model(Tensor.zeros([1, 3, 224, 224]))) }
        XCTAssertEqual(tokens.shape, [1, 197, 128])
        XCTAssertEqual(logits.shape, [1, 1])
        XCTAssertTrue(logits.scalars[0].isFinite)
        print("clip-adapter-efficientnet-lite0 trainable parameters: \(model.parameterCount(trainableOnly: true))")
    }

    /// On a CLIP image encoder (the tiny Hugging Face fixture: 2 × 2 patches at 32 px): the same logits on and off the
    /// tape, and norm tuning trains the encoder's LayerNorms only.
    func testOnCLIPTokensNormTuningTrainsTheLayerNorms() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/clip/hf_vision_model.safetensors")
        let encoder = try CLIPCheckpoint(path: url.path, heads: 2, activation: .gelu).encoder
        let model = ParameterInit.withSeed(6) { CLIPAdapterNetwork(clip: encoder, layer: 1, config: Self.tinyConfig()) }
        model.eval()
        model.freezeBackbone()
        var random = SeededRandom(seed: 8)
        let x = Tensor.randn([2, 3, 32, 32], using: &random)
        let untaped = withoutGrad { model(x) }
        let taped = model(x)
        XCTAssertEqual(untaped.shape, [2, 1])
        XCTAssertLessThan(zip(untaped.scalars, taped.scalars).map { abs($0 - $1) }.max()!, 1e-5)
        taped.sum().backward()
        let layerNorms = model.normParameters
        XCTAssertFalse(layerNorms.isEmpty)
        XCTAssertTrue(layerNorms.allSatisfy { $0.grad != nil })
        let ids = Set(layerNorms.map(ObjectIdentifier.init))
        XCTAssertTrue(encoder.namedParameters().filter { !ids.contains(ObjectIdentifier($0.1)) }.allSatisfy { $0.1.grad == nil && !$0.1.requiresGrad })
    }
}
