import Foundation

/// A learning rate as a function of the optimizer step (0-based).
public protocol LearningRateSchedule {
    func learningRate(at step: Int) -> Float
}

/// Multiplies the base rate by `gamma` every `stepSize` steps (PyTorch `StepLR`).
public struct StepSchedule: LearningRateSchedule {
    public let base: Float, stepSize: Int, gamma: Float
    public init(base: Float, stepSize: Int, gamma: Float = 0.1) {
        precondition(stepSize > 0, "stepSize must be positive")
        (self.base, self.stepSize, self.gamma) = (base, stepSize, gamma)
    }
    public func learningRate(at step: Int) -> Float { base * Foundation.pow(gamma, Float(step / stepSize)) }
}

/// Linear warm-up from 0 to `base` over `warmupSteps`, then cosine decay to `minimum` at `totalSteps`:
/// η(t) = min + ½(base − min)(1 + cos(π·(t − w)/(T − w))).
public struct CosineWithWarmup: LearningRateSchedule {
    public let base: Float, minimum: Float, warmupSteps: Int, totalSteps: Int
    public init(base: Float, warmupSteps: Int, totalSteps: Int, minimum: Float = 0) {
        precondition(totalSteps > warmupSteps && warmupSteps >= 0, "need totalSteps > warmupSteps ≥ 0")
        (self.base, self.minimum, self.warmupSteps, self.totalSteps) = (base, minimum, warmupSteps, totalSteps)
    }
    public func learningRate(at step: Int) -> Float {
        if step < warmupSteps { return base * Float(step + 1) / Float(warmupSteps) }
        let progress = Float(Swift.min(step, totalSteps) - warmupSteps) / Float(totalSteps - warmupSteps)
        return minimum + 0.5 * (base - minimum) * (1 + Foundation.cos(Float.pi * progress))
    }
}
