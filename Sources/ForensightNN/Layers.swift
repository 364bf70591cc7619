import ForensightTensor
import Synchronization

/// Where new layers draw their initial weights: a seeded generator, per task when set with `withSeed`, otherwise one
/// process-wide generator behind a lock.
///
/// Building modules in several tasks at once (a server loading models for concurrent requests) is safe either way;
/// `withSeed` also makes each task's weights independent of what other tasks build meanwhile. `seed(_:)` restarts the
/// process-wide generator (scripts and tests that build on one thread).
public enum ParameterInit {
    private static let shared = Mutex(SeededRandom(seed: 0x5EED))

    /// One task's generator (a task builds its modules sequentially, so it is never used from two threads at once).
    public final class TaskSource: @unchecked Sendable {
        var random: SeededRandom
        init(seed: UInt64) { random = SeededRandom(seed: seed) }
    }

    @TaskLocal private static var taskSource: TaskSource?

    /// Restarts the process-wide generator from `seed`.
    public static func seed(_ seed: UInt64) { shared.withLock { $0 = SeededRandom(seed: seed) } }

    /// Runs `body` with modules initialised from a generator of its own, started at `seed` (task-local: child tasks
    /// inherit it; other tasks are not affected).
    public static func withSeed<T>(_ seed: UInt64, _ body: () throws -> T) rethrows -> T {
        try $taskSource.withValue(TaskSource(seed: seed)) { try body() }
    }

    /// Calls `body` with the generator in force: the task's (`withSeed`) or the process-wide one, locked for the call.
    public static func draw<T>(_ body: (inout SeededRandom) -> T) -> T {
        if let source = taskSource { return body(&source.random) }
        return shared.withLock { body(&$0) }
    }

    /// U(−bound, bound), PyTorch's default for Linear/Conv (bound = 1/√fanIn).
    public static func uniform(_ shape: [Int], bound: Float) -> Tensor {
        draw { Tensor.uniform(shape, low: -bound, high: bound, using: &$0, requiresGrad: true) }
    }

    /// N(0, std²), e.g. position embeddings.
    public static func normal(_ shape: [Int], std: Float) -> Tensor {
        draw { Tensor.randn(shape, std: std, using: &$0, requiresGrad: true) }
    }
}

/// y = x·Wᵀ + b (PyTorch `nn.Linear`: `weight` [out, in], `bias` [out]).
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = ParameterInit.uniform([outFeatures, inFeatures], bound: bound)
        self.bias = bias ? ParameterInit.uniform([outFeatures], bound: bound) : nil
    }

    /// `x`: [..., in] → [..., out].
    public func callAsFunction(_ x: Tensor) -> Tensor { .linear(x, weight: weight, bias: bias) }
}

/// How a convolution pads its input.
public enum ConvPadding: Sendable, Equatable {
    /// Fixed per-side padding (PyTorch's `padding=`).
    case explicit(Padding2D)
    /// TensorFlow "SAME", computed from the input size at each call.
    case same
}

/// 2-D convolution (PyTorch `nn.Conv2d`: `weight` [out, in/groups, kh, kw], `bias` [out]).
public final class Conv2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: (Int, Int), dilation: (Int, Int), groups: Int
    public let padding: ConvPadding

    public init(_ inChannels: Int, _ outChannels: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: ConvPadding = .explicit(.zero), dilation: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = true) {
        precondition(inChannels % groups == 0 && outChannels % groups == 0, "channels not divisible by groups")
        let fanIn = inChannels / groups * kernel.0 * kernel.1
        let bound = 1 / Float(fanIn).squareRoot()
        weight = ParameterInit.uniform([outChannels, inChannels / groups, kernel.0, kernel.1], bound: bound)
        self.bias = bias ? ParameterInit.uniform([outChannels], bound: bound) : nil
        (self.stride, self.padding, self.dilation, self.groups) = (stride, padding, dilation, groups)
    }

    /// Square-kernel convenience: `Conv2d(3, 16, kernel: 3, stride: 2, padding: 1)`.
    public convenience init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                            groups: Int = 1, bias: Bool = true) {
        self.init(inChannels, outChannels, kernel: (kernel, kernel), stride: (stride, stride),
                  padding: .explicit(.symmetric(padding, padding)), groups: groups, bias: bias)
    }

    /// `x`: [N, C, H, W] → [N, O, H', W'].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        .conv2d(x, weight: weight, bias: bias, stride: stride, padding: resolvedPadding(for: x), dilation: dilation, groups: groups)
    }

    /// The per-side padding for input `x` ("same" depends on the input size).
    public func resolvedPadding(for x: Tensor) -> Padding2D {
        switch padding {
        case .explicit(let p): p
        case .same: .same(height: x.shape[2], width: x.shape[3], kernel: (weight.shape[2], weight.shape[3]),
                          stride: stride, dilation: dilation)
        }
    }
}

