/// An n-dimensional, contiguous, row-major `Float32` array that records the operations made on it
/// for reverse-mode automatic differentiation.
///
/// Tensors are reference types: a tensor's values may be updated in place (optimizers, weight loading),
/// its shape never changes. Every op returns a new tensor; `reshape` shares storage.
///
/// ```swift
/// let x = Tensor([1, 2, 3, 4], shape: [2, 2], requiresGrad: true)
/// let y = (x * x).sum()
/// y.backward()            // x.grad == 2 * x
/// ```
public final class Tensor: @unchecked Sendable {
    /// Extent of each axis.
    public let shape: [Int]
    /// The values, row-major.
    public let storage: TensorStorage
    /// Whether gradients flow to this tensor. Leaves with `requiresGrad` receive `grad` on `backward()`.
    public var requiresGrad: Bool
    /// Accumulated gradient (same shape), set by `backward()` on leaves.
    public var grad: Tensor?
    /// The op that produced this tensor, when it was recorded on the tape.
    var gradNode: GradNode?

    /// Wraps existing storage (no copy). `storage.count` must equal the product of `shape`.
    public init(storage: TensorStorage, shape: [Int], requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(storage.count == shape.reduce(1, *), "storage of \(storage.count) elements for shape \(shape)")
        self.shape = shape
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// Uninitialised tensor of `shape` (for kernels that write every element).
    public convenience init(uninitializedShape shape: [Int]) {
        self.init(storage: TensorStorage(count: shape.reduce(1, *)), shape: shape)
    }

    /// A tensor holding `values` (row-major) with `shape`.
    public convenience init(_ values: [Float], shape: [Int], requiresGrad: Bool = false) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        let storage = TensorStorage(count: values.count)
        values.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: values.count) }
        self.init(storage: storage, shape: shape, requiresGrad: requiresGrad)
    }

    /// A one-dimensional tensor.
    public convenience init(_ values: [Float], requiresGrad: Bool = false) {
        self.init(values, shape: [values.count], requiresGrad: requiresGrad)
    }

    /// A scalar (rank-0) tensor.
    public convenience init(scalar: Float, requiresGrad: Bool = false) {
        self.init([scalar], shape: [], requiresGrad: requiresGrad)
    }

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    /// Number of axes.
    @inlinable public var rank: Int { shape.count }
    /// First element pointer (read/write; mutate only tensors you own).
    @inlinable public var data: UnsafeMutablePointer<Float> { storage.pointer }

    /// The values as an array (copy).
    public var scalars: [Float] { Array(storage.buffer) }

    /// The single value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item() on a tensor of shape \(shape)")
        return storage.pointer[0]
    }

    /// Value at a multi-index.
    public subscript(index: Int...) -> Float {
        precondition(index.count == rank, "index rank \(index.count) for shape \(shape)")
        var offset = 0
        for (i, d) in zip(index, shape) { precondition(i >= 0 && i < d, "index \(index) out of \(shape)"); offset = offset * d + i }
        return storage.pointer[offset]
    }

    /// Row-major strides of `shape`.
    public static func strides(of shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) { strides[axis] = running; running *= shape[axis] }
        return strides
    }

    /// Normalises a possibly negative axis.
    public func axis(_ axis: Int) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < Swift.max(rank, 1), "axis \(axis) out of range for shape \(shape)")
        return a
    }

    /// A copy of the values that is not connected to the tape.
    public func detached() -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        out.data.update(from: data, count: count)
        return out
    }

    /// A tensor sharing this storage but cut from the tape (no copy).
    public func detach() -> Tensor { Tensor(storage: storage, shape: shape) }

    /// Copies values from `source` (same element count) into this tensor in place, outside the tape.
    public func assign(_ source: Tensor) {
        precondition(source.count == count, "assign \(source.shape) into \(shape)")
        data.update(from: source.data, count: count)
    }

    /// Clears the accumulated gradient.
    public func zeroGrad() { grad = nil }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(preview)\(count > 8 ? ", …" : "")])"
    }
}
