#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A 64-byte aligned buffer of `Float32` values owned by one or more tensors.
///
/// Storage is a reference type so that `reshape` and in-place optimizer updates share memory. Large buffers are
/// recycled through `StoragePool`, so a forward pass that allocates the same activation sizes every call does not
/// pay page faults every call.
public final class TensorStorage: @unchecked Sendable {
    /// First element.
    public let pointer: UnsafeMutablePointer<Float>
    /// Number of elements.
    public let count: Int
    private let capacity: Int

    /// Allocates `count` uninitialised elements (use `zeroed:` for zeros).
    public init(count: Int, zeroed: Bool = false) {
        precondition(count >= 0, "negative storage size")
        self.count = count
        (pointer, capacity) = StoragePool.shared.take(count)
        if zeroed { pointer.initialize(repeating: 0, count: count) }
    }

    deinit { StoragePool.shared.give(pointer, capacity: capacity) }

    /// The elements as a buffer pointer.
    @inlinable public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }
}

/// Free lists of large float buffers by capacity (rounded up to 1024 elements), bounded in total size: a buffer
/// given back to a full pool is freed.
final class StoragePool: @unchecked Sendable {
    static let shared = StoragePool()
    /// Buffers smaller than this many elements go straight to malloc.
    static let minimumPooled = 4096
    /// The default limit of idle bytes.
    static let defaultIdleLimit = 1 << 30

    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var idleBytes = 0
    private var idleLimit = StoragePool.defaultIdleLimit
    private var mutex = pthread_mutex_t()

    init() { pthread_mutex_init(&mutex, nil) }

    /// The most bytes kept idle; lowering it releases idle buffers at once.
    var maximumIdleBytes: Int {
        get { pthread_mutex_lock(&mutex); defer { pthread_mutex_unlock(&mutex) }; return idleLimit }
        set {
            pthread_mutex_lock(&mutex)
            idleLimit = Swift.max(0, newValue)
            if idleBytes > idleLimit { releaseIdle() }
            pthread_mutex_unlock(&mutex)
        }
    }

    /// Frees every idle buffer (the mutex is held).
    private func releaseIdle() {
        for (_, list) in free { for p in list { Glibc.free(p) } }
        free.removeAll(keepingCapacity: true)
        idleBytes = 0
    }

    func take(_ count: Int) -> (UnsafeMutablePointer<Float>, Int) {
        if count >= Self.minimumPooled {
            let capacity = (count + 1023) & ~1023
            pthread_mutex_lock(&mutex)
            if let p = free[capacity]?.popLast() {
                idleBytes -= capacity * 4
                pthread_mutex_unlock(&mutex)
                return (p, capacity)
            }
            pthread_mutex_unlock(&mutex)
            return (allocate(capacity), capacity)
        }
        return (allocate(Swift.max(count, 1)), Swift.max(count, 1))
    }

    func give(_ p: UnsafeMutablePointer<Float>, capacity: Int) {
        if capacity >= Self.minimumPooled {
            pthread_mutex_lock(&mutex)
            if idleBytes + capacity * 4 <= idleLimit {
                free[capacity, default: []].append(p)
                idleBytes += capacity * 4
                pthread_mutex_unlock(&mutex)
                return
            }
            pthread_mutex_unlock(&mutex)
        }
        Glibc.free(p)
    }

    private func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        var raw: UnsafeMutableRawPointer?
        let bytes = (count * MemoryLayout<Float>.stride + 63) & ~63
        let status = posix_memalign(&raw, 64, bytes)
        precondition(status == 0 && raw != nil, "out of memory allocating \(bytes) bytes")
        return raw!.bindMemory(to: Float.self, capacity: count)
    }
}

/// Memory the tensor engine keeps for reuse.
public enum TensorMemory {
    /// The most bytes of freed tensor storage kept for reuse (1 GiB by default). Workloads whose tensor shapes keep
    /// changing (face detection on frames and windows of many sizes) gain little from a large pool and hold its
    /// whole size: `detect` lowers it. Lowering it releases idle storage at once.
    public static var idleLimitBytes: Int {
        get { StoragePool.shared.maximumIdleBytes }
        set { StoragePool.shared.maximumIdleBytes = newValue }
    }
}
