import Dispatch
import Foundation
import Synchronization
import CBLAS
#if canImport(Glibc)
import Glibc
#endif

/// How many threads parallel loops and OpenBLAS use (defaults to the machine's active cores).
public enum ComputeThreads {
    nonisolated(unsafe) private static var current = ProcessInfo.processInfo.activeProcessorCount

    /// Number of worker threads.
    public static var count: Int { current }

    /// Threads inside `sharingCores` at this moment.
    private static let stages = Atomic<Int>(0)
    /// Marks a thread running inside `sharingCores`.
    private static let stageKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// The threads a parallel loop started now on the calling thread may use. With no stage running
    /// (`sharingCores`), `count`. Inside a stage, the stage's share: `count` divided by the stages running now (at
    /// least 1). Outside while stages run, what they leave: `count` less one per stage (at least 1).
    public static var available: Int {
        let running = stages.load(ordering: .relaxed)
        guard running > 0 else { return current }
        if pthread_getspecific(stageKey) != nil { return Swift.max(1, current / running) }
        return Swift.max(1, current - running)
    }

    /// Runs `body` as one of several stages that work at once on different threads (a folder's reader and its
    /// scorer): while two stages run, each splits its loops over its share of the cores (one each on two cores)
    /// instead of both splitting every loop over all of them, which made 3 busy threads contend for 2 cores (a split
    /// loop then waits for its slower half). A stage that waits for the other (its queue empty or full) is outside
    /// `body`, and the working one gets every core.
    public static func sharingCores<T>(_ body: () throws -> T) rethrows -> T {
        if pthread_getspecific(stageKey) != nil { return try body() }
        pthread_setspecific(stageKey, UnsafeRawPointer(bitPattern: 1))
        stages.add(1, ordering: .relaxed)
        defer {
            stages.subtract(1, ordering: .relaxed)
            pthread_setspecific(stageKey, nil)
        }
        return try body()
    }

    /// Sets the thread count for our loops and for OpenBLAS GEMM.
    public static func set(_ n: Int) {
        let previous = current
        current = Swift.max(1, n)
        openblas_set_num_threads(Int32(current))
        if current != previous {
            ComputePool.shared.retire()
            ComputePool.shared = ComputePool(threads: current)
        }
    }
}

/// Runs `body(range)` over `0..<count` split into contiguous chunks on up to `ComputeThreads.count` threads
/// (the `ComputePool`: the caller and persistent workers).
///
/// Work below `minimumPerThread` items per thread stays on the calling thread.
public func parallelChunks(_ count: Int, minimumPerThread: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = Swift.min(ComputeThreads.available, Swift.max(1, count / Swift.max(1, minimumPerThread)))
    if threads <= 1 || count <= 1 { body(0..<count); return }
    let chunk = (count + threads - 1) / threads
    ComputePool.shared.run(iterations: threads) { t in
        let start = t * chunk
        let end = Swift.min(count, start + chunk)
        if start < end { body(start..<end) }
    }
}

/// Runs `body` with OpenBLAS limited to one thread (for loops that call GEMM from several threads at once).
public func withSingleThreadedBLAS<T>(_ body: () throws -> T) rethrows -> T {
    let previous = openblas_get_num_threads()
    openblas_set_num_threads(1)
    defer { openblas_set_num_threads(previous) }
    return try body()
}

/// Runs `body(i)` for every i in 0..<count on the `ComputePool`, the threads taking items one at a time from a shared
/// counter: a thread that falls behind (a vCPU the host took away for a while) takes fewer items instead of holding
/// up the others at the end. For loops whose items are each at least a few microseconds of work.
///
/// With `serial` (work too small to be worth a second thread) every item runs on the calling thread.
public func parallelItems(_ count: Int, serial: Bool = false, _ body: (Int) -> Void) {
    if serial || ComputeThreads.available <= 1 || count <= 1 {
        for i in 0..<count { body(i) }
        return
    }
    ComputePool.shared.run(iterations: count, body)
}
