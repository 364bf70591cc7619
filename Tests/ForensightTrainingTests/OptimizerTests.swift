import XCTest
import Foundation
import ForensightTensor
import ForensightTraining
import ForensightOptim

/// Optimizers, clipping and schedules against PyTorch trajectories
/// (fixtures from scripts/reference/make_optimizer_fixtures.py).
final class OptimizerTests: XCTestCase {
    static let reference: [String: Any] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/optimizers.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()

    func floats(_ any: Any?) -> [Float] { (any as! [Double]).map(Float.init) }

    func makeOptimizer(_ name: String, _ p: Tensor) -> Optimizer {
        switch name {
        case "sgd": SGD([p], learningRate: 0.1)
        case "sgd_momentum_wd": SGD([p], learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        case "sgd_nesterov": SGD([p], learningRate: 0.05, momentum: 0.8, nesterov: true)
        case "adam": Adam([p], learningRate: 0.01)
        case "adam_l2": Adam([p], learningRate: 0.01, weightDecay: 0.1)
        case "adamw": AdamW([p], learningRate: 0.01, betas: (0.8, 0.95), eps: 1e-6, weightDecay: 0.1)
        default: fatalError("unknown optimizer \(name)")
        }
    }

    func testOptimizersFollowPyTorchTrajectories() {
        let ref = Self.reference
        let grads = (ref["grads"] as! [Any]).map(floats)
        let optimizers = ref["optimizers"] as! [String: [String: Any]]
        XCTAssertEqual(optimizers.count, 6)
        for (name, spec) in optimizers {
            let p = Tensor(floats(ref["p0"]), requiresGrad: true)
            let opt = makeOptimizer(name, p)
            for (step, expected) in (spec["trajectory"] as! [Any]).map(floats).enumerated() {
                p.grad = Tensor(grads[step])
                opt.step()
                for i in 0..<p.count {
                    XCTAssertEqual(p.data[i], expected[i], accuracy: 1e-5 * Swift.max(1, Swift.abs(expected[i])), "\(name) step \(step)")
                }
            }
            opt.zeroGrad()
            XCTAssertNil(p.grad)
        }
    }

    func testGradientClippingMatchesPyTorch() {
        let clip = Self.reference["clip"] as! [String: Any]
        let gin = (clip["grads_in"] as! [Any]).map(floats), gout = (clip["grads_out"] as! [Any]).map(floats)
        let ps = gin.map { g -> Tensor in let p = Tensor.zeros([g.count], requiresGrad: true); p.grad = Tensor(g); return p }
        let norm = clipGradientNorm(ps, maxNorm: Float(clip["max_norm"] as! Double))
        XCTAssertEqual(norm, Float(clip["norm"] as! Double), accuracy: 1e-4)
        for (p, expected) in zip(ps, gout) { for i in 0..<p.count { XCTAssertEqual(p.grad!.data[i], expected[i], accuracy: 1e-5) } }
    }

    func testSchedulesMatchPyTorch() {
        let s = Self.reference["schedules"] as! [String: [String: Any]]
        let step = StepSchedule(base: 0.5, stepSize: 3, gamma: 0.5)
        for (t, lr) in floats(s["step"]!["lrs"]).enumerated() { XCTAssertEqual(step.learningRate(at: t), lr, accuracy: 1e-6) }
        let cosine = CosineWithWarmup(base: 1, warmupSteps: 3, totalSteps: 10, minimum: 0.1)
        for (t, lr) in floats(s["cosine"]!["lrs"]).enumerated() { XCTAssertEqual(cosine.learningRate(at: t), lr, accuracy: 1e-6, "step \(t)") }
    }

    func testAdamWTrainsASmallRegression() {
        // y = 3x − 1 learned from 32 points: the loss must fall by two orders of magnitude.
        var rng = SeededRandom(seed: 9)
        let x = Tensor.randn([32, 1], using: &rng)
        let y = x * 3 - 1
        let w = Tensor.zeros([1, 1], requiresGrad: true), b = Tensor.zeros([1], requiresGrad: true)
        let opt = AdamW([w, b], learningRate: 0.1, weightDecay: 0)
        var first: Float = 0, last: Float = 0
        for i in 0..<200 {
            opt.zeroGrad()
            let loss = Tensor.mseLoss(Tensor.linear(x, weight: w, bias: b), y)
            loss.backward()
            opt.step()
            if i == 0 { first = loss.item }
            last = loss.item
        }
        XCTAssertLessThan(last, first / 100)
        XCTAssertEqual(w.item, 3, accuracy: 0.05)
    }
}