/// Batch normalization over channels (PyTorch `nn.BatchNorm2d`): batch statistics in training (updating running
/// averages with `momentum`), running statistics in evaluation.
public final class BatchNorm2d: Module {
    public let weight: Tensor, bias: Tensor
    public let runningMean: Tensor, runningVar: Tensor, numBatchesTracked: Tensor
    public let eps: Float, momentum: Float

    public init(_ channels: Int, eps: Float = 1e-5, momentum: Float = 0.1) {
        weight = .ones([channels], requiresGrad: true)
        bias = .zeros([channels], requiresGrad: true)
        runningMean = .zeros([channels]); runningVar = .ones([channels]); numBatchesTracked = .zeros([])
        (self.eps, self.momentum) = (eps, momentum)
    }

    override public var bufferKeys: Set<String> { ["running_mean", "running_var", "num_batches_tracked"] }
    override public var optionalKeys: Set<String> { ["num_batches_tracked"] }

    /// `x`: [N, C, ...] → same shape.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        if !isTraining {
            return Tensor.batchNorm(x, runningMean: runningMean, runningVar: runningVar, weight: weight, bias: bias, eps: eps).output
        }
        let (out, mean, variance) = Tensor.batchNorm(x, runningMean: nil, runningVar: nil, weight: weight, bias: bias, eps: eps)
        if let mean, let variance {
            for c in 0..<mean.count {
                runningMean.data[c] = (1 - momentum) * runningMean.data[c] + momentum * mean[c]
                runningVar.data[c] = (1 - momentum) * runningVar.data[c] + momentum * variance[c]
            }
            numBatchesTracked.data[0] += 1
        }
        return out
    }
}

/// Layer normalization over the last axis (PyTorch `nn.LayerNorm`).
public final class LayerNorm: Module {
    public let weight: Tensor?, bias: Tensor?
    public let eps: Float

    public init(_ features: Int, eps: Float = 1e-5, affine: Bool = true) {
        weight = affine ? .ones([features], requiresGrad: true) : nil
        bias = affine ? .zeros([features], requiresGrad: true) : nil
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { .layerNorm(x, weight: weight, bias: bias, eps: eps) }
}

/// Inverted dropout in training, identity in evaluation.
public final class Dropout: Module {
    public let p: Float
    private var rng: SeededRandom

    public init(_ p: Float, seed: UInt64 = 0xD20) { self.p = p; rng = SeededRandom(seed: seed) }

    public func callAsFunction(_ x: Tensor) -> Tensor { isTraining ? x.dropout(p, using: &rng) : x }

    /// Restarts the mask stream (trainers reseed per epoch so a resumed run draws the same masks).
    public func reseed(_ seed: UInt64) { rng = SeededRandom(seed: seed) }
}

/// Pointwise nonlinearities by name.
public enum Activation: String, Sendable, CaseIterable {
    case relu, relu6, gelu, quickGelu = "quick_gelu", silu, sigmoid, tanh, identity

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .relu: x.relu()
        case .relu6: x.relu6()
        case .gelu: x.gelu()
        case .quickGelu: x.quickGelu()
        case .silu: x.silu()
        case .sigmoid: x.sigmoid()
        case .tanh: x.tanh()
        case .identity: x
        }
    }
}

/// A stack of Linear layers with an activation between them (none after the last): keys `layers.0`, `layers.1`, ….
public final class MLP: Module {
    public let layers: [Linear]
    public let activation: Activation

    /// `sizes` = [in, hidden..., out].
    public init(_ sizes: [Int], activation: Activation = .gelu) {
        precondition(sizes.count >= 2, "MLP needs at least input and output sizes")
        layers = zip(sizes, sizes.dropFirst()).map { Linear($0, $1) }
        self.activation = activation
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for (i, layer) in layers.enumerated() { h = layer(h); if i < layers.count - 1 { h = activation(h) } }
        return h
    }
}
