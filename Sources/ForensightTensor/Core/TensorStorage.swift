#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A 64-byte aligned buffer of `Float32` values owned by one or more tensors.
///
/// Storage is a reference type so that `reshape` and in-place optimizer updates share memory.
public final class TensorStorage: @unchecked Sendable {
    /// First element.
    public let pointer: UnsafeMutablePointer<Float>
    /// Number of elements.
    public let count: Int

    /// Allocates `count` uninitialised elements (use `zeroed:` for zeros).
    public init(count: Int, zeroed: Bool = false) {
        precondition(count >= 0, "negative storage size")
        var raw: UnsafeMutableRawPointer?
        let bytes = Swift.max(count, 1) * MemoryLayout<Float>.stride
        let status = posix_memalign(&raw, 64, (bytes + 63) & ~63)
        precondition(status == 0 && raw != nil, "out of memory allocating \(bytes) bytes")
        pointer = raw!.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
        self.count = count
        if zeroed { pointer.initialize(repeating: 0, count: count) }
    }

    deinit { free(pointer) }

    /// The elements as a buffer pointer.
    @inlinable public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }
}
