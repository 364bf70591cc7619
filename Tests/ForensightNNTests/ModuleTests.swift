import XCTest
import Foundation
import ForensightTensor
import ForensightNN

final class ModuleTests: XCTestCase {
    func testStateDictKeysFollowPyTorchNames() {
        let layer = TransformerEncoderLayer(dModel: 8, heads: 2, feedForward: 16)
        let keys = layer.stateDict().map(\.0)
        XCTAssertEqual(Set(keys), ["self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
                                   "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
                                   "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"])
        let bn = BatchNorm2d(4)
        XCTAssertEqual(Set(bn.stateDict().map(\.0)), ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"])
        XCTAssertEqual(Set(bn.namedParameters().map(\.0)), ["weight", "bias"])
        let mlp = MLP([4, 8, 2])
        XCTAssertEqual(mlp.stateDict().map(\.0), ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"])
    }

    func testParameterCountsAndFreezing() {
        let mlp = MLP([4, 8, 2])
        XCTAssertEqual(mlp.parameterCount(), 4 * 8 + 8 + 8 * 2 + 2)
        mlp.freeze(where: { $0.hasPrefix("layers.0") })
        XCTAssertEqual(mlp.parameterCount(trainableOnly: true), 8 * 2 + 2)
        XCTAssertEqual(mlp.trainableParameters().count, 2)
        mlp.unfreeze()
        XCTAssertEqual(mlp.parameterCount(trainableOnly: true), mlp.parameterCount())
    }

    func testTrainAndEvalModesReachChildren() {
        let layer = TransformerEncoderLayer(dModel: 8, heads: 2, feedForward: 16)
        layer.eval()
        XCTAssertTrue(layer.namedModules.allSatisfy { !$0.1.isTraining })
        layer.train()
        XCTAssertTrue(layer.namedModules.allSatisfy { $0.1.isTraining })
    }

    func testStrictLoadingReportsMissingUnexpectedAndMisshapen() throws {
        let target = Linear(3, 2)
        let source: [String: Tensor] = ["weight": .zeros([2, 4]), "extra": .zeros([1])]
        XCTAssertThrowsError(try target.loadStateDict(source)) { error in
            let report = error as! StateDictReport
            XCTAssertEqual(report.missing, ["bias"])
            XCTAssertEqual(report.unexpected, ["extra"])
            XCTAssertEqual(report.mismatched.map(\.key), ["weight"])
            XCTAssertTrue(report.description.contains("weight model [2, 3] checkpoint [2, 4]"), report.description)
        }
        let before = target.weight.scalars
        let report = try target.loadStateDict(["bias": Tensor([5, 6]), "weight": .zeros([2, 4])], strict: false)
        XCTAssertEqual(target.bias!.scalars, [5, 6])
        XCTAssertEqual(target.weight.scalars, before, "a mis-shaped tensor is not loaded")
        XCTAssertFalse(report.isClean)
    }

    func testSafetensorsRoundTripThroughModules() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-module-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = TinyConvNet(), b = TinyConvNet()
        let path = dir.appendingPathComponent("m.safetensors").path
        try a.save(safetensors: path, metadata: ["model": "tiny"])
        XCTAssertEqual(try SafetensorsFile(path: path).metadata["model"], "tiny")
        try b.load(safetensors: path)
        for ((ka, ta), (kb, tb)) in zip(a.stateDict(), b.stateDict()) {
            XCTAssertEqual(ka, kb); XCTAssertEqual(ta.scalars, tb.scalars, ka)
        }
    }

    func testBatchNormUpdatesRunningStatisticsInTraining() {
        let bn = BatchNorm2d(2, momentum: 0.5)
        let x = Tensor([1, 3, 10, 10, 5, 7, 20, 20], shape: [2, 2, 2, 1])
        _ = bn(x)
        // channel 0 holds 1, 3, 5, 7: mean 4, unbiased variance 20/3
        XCTAssertEqual(bn.runningMean.data[0], 0.5 * 0 + 0.5 * 4, accuracy: 1e-5)
        XCTAssertEqual(bn.runningVar.data[0], 0.5 * 1 + 0.5 * 20 / 3, accuracy: 1e-4)
        XCTAssertEqual(bn.numBatchesTracked.item, 1)
        bn.eval()
        let before = bn.runningMean.scalars
        _ = bn(x)
        XCTAssertEqual(bn.runningMean.scalars, before)
    }

    func testDropoutIsIdentityInEvaluation() {
        let d = Dropout(0.5)
        let x = Tensor.ones([100])
        d.eval()
        XCTAssertEqual(d(x).scalars, x.scalars)
        d.train()
        XCTAssertTrue(d(x).scalars.contains(0))
    }

    func testSamePaddingConvKeepsCeilExtent() {
        let conv = Conv2d(3, 4, kernel: (3, 3), stride: (2, 2), padding: .same)
        XCTAssertEqual(conv(Tensor.zeros([1, 3, 11, 12])).shape, [1, 4, 6, 6])
    }
}

/// Initial weights drawn per task (`ParameterInit.withSeed`) or from the locked process-wide generator.
final class ParameterInitTests: XCTestCase {
    func weights(_ m: Linear) -> [Float] { m.weight.scalars + (m.bias?.scalars ?? []) }

