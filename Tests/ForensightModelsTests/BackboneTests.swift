import XCTest
import ForensightTensor
import ForensightNN
import ForensightModels

/// `Backbone`: intermediate outputs are the layers the full forward pass goes through.
final class BackboneTests: XCTestCase {
    func check(_ backbone: some Backbone, input: Tensor, finish: (Tensor) -> Tensor) {
        withoutGrad {
            backbone.eval()
            let last = backbone.layerCount - 1
            let all = backbone.intermediates(input, layers: [0, last / 2, last])
            XCTAssertEqual(Set(all.keys), [0, last / 2, last])
            // The deepest layer, finished by the backbone's own tail, gives its features.
            let features = backbone.features(input)
            XCTAssertEqual(features.shape, [input.shape[0], backbone.featureWidth])
            for (a, b) in zip(finish(all[last]!).scalars, features.scalars) { XCTAssertEqual(a, b, accuracy: 1e-5) }
            // Asking for a shallow layer alone gives the same tensor as asking for it beside deeper ones.
            XCTAssertEqual(backbone.intermediates(input, layers: [last / 2])[last / 2]!.scalars, all[last / 2]!.scalars)
            XCTAssertTrue(backbone.intermediates(input, layers: []).isEmpty)
        }
    }

    func testEfficientNetLiteBlocks() {
        let net = ParameterInit.withSeed(3) { EfficientNetLite(.lite0) }
        var random = SeededRandom(seed: 1)
        let x = Tensor.randn([2, 3, 64, 64], using: &random)
        XCTAssertEqual(net.layerCount, net.blocks.count)
        check(net, input: x) { h in
            net.convHead.withBatchNorm(net.bn1, activation: .relu6, h).adaptiveAvgPool2d((1, 1)).flattened(from: 1)
        }
    }

    func testVisionTransformerBlocks() {
        let config = ViTConfig(imageSize: 32, patchSize: 8, width: 48, depth: 4, heads: 4, classes: 10)
        let vit = ParameterInit.withSeed(4) { VisionTransformer(config) }
        var random = SeededRandom(seed: 2)
        let x = Tensor.randn([2, 3, 32, 32], using: &random)
        check(vit, input: x) { h in vit.norm(h).slice(axis: 1, 0..<1).reshaped([2, 48]) }
        XCTAssertEqual(vit.intermediates(x, layers: [1])[1]!.shape, [2, config.tokens, 48])
    }
}
