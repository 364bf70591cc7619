import ForensightTensor
import Synchronization

/// Base class of layers and models.
///
/// Parameters are stored properties of type `Tensor` (or `Tensor?`); children are stored properties of type
/// `Module`, `Module?` or `[Module]`. Both are found by reflection, and named like PyTorch's `state_dict`:
/// the property name in snake_case (`runningMean` → `running_mean`, `layers[2].fc` → `layers.2.fc`), unless
/// `checkpointKeys` maps it to another key. Buffers (saved but not trained, e.g. BatchNorm's running statistics)
/// are the tensors named in `bufferKeys`.
///
/// ```swift
/// final class TinyNet: Module {
///     let fc1 = Linear(4, 8), fc2 = Linear(8, 2)
///     func callAsFunction(_ x: Tensor) -> Tensor { fc2(fc1(x).relu()) }
/// }
/// ```
open class Module {
    /// Training mode (batch statistics, dropout) versus evaluation mode.
    public private(set) var isTraining = true
    /// Bumped whenever this module's own weights may have changed (see `stateVersion`).
    private let version = Atomic<Int>(0)

    public init() {}

    /// Property name → checkpoint key, where the snake_case rule does not give the right key.
    open var checkpointKeys: [String: String] { [:] }

    /// Checkpoint keys of tensors that are buffers (saved and loaded, never trained).
    open var bufferKeys: Set<String> { [] }

    /// Checkpoint keys a checkpoint may lack without being reported missing (e.g. BatchNorm's `num_batches_tracked`,
    /// which many converters drop and PyTorch itself fills in).
    open var optionalKeys: Set<String> { [] }

    /// Stored properties of subclasses, in declaration order (the base class's own state excluded).
    private var storedProperties: [(String, Any)] {
        var chain: [Mirror] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        while let m = mirror, m.subjectType != Module.self { chain.append(m); mirror = m.superclassMirror }
        return chain.reversed().flatMap { m in m.children.compactMap { c in c.label.map { ($0, c.value) } } }
    }

    private func key(for property: String) -> String {
        if let k = checkpointKeys[property] { return k }
        var out = ""
        for ch in property.hasPrefix("_") ? String(property.dropFirst()) : property {
            if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) }
        }
        return out
    }

    /// Direct tensors (parameters and buffers) with their keys.
    public var ownTensors: [(String, Tensor)] {
        storedProperties.compactMap { name, value in (value as? Tensor).map { (key(for: name), $0) } }
    }

    /// Direct children with their keys (`[Module]` properties contribute `name.0`, `name.1`, …).
    public var children: [(String, Module)] {
        storedProperties.flatMap { name, value -> [(String, Module)] in
            if let m = value as? Module { return [(key(for: name), m)] }
            if let list = value as? [Module] { return list.enumerated().map { ("\(key(for: name)).\($0.offset)", $0.element) } }
            return []
        }
    }

    /// Every module in the tree with its dotted path ("" for self), depth first.
    public var namedModules: [(String, Module)] {
        [("", self)] + children.flatMap { name, child in child.namedModules.map { ($0.0.isEmpty ? name : "\(name).\($0.0)", $0.1) } }
    }

    /// Every tensor (parameters and buffers) with its dotted `state_dict` key.
    public func stateDict() -> [(String, Tensor)] {
        namedModules.flatMap { path, m in m.ownTensors.map { (path.isEmpty ? $0.0 : "\(path).\($0.0)", $0.1) } }
    }

    /// Trainable-shaped tensors (everything but buffers) with their dotted keys.
    public func namedParameters() -> [(String, Tensor)] {
        namedModules.flatMap { path, m in
            m.ownTensors.filter { !m.bufferKeys.contains($0.0) }.map { (path.isEmpty ? $0.0 : "\(path).\($0.0)", $0.1) }
        }
    }

    /// Parameters that currently receive gradients (not frozen).
    public func trainableParameters() -> [Tensor] { namedParameters().map(\.1).filter(\.requiresGrad) }

    /// Number of parameter values (all, or only trainable ones).
    public func parameterCount(trainableOnly: Bool = false) -> Int {
        namedParameters().filter { !trainableOnly || $0.1.requiresGrad }.reduce(0) { $0 + $1.1.count }
    }

    /// Sets training (true) or evaluation (false) mode on the whole tree.
    public func train(_ on: Bool = true) {
        for (_, m) in namedModules { m.isTraining = on; m.markStateChanged() }
    }

    /// A counter for this tree, moved whenever some of its weights may have changed: on every switch of training
    /// mode (training changes weights between the switches), on every state-dict load, and by `markStateChanged()`
    /// on any module of the tree. A cache of compiled weights (`DeepfakeDetector`'s compiled network) re-reads the
    /// weights only when it has moved, instead of on every call; changes to other models do not move it.
    public var stateVersion: Int { namedModules.reduce(0) { $0 &+ $1.1.version.load(ordering: .sequentiallyConsistent) } }

    /// Announces a change made to this module's weights outside training mode and state-dict loading (e.g. writing
    /// to a tensor's storage directly), so caches of compiled weights check them again.
    public func markStateChanged() { version.add(1, ordering: .sequentiallyConsistent) }

    /// Evaluation mode on the whole tree.
    public func eval() { train(false) }

    /// Stops gradients to every parameter of this tree (optionally only those whose key passes `filter`).
    public func freeze(where filter: (String) -> Bool = { _ in true }) { setTrainable(false, filter) }

    /// Lets gradients reach every parameter of this tree (optionally only those whose key passes `filter`).
    public func unfreeze(where filter: (String) -> Bool = { _ in true }) { setTrainable(true, filter) }

    private func setTrainable(_ on: Bool, _ filter: (String) -> Bool) {
        for (k, p) in namedParameters() where filter(k) { p.requiresGrad = on }
    }
}
