import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightTestSupport

/// DFD-FCG against an independent PyTorch model with the same seeded weights
/// (scripts/reference/make_dfdfcg_fixture.py): on ForgeLens's tiny EfficientNet-Lite trunk (blocks 0 and 2: 16 × 16
/// and 8 × 8 maps), d = 16, 4 queries, 4 heads, feed-forward 32, clips of T = 3 frames, two clips.
final class DFDFCGTests: XCTestCase {
    static let tinyConfig = DFDFCGConfig(width: 16, feedForward: 32, frames: 3)

    static func fixtures() throws -> [String: Tensor] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/dfdfcg_reference.safetensors")
        return try Safetensors.read(path: url.path)
    }

    static func isOutput(_ key: String) -> Bool {
        ["input", "temporal_features", "spatial", "temporal", "spatio_temporal", "logits", "guidance"].contains(key)
            || key.hasPrefix("masks.") || key.hasPrefix("queries.")
    }

    func worstDifference(_ a: Tensor, _ b: Tensor) -> Float {
        XCTAssertEqual(a.shape, b.shape)
        return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? .infinity
    }

    func tinyModel(seed: UInt64 = 2) -> DFDFCGNetwork {
        ParameterInit.withSeed(seed) { DFDFCGNetwork(backbone: ForgeLensTests.tinyBackbone, layers: [0, 2], config: Self.tinyConfig) }
    }

    func testMatchesPyTorch() throws {
        let tensors = try Self.fixtures()
        let model = tinyModel()
        let report = try model.loadStateDict(tensors.filter { !Self.isOutput($0.key) }, strict: true)
        XCTAssertTrue(report.isClean, report.description)
        model.eval()
        let x = try XCTUnwrap(tensors["input"])
        let masks = try (0..<2).map { try XCTUnwrap(tensors["masks.\($0)"]) }
        let out = withoutGrad { model.outputs(x, frames: 3, masks: masks) }
        XCTAssertEqual(out.queries.map(\.shape), [[6, 4, 16], [6, 4, 16]])
        XCTAssertEqual(out.temporalFeatures.shape, [2, 3, 16])
        var worst: Float = 0
        for n in 0..<2 { worst = max(worst, worstDifference(out.queries[n], try XCTUnwrap(tensors["queries.\(n)"]))) }
        worst = max(worst, worstDifference(out.temporalFeatures, try XCTUnwrap(tensors["temporal_features"])))
        worst = max(worst, worstDifference(out.spatial, try XCTUnwrap(tensors["spatial"])))
        worst = max(worst, worstDifference(out.temporal, try XCTUnwrap(tensors["temporal"])))
        worst = max(worst, worstDifference(out.spatioTemporal, try XCTUnwrap(tensors["spatio_temporal"])))
        worst = max(worst, worstDifference(out.logits, try XCTUnwrap(tensors["logits"])))
        let guidance = try XCTUnwrap(out.guidance)
        worst = max(worst, abs(guidance.scalars[0] - (try XCTUnwrap(tensors["guidance"])).scalars[0]))
        print("DFD-FCG max abs difference from PyTorch: \(worst)")
        XCTAssertLessThan(worst, 1e-4)
        // The taped path (what training runs) gives the same logits.
        let taped = model(Tensor(x.scalars, shape: x.shape, requiresGrad: true), frames: 3)
        XCTAssertLessThan(worstDifference(taped, out.logits), 1e-5)
    }

    /// A still image scores as a clip of T copies of itself.
    func testAStillIsAClipOfCopies() {
        let model = tinyModel(seed: 4)
        model.eval()
        var random = SeededRandom(seed: 5)
        let x = Tensor.randn([2, 3, 32, 32], using: &random)
        let copies = Tensor.concatenate((0..<2).flatMap { i in Array(repeating: x.slice(axis: 0, i..<(i + 1)), count: 3) }, axis: 0)
        let (still, clip) = withoutGrad { (model.stillLogits(x), model(copies, frames: 3)) }
        XCTAssertEqual(still.shape, [2, 1])
        XCTAssertLessThan(worstDifference(still, clip), 1e-5)
    }

    /// The regions of an aligned face: disjoint, non-empty, the eyes around the eye points, the mouth below the nose.
    func testFacialRegions() {
        // FaceCropper's canonical five points for a 224 crop, normalised.
        let points: [(x: Float, y: Float)] = [(0.341, 0.461), (0.656, 0.459), (0.5, 0.640), (0.370, 0.824), (0.631, 0.823)]
        for side in [14, 7, 2] {
            let m = FacialRegions.masks(points: points, grid: side, side)
            let cells = side * side
            for c in 0..<4 { XCTAssertTrue(m[(c * cells)..<((c + 1) * cells)].contains(1), "region \(c) empty on \(side)") }
            guard side > 2 else { continue }   // on a 2 × 2 grid the fallback cells may be shared
            for i in 0..<cells { XCTAssertLessThanOrEqual((0..<4).map { m[$0 * cells + i] }.reduce(0, +), 1, "disjoint") }
        }
        let m = FacialRegions.masks(points: points, grid: 14, 14)
        func has(_ c: Int, _ x: Float, _ y: Float) -> Bool { m[c * 196 + Int(y * 14) * 14 + Int(x * 14)] == 1 }
        XCTAssertTrue(has(0, 0.341, 0.461) && has(0, 0.656, 0.459))
        XCTAssertTrue(has(1, 0.5, 0.640))
        XCTAssertTrue(has(2, 0.5, 0.824))
        XCTAssertTrue(has(3, 0.5, 0.3) && has(3, 0.25, 0.65), "forehead and cheek are skin")
        XCTAssertFalse((0..<4).contains { has($0, 0.02, 0.02) }, "the corner lies outside the face box")
        let tensors = DFDFCGNetwork.regionMasks(points: [points, points], patchCounts: [196, 49])
        XCTAssertEqual(tensors.map(\.shape), [[2, 4, 196], [2, 4, 49]])
    }

    /// The backbone is frozen and off the tape: the classification loss and the guidance term reach the token
    /// projections, decoders, temporal module and heads only; switching heads off changes the clip logit.
    func testGradientsAndAblations() {
        let model = tinyModel(seed: 6)
        model.train()
        model.freezeBackbone()
        let lite = model.tokens as! EfficientNetLiteTokens
        var random = SeededRandom(seed: 7)
        let x = Tensor.randn([6, 3, 32, 32], using: &random)
        let points: [(x: Float, y: Float)] = [(0.34, 0.46), (0.66, 0.46), (0.5, 0.64), (0.37, 0.82), (0.63, 0.82)]
        let masks = DFDFCGNetwork.regionMasks(points: Array(repeating: points, count: 6), patchCounts: [256, 64])
        let out = model.outputs(x, frames: 3, masks: masks)
        (out.logits.squared().mean() + out.guidance! * 0.15).backward()
        XCTAssertTrue(lite.trunk.namedParameters().allSatisfy { $0.1.grad == nil && !$0.1.requiresGrad })
        for p in [lite.proj[0].weight, lite.classTokens, model.decoders[1].queries, model.decoders[0].crossAttn.inProjWeight,
                  model.temporal.conv.weight, model.temporal.timeEmbedding, model.spatialHead.weight, model.temporalHead.weight,
                  model.spatioTemporalHead.weight] {
            XCTAssertNotNil(p.grad)
        }
        model.eval()
        let all = withoutGrad { model.outputs(x, frames: 3) }
        var config = Self.tinyConfig
        config.temporalHead = false
        config.spatioTemporalHead = false
        let spatialOnly = DFDFCGNetwork(tokens: model.tokens, config: config)
        _ = try? spatialOnly.loadStateDict(Dictionary(uniqueKeysWithValues: model.stateDict()), strict: true)
        spatialOnly.eval()
        XCTAssertLessThan(worstDifference(withoutGrad { spatialOnly(x, frames: 3) }, all.spatial), 1e-6)
    }

    /// The zoo configuration: Lite0 blocks 7, 10 and 14 (196 + 196 + 49 patch tokens at 224 px); the trainable part is
    /// counted in docs/ZOO.md.
    func testTheLite0Configuration() {
        let model = ParameterInit.withSeed(1) { DFDFCGNetwork(backbone: .lite0) }
        model.freezeBackbone()
        print("DFD-FCG Lite0 trainable parameters: \(model.parameterCount(trainableOnly: true))")
        XCTAssertEqual(model.parameterCount(trainableOnly: true), 797_443, "as docs/ZOO.md says")
        model.eval()
        let out = withoutGrad { model.outputs(Tensor.zeros([2, 3, 224, 224]), frames: 2) }
        XCTAssertEqual(out.logits.shape, [1, 1])
        XCTAssertTrue(out.logits.scalars[0].isFinite)
    }
}
