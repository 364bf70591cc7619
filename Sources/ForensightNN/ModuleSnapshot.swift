#if canImport(Glibc)
import Glibc
#endif
import ForensightTensor

/// The values of a module's state dict (weights and statistics) at one moment, to tell later whether any of them
/// changed: what a network compiled for inference checks before it is reused.
public struct ModuleSnapshot: @unchecked Sendable {
    let state: [(String, [Float])]

    /// Copies `module`'s current state.
    public init(_ module: Module) { state = module.stateDict().map { ($0.0, $0.1.scalars) } }

    /// Whether `module` has the same tensors, bit for bit, as when this was taken.
    public func matches(_ module: Module) -> Bool {
        let current = module.stateDict()
        guard current.count == state.count else { return false }
        for ((name, tensor), (oldName, old)) in zip(current, state) {
            guard name == oldName, tensor.count == old.count else { return false }
            if old.isEmpty { continue }
            let same = old.withUnsafeBytes { memcmp($0.baseAddress!, UnsafeRawPointer(tensor.data), $0.count) == 0 }
            if !same { return false }
        }
        return true
    }
}
