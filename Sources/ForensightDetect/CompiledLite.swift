import Foundation
import ForensightNN
import ForensightModels

/// An EfficientNet-Lite module compiled for inference (`EfficientNetLiteInference`: folded BatchNorm, channel-blocked
/// layout), built on first use and rebuilt whenever the module's weights have changed since (e.g. by training between
/// two validations). The weights are compared only when the module's `stateVersion` has moved since the last
/// comparison, so a change made by writing to a tensor's storage directly must be announced with
/// `markStateChanged()` on the module. Safe to share between threads.
final class CompiledLite: @unchecked Sendable {
    private let lock = NSLock()
    private var compiled: EfficientNetLiteInference?
    /// The module's `stateVersion` when `compiled` was last found current.
    private var checkedGeneration = -1

    /// Whether every part of `network` is in evaluation mode: only then does the compiled network compute what the
    /// module computes.
    static func evaluating(_ network: Module) -> Bool { network.namedModules.allSatisfy { !$0.1.isTraining } }

    /// `network` compiled, current with its weights. Comparing every weight costs about half a batch-1 forward pass,
    /// so it is done only when the network's state may have changed since the last check.
    func current(for network: EfficientNetLite) -> EfficientNetLiteInference { current(of: network) { EfficientNetLiteInference(network) } }

    /// `trunk` (M2TR's backbone) compiled, current with its weights; only `trunkMap` runs on it.
    func current(for trunk: EfficientNetLiteTrunk) -> EfficientNetLiteInference { current(of: trunk) { EfficientNetLiteInference(trunk: trunk) } }

    private func current(of module: Module, compile: () -> EfficientNetLiteInference) -> EfficientNetLiteInference {
        lock.lock()
        defer { lock.unlock() }
        let generation = module.stateVersion
        if let compiled, generation == checkedGeneration || compiled.matches(module) {
            checkedGeneration = generation
            return compiled
        }
        let fresh = compile()
        (compiled, checkedGeneration) = (fresh, generation)
        return fresh
    }
}
