import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels

/// CLIP image encoders imported from each checkpoint format against `transformers` and `open_clip_torch` on small
/// random models (scripts/reference/make_clip_fixtures.py): the projected class token and block 0's tokens, on the
/// module and on the compiled ViT path, within 1e-4 (max abs).
final class CLIPImportTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/clip")

    /// The fixture's path, or a skip when it is absent.
    func fixture(_ name: String) throws -> String {
        let path = Self.fixtures.appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("fixture \(name) absent (make_clip_fixtures.py)") }
        return path
    }

    func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
        XCTAssertEqual(a.shape, b.shape)
        return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? .infinity
    }

    /// Imports `file`, checks the inferred configuration and the outputs against the reference named `reference`.
    func check(_ file: String, reference: String, heads: Int?, activation: Activation?, expect: CLIPVisionConfig,
               format: CLIPCheckpointFormat) throws {
        let refs = try Safetensors.read(path: try fixture("clip_reference.safetensors"))
        let checkpoint = try CLIPCheckpoint(path: try fixture(file), heads: heads, activation: activation)
        XCTAssertEqual(checkpoint.config, expect)
        XCTAssertEqual(checkpoint.format, format)
        let model = checkpoint.encoder
        let x = try XCTUnwrap(refs["input"])
        let wantFeatures = try XCTUnwrap(refs["\(reference).features"]), wantLayer0 = try XCTUnwrap(refs["\(reference).layer0"])
        let (features, layer0) = withoutGrad { (model.features(x), model.intermediates(x, layers: [0])[0]!) }
        XCTAssertLessThan(maxAbsDifference(features, wantFeatures), 1e-4, "\(file) features")
        XCTAssertLessThan(maxAbsDifference(layer0, wantLayer0), 1e-4, "\(file) layer 0")
        let compiled = VisionTransformerInference(model)
        XCTAssertLessThan(maxAbsDifference(compiled(x), wantFeatures), 1e-4, "\(file) compiled features")
        XCTAssertLessThan(maxAbsDifference(compiled.intermediates(x, layers: [0])[0]!, wantLayer0), 1e-4, "\(file) compiled layer 0")
        XCTAssertTrue(compiled.matches(model))

        // The converted file holds the configuration and reads back without options.
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("clip-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        try checkpoint.write(to: out, source: file)
        let reread = try CLIPCheckpoint(path: out)
        XCTAssertEqual(reread.config, expect)
        XCTAssertEqual(reread.format, .forensight)
        let again = withoutGrad { try! CLIPVisionEncoder.load(clip: out).features(x) }
        XCTAssertLessThan(maxAbsDifference(again, wantFeatures), 1e-4, "\(file) converted")
    }

    func testHuggingFaceCLIPModel() throws {
        // Heads (4) and QuickGELU come from hf_clip_model.config.json; the MLP width (96) from the shapes.
        try check("hf_clip_model.safetensors", reference: "hf_clip_model", heads: nil, activation: nil,
                  expect: CLIPVisionConfig(imageSize: 32, patchSize: 8, width: 32, layers: 2, heads: 4, mlpWidth: 96, outputDim: 24,
                                           activation: .quickGelu), format: .huggingFace)
    }

    func testHuggingFaceCLIPVisionModelWithoutProjection() throws {
        try check("hf_vision_model.safetensors", reference: "hf_vision_model", heads: 2, activation: .gelu,
                  expect: CLIPVisionConfig(imageSize: 32, patchSize: 16, width: 32, layers: 2, heads: 2, mlpWidth: 128, outputDim: nil,
                                           activation: .gelu), format: .huggingFace)
    }

    func testOpenCLIPStateDictAsTorchZip() throws {
        try check("open_clip.bin", reference: "open_clip", heads: 4, activation: .quickGelu,
                  expect: Self.openCLIPConfig, format: .openCLIP)
    }

    func testOpenCLIPStateDictAsSafetensors() throws {
        try check("open_clip.safetensors", reference: "open_clip", heads: 4, activation: .quickGelu,
                  expect: Self.openCLIPConfig, format: .openCLIP)
    }

    func testOpenAITorchScriptArchive() throws {
        // float16 weights widened; QuickGELU is the TorchScript default.
        try check("openai_torchscript.pt", reference: "openai_torchscript", heads: 4, activation: nil,
                  expect: Self.openCLIPConfig, format: .openAITorchScript)
    }

    static let openCLIPConfig = CLIPVisionConfig(imageSize: 32, patchSize: 8, width: 32, layers: 2, heads: 4, mlpWidth: 128,
                                                 outputDim: 16, activation: .quickGelu)

    /// Each mismatch is one line naming what is wrong.
    func testMismatchesAreOneClearLine() throws {
        let hf = try fixture("hf_vision_model.safetensors")
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "no error" } catch { return String(describing: error) }
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("clip-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // (transformers 5 writes a CLIPVisionModel's keys without `vision_model.`.)
        var tensors = try Safetensors.read(path: hf)

        // A missing key.
        tensors["encoder.layers.1.mlp.fc2.bias"] = nil
        try Safetensors.write(tensors, to: directory.appendingPathComponent("missing.safetensors").path)
        let missing = message { _ = try CLIPCheckpoint(path: directory.appendingPathComponent("missing.safetensors").path, heads: 2) }
        XCTAssertTrue(missing.contains("missing") && missing.contains("blocks.1.mlp.fc2.bias"), missing)

        // A wrong shape.
        tensors = try Safetensors.read(path: hf)
        tensors["post_layernorm.weight"] = Tensor.zeros([31])
        try Safetensors.write(tensors, to: directory.appendingPathComponent("shape.safetensors").path)
        let shape = message { _ = try CLIPCheckpoint(path: directory.appendingPathComponent("shape.safetensors").path, heads: 2) }
        XCTAssertTrue(shape.contains("mis-shaped") && shape.contains("ln_post.weight"), shape)

        // An unknown variant: a key no ViT CLIP tower has, and a file of another model.
        tensors = try Safetensors.read(path: hf)
        tensors["head.attention.in_proj_weight"] = Tensor.zeros([3])
        try Safetensors.write(tensors, to: directory.appendingPathComponent("variant.safetensors").path)
        let variant = message { _ = try CLIPCheckpoint(path: directory.appendingPathComponent("variant.safetensors").path, heads: 2) }
        XCTAssertTrue(variant.contains("unknown variant") && variant.contains("head.attention"), variant)
        try Safetensors.write(["fc.weight": Tensor.zeros([2, 2])], to: directory.appendingPathComponent("other.safetensors").path)
        let other = message { _ = try CLIPCheckpoint(path: directory.appendingPathComponent("other.safetensors").path) }
        XCTAssertTrue(other.contains("unknown variant"), other)

        // Heads that cannot be inferred, and an open_clip state dict without its activation.
        let heads = message { _ = try CLIPCheckpoint(path: hf, activation: .gelu) }
        XCTAssertTrue(heads.contains("heads"), heads)
        let activation = message { _ = try CLIPCheckpoint(path: try fixture("open_clip.bin"), heads: 4) }
        XCTAssertTrue(activation.contains("activation"), activation)
        for text in [missing, shape, variant, other, heads, activation] { XCTAssertFalse(text.contains("\n"), text) }
    }

    /// The released sizes: ViT-B/16's encoder has the published parameter count and gives 512-wide features.
    func testReleasedConfigurations() {
        XCTAssertEqual(CLIPVisionConfig.vitB16.tokens, 197)
        XCTAssertEqual(CLIPVisionConfig.vitB32.tokens, 50)
        XCTAssertEqual(CLIPVisionConfig.vitL14.tokens, 257)
        XCTAssertEqual(CLIPVisionConfig.vitL14.variantName, "ViT-L/14")
        let model = CLIPVisionEncoder(.vitB32)
        // open_clip's ViT-B-32 visual tower: 87,849,216 parameters.
        XCTAssertEqual(model.parameterCount(), 87_849_216)
        XCTAssertEqual(model.featureWidth, 512)
        XCTAssertEqual(model.layerCount, 12)
    }

    /// Every layer's tokens: the last block's, pooled by the encoder's own tail, are its features (module and compiled).
    func testEveryLayersTokensAndTheirTail() {
        ParameterInit.seed(5)
        let model = CLIPVisionEncoder(CLIPVisionConfig(imageSize: 32, patchSize: 8, width: 32, layers: 3, heads: 4, outputDim: 8,
                                                       activation: .gelu))
        model.eval()
        var rng = SeededRandom(seed: 6)
        let x = Tensor.randn([2, 3, 32, 32], using: &rng)
        let layers = withoutGrad { model.intermediates(x, layers: [0, 1, 2]) }
        XCTAssertEqual(layers[1]?.shape, [2, 17, 32])
        let features = withoutGrad { model.features(x) }
        XCTAssertLessThan(maxAbsDifference(withoutGrad { model.pooled(layers[2]!) }, features), 1e-6)
        let compiled = VisionTransformerInference(model).intermediates(x, layers: [1, 2])
        XCTAssertLessThan(maxAbsDifference(compiled[1]!, layers[1]!), 1e-4)
        XCTAssertLessThan(maxAbsDifference(compiled[2]!, layers[2]!), 1e-4)
    }
}
