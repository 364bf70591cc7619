/// One recorded op on the tape: its inputs and the function mapping the output's gradient to theirs.
final class GradNode {
    let inputs: [Tensor]
    /// Given dL/d(output), returns dL/d(input) for each input (nil where none flows).
    let backward: (Tensor) -> [Tensor?]
    init(inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.inputs = inputs
        self.backward = backward
    }
}

/// The switch for recording ops. Inference runs with recording off, so it pays no tape overhead.
///
/// The switch is task-local (outside a task: thread-local), so `withoutGrad` in one request never turns off the
/// tape of another running at the same time (a Grad-CAM beside a batch of detections, say).
public enum GradMode {
    @TaskLocal static var disabled = false

    /// Whether ops are currently recorded on this task or thread.
    public static var isEnabled: Bool { !disabled }
}

/// Runs `body` without recording ops on the tape (inference, optimizer updates), for the current task or thread only.
@discardableResult
public func withoutGrad<T>(_ body: () throws -> T) rethrows -> T {
    try GradMode.$disabled.withValue(true) { try body() }
}

extension Tensor {
    /// Records `output = op(inputs)` with its backward function when any input needs a gradient.
    /// Returns `output` for chaining.
    @discardableResult
    func recorded(_ inputs: [Tensor], _ backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return self }
        requiresGrad = true
        gradNode = GradNode(inputs: inputs, backward: backward)
        return self
    }

    /// Reverse-mode differentiation from this tensor.
    ///
    /// `seed` is dL/d(self); it defaults to ones (so a scalar loss needs none). Gradients accumulate into the
    /// `grad` of every leaf with `requiresGrad` (call `zeroGrad()` or an optimizer's `zeroGrad()` between steps).
    public func backward(_ seed: Tensor? = nil) {
        precondition(requiresGrad, "backward() on a tensor that does not require grad")
        let seed = seed ?? Tensor.ones(shape)
        precondition(seed.shape == shape, "seed shape \(seed.shape) for output \(shape)")
        // Topological order by iterative depth-first search.
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded { order.append(node); continue }
            if !visited.insert(ObjectIdentifier(node)).inserted { continue }
            stack.append((node, true))
            for input in node.gradNode?.inputs ?? [] where input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seed]
        withoutGrad {
            for node in order.reversed() {
                guard let g = grads.removeValue(forKey: ObjectIdentifier(node)) else { continue }
                guard let fn = node.gradNode else {
                    node.grad = node.grad.map { $0 + g } ?? g.detached()
                    continue
                }
                let inputGrads = fn.backward(g)
                for (input, ig) in zip(fn.inputs, inputGrads) where input.requiresGrad {
                    guard let ig else { continue }
                    precondition(ig.shape == input.shape, "gradient \(ig.shape) for input \(input.shape)")
                    let key = ObjectIdentifier(input)
                    grads[key] = grads[key].map { $0 + ig } ?? ig
                }
            }
        }
    }
}
