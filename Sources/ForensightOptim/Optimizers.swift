import Foundation
import ForensightTensor

/// A first-order optimizer updating parameters in place from their `grad`.
public protocol Optimizer: AnyObject {
    /// The tensors this optimizer updates.
    var parameters: [Tensor] { get }
    /// Current learning rate (schedules set it before each step).
    var learningRate: Float { get set }
    /// Applies one update from the accumulated gradients.
    func step()
}

extension Optimizer {
    /// Clears every parameter's gradient.
    public func zeroGrad() { for p in parameters { p.grad = nil } }
}

/// Per-parameter state buffers, keyed by identity.
struct SlotStore {
    fileprivate(set) var slots: [ObjectIdentifier: Tensor] = [:]
    mutating func slot(for p: Tensor) -> Tensor {
        if let s = slots[ObjectIdentifier(p)] { return s }
        let s = Tensor.zeros(p.shape); slots[ObjectIdentifier(p)] = s; return s
    }
}

/// Stochastic gradient descent with optional momentum (PyTorch semantics), Nesterov momentum and L2 weight decay:
/// g ← g + λθ; b ← μb + g; θ ← θ − η·(nesterov ? g + μb : b).
public final class SGD: Optimizer {
    public let parameters: [Tensor]
    public var learningRate: Float
    public let momentum: Float, nesterov: Bool, weightDecay: Float
    private var velocity = SlotStore()
    private var started = Set<ObjectIdentifier>()

    public init(_ parameters: [Tensor], learningRate: Float, momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0) {
        precondition(!nesterov || momentum > 0, "Nesterov momentum needs momentum > 0")
        (self.parameters, self.learningRate, self.momentum, self.nesterov, self.weightDecay) =
            (parameters, learningRate, momentum, nesterov, weightDecay)
    }

    public func step() {
        for p in parameters {
            guard let g = p.grad else { continue }
            let v = velocity.slot(for: p)
            let first = started.insert(ObjectIdentifier(p)).inserted
            for i in 0..<p.count {
                var d = g.data[i] + weightDecay * p.data[i]
                if momentum != 0 {
                    v.data[i] = first ? d : momentum * v.data[i] + d
                    d = nesterov ? d + momentum * v.data[i] : v.data[i]
                }
                p.data[i] -= learningRate * d
            }
        }
    }
}

/// Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019):
/// m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; θ ← θ − η·m̂/(√v̂ + ε), with bias-corrected m̂, v̂.
/// Adam adds weight decay to the gradient (L2); AdamW decays the weights directly: θ ← θ(1 − ηλ).
public final class Adam: Optimizer {
    public let parameters: [Tensor]
    public var learningRate: Float
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float, decoupled: Bool
    fileprivate var m = SlotStore(), v = SlotStore()
    fileprivate var steps: [ObjectIdentifier: Int] = [:]

    public init(_ parameters: [Tensor], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999), eps: Float = 1e-8,
                weightDecay: Float = 0, decoupled: Bool = false) {
        (self.parameters, self.learningRate, beta1, beta2, self.eps, self.weightDecay, self.decoupled) =
            (parameters, learningRate, betas.0, betas.1, eps, weightDecay, decoupled)
    }

    public func step() {
        for p in parameters {
            guard let g = p.grad else { continue }
            let t = (steps[ObjectIdentifier(p)] ?? 0) + 1
            steps[ObjectIdentifier(p)] = t
            let mt = m.slot(for: p), vt = v.slot(for: p)
            let c1 = 1 - Foundation.pow(beta1, Float(t)), c2 = 1 - Foundation.pow(beta2, Float(t))
            for i in 0..<p.count {
                var gi = g.data[i]
                if decoupled { p.data[i] *= 1 - learningRate * weightDecay } else { gi += weightDecay * p.data[i] }
                mt.data[i] = beta1 * mt.data[i] + (1 - beta1) * gi
                vt.data[i] = beta2 * vt.data[i] + (1 - beta2) * gi * gi
                p.data[i] -= learningRate * (mt.data[i] / c1) / ((vt.data[i] / c2).squareRoot() + eps)
            }
        }
    }
}

/// AdamW: Adam with decoupled weight decay (default λ = 0.01, as PyTorch).
public func AdamW(_ parameters: [Tensor], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
                  eps: Float = 1e-8, weightDecay: Float = 0.01) -> Adam {
    Adam(parameters, learningRate: learningRate, betas: betas, eps: eps, weightDecay: weightDecay, decoupled: true)
}

/// Rescales all gradients so their global L2 norm is at most `maxNorm` (PyTorch `clip_grad_norm_`).
/// Returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    var total: Double = 0
    for p in parameters { if let g = p.grad { for i in 0..<g.count { total += Double(g.data[i] * g.data[i]) } } }
    let norm = Float(total.squareRoot())
    let scale = maxNorm / (norm + 1e-6)
    if scale < 1 { for p in parameters { if let g = p.grad { for i in 0..<g.count { g.data[i] *= scale } } } }
    return norm
}

extension Adam {
    /// The optimizer's state as named tensors for a checkpoint: `m.<i>`, `v.<i>` and the step count `t.<i>` of
    /// parameter i (in `parameters` order) that has taken a step.
    public func stateTensors() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (i, p) in parameters.enumerated() {
            let id = ObjectIdentifier(p)
            guard let t = steps[id], let mt = m.slots[id], let vt = v.slots[id] else { continue }
            (out["m.\(i)"], out["v.\(i)"], out["t.\(i)"]) = (mt, vt, Tensor([Float(t)], shape: [1]))
        }
        return out
    }

    /// Restores state written by `stateTensors()` for the same parameter list.
    public func loadState(_ tensors: [String: Tensor]) throws {
        for (i, p) in parameters.enumerated() {
            guard let t = tensors["t.\(i)"], let mt = tensors["m.\(i)"], let vt = tensors["v.\(i)"] else { continue }
            guard mt.shape == p.shape, vt.shape == p.shape else {
                throw OptimizerStateError(description: "optimizer state for parameter \(i) has shape \(mt.shape), expected \(p.shape)")
            }
            let id = ObjectIdentifier(p)
            m.slot(for: p).assign(mt); v.slot(for: p).assign(vt)
            steps[id] = Int(t.data[0])
        }
    }
}

/// An optimizer checkpoint that does not fit the model.
public struct OptimizerStateError: Error, CustomStringConvertible { public let description: String }