    func testATaskSeedGivesTheSameWeightsWhateverOtherTasksBuild() async {
        let expected = ParameterInit.withSeed(5) { weights(Linear(16, 8)) }
        XCTAssertEqual(ParameterInit.withSeed(5) { weights(Linear(16, 8)) }, expected)
        XCTAssertNotEqual(ParameterInit.withSeed(6) { weights(Linear(16, 8)) }, expected)
        // Eight tasks build at once, four of them with seed 5 and four from the shared generator.
        let results = await withTaskGroup(of: (Bool, [Float]).self) { group in
            for i in 0..<8 {
                group.addTask {
                    if i % 2 == 0 { return (true, ParameterInit.withSeed(5) { (0..<20).map { _ in Linear(16, 8) }.map(self.weights).first! }) }
                    return (false, (0..<20).map { _ in Linear(16, 8) }.map(self.weights).first!)
                }
            }
            var out: [(Bool, [Float])] = []
            for await r in group { out.append(r) }
            return out
        }
        for (seeded, w) in results where seeded { XCTAssertEqual(w, expected) }
        XCTAssertEqual(results.filter { !$0.0 }.count, 4)
    }

    func testTaskSeedsLeaveTheSharedGeneratorAlone() {
        ParameterInit.seed(9)
        let first = weights(Linear(4, 3))
        ParameterInit.seed(9)
        _ = ParameterInit.withSeed(1) { Linear(64, 64) }
        XCTAssertEqual(weights(Linear(4, 3)), first)
    }
}

/// Weight changes are tracked per module tree (`stateVersion`), so one model's training does not invalidate another's
/// compiled cache.
final class StateVersionTests: XCTestCase {
    final class Pair: Module { let a = Linear(3, 2), b = Linear(2, 1) }

    func testChangesMoveTheirOwnTreeOnly() throws {
        let one = Pair(), other = Pair()
        let (v1, v2) = (one.stateVersion, other.stateVersion)
        one.b.markStateChanged()
        XCTAssertGreaterThan(one.stateVersion, v1, "a child's change did not reach its root")
        XCTAssertEqual(other.stateVersion, v2, "another model's change moved this one")
        let v = one.stateVersion
        one.train(false)
        XCTAssertGreaterThan(one.stateVersion, v, "a mode switch did not count")
        let w = one.stateVersion
        try one.loadStateDict(Dictionary(uniqueKeysWithValues: other.stateDict()))
        XCTAssertGreaterThan(one.stateVersion, w, "a load did not count")
        XCTAssertEqual(other.stateVersion, v2)
    }
}
