import XCTest
import ForensightTensor
import ForensightNN
import ForensightModels

/// The compiled, channel-blocked EfficientNet-Lite against the module it was built from, in evaluation mode.
final class EfficientNetLiteInferenceTests: XCTestCase {
    /// A Lite0 with random weights and BatchNorm statistics far from the identity, so a wrong fold would show.
    func randomModel(seed: UInt64) -> EfficientNetLite {
        let model = EfficientNetLite(.lite0)
        var rng = SeededRandom(seed: seed)
        for (name, t) in model.stateDict() where t.count > 0 {
            let values = Tensor.randn([t.count], using: &rng).scalars
            for i in 0..<t.count {
                if name.hasSuffix("running_var") { t.data[i] = 0.5 + Swift.abs(values[i]) }
                else if name.hasSuffix("num_batches_tracked") { continue }
                else if name.hasSuffix("weight") && t.shape.count == 1 { t.data[i] = 1 + 0.2 * values[i] }
                else if name.hasSuffix("weight") && t.shape.count == 4 { t.data[i] = values[i] * (1.5 / Float(t.count / t.shape[0]).squareRoot()) }
                else { t.data[i] = 0.1 * values[i] }
            }
        }
        model.eval()
        return model
    }

    func testCompiledNetworkMatchesTheModule() {
        let model = randomModel(seed: 7)
        let compiled = EfficientNetLiteInference(model)
        var rng = SeededRandom(seed: 8)
        // 64×64 (2×2 at the head), a non-square 50×70 whose odd sizes make TF "same" padding uneven, and a batch of 5
        // (with 2 threads, images spread over the threads instead of each layer).
        for shape in [[2, 3, 64, 64], [1, 3, 50, 70], [5, 3, 40, 40]] {
            let x = Tensor.randn(shape, using: &rng)
            let (logits, map) = withoutGrad { (model(x), model.featureMap(x)) }
            let (gotLogits, gotMap) = (compiled(x), compiled.featureMap(x))
            XCTAssertEqual(gotLogits.shape, logits.shape)
            XCTAssertEqual(gotMap.shape, map.shape)
            let scale = logits.scalars.map { Swift.abs($0) }.max()!
            for i in 0..<logits.count { XCTAssertEqual(gotLogits.data[i], logits.data[i], accuracy: 1e-4 * Swift.max(1, scale), "logit \(i) of \(shape)") }
            var worst: Float = 0
            for i in 0..<map.count { worst = Swift.max(worst, Swift.abs(gotMap.data[i] - map.data[i]) / Swift.max(1, Swift.abs(map.data[i]))) }
            XCTAssertLessThan(worst, 1e-4, "feature map of \(shape)")
            let pooled = compiled.features(x), want = map.adaptiveAvgPool2d((1, 1)).flattened(from: 1)
            for i in 0..<want.count { XCTAssertEqual(pooled.data[i], want.data[i], accuracy: 1e-4 * Swift.max(1, Swift.abs(want.data[i]))) }
        }
    }

    func testMatchesTellsWhenTheModuleChanged() {
        let model = randomModel(seed: 9)
        let compiled = EfficientNetLiteInference(model)
        XCTAssertTrue(compiled.matches(model))
        model.blocks[3].bn1.runningMean.data[5] += 0.25
        XCTAssertFalse(compiled.matches(model))
        XCTAssertTrue(EfficientNetLiteInference(model).matches(model))
    }
}

/// The compiled ViT against the module it was built from.
final class VisionTransformerInferenceTests: XCTestCase {
    func testCompiledViTMatchesTheModule() {
        ParameterInit.seed(21)
        let config = ViTConfig(imageSize: 32, patchSize: 8, width: 64, depth: 2, heads: 4, classes: 10)
        let model = VisionTransformer(config)
        var rng = SeededRandom(seed: 22)
        // Non-zero class token and LayerNorm affines, so a slot mixed up would show.
        for (name, t) in model.stateDict() where name.contains("norm") || name.contains("cls") {
            let noise = Tensor.randn([t.count], using: &rng).scalars
            for i in 0..<t.count { t.data[i] += 0.3 * noise[i] }
        }
        model.eval()
        let compiled = VisionTransformerInference(model)
        let x = Tensor.randn([2, 3, 32, 32], using: &rng)
        let (want, wantFeatures) = withoutGrad { (model(x), model.features(x)) }
        let (got, gotFeatures) = (compiled(x), compiled.features(x))
        XCTAssertEqual(got.shape, want.shape)
        for i in 0..<want.count { XCTAssertEqual(got.data[i], want.data[i], accuracy: 1e-4 * Swift.max(1, Swift.abs(want.data[i]))) }
        for i in 0..<wantFeatures.count {
            XCTAssertEqual(gotFeatures.data[i], wantFeatures.data[i], accuracy: 1e-4 * Swift.max(1, Swift.abs(wantFeatures.data[i])))
        }
        XCTAssertTrue(compiled.matches(model))
        model.blocks[1].mlp.fc2.weight.data[3] += 1
        XCTAssertFalse(compiled.matches(model))
    }
}
