import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Persistent worker threads for our parallel loops.
///
/// Why not `DispatchQueue.concurrentPerform`: on Linux each call costs about 0.1 ms to hand work to libdispatch's
/// workers, and after a child process has run (ffmpeg, a benchmark peer) libdispatch was seen running every
/// "parallel" loop on the calling thread alone. A model's forward pass makes ~100 such calls of 0.1–1 ms each.
///
/// Here the caller publishes a job and works on it too; workers spin briefly for the next job (consecutive layers
/// follow each other within microseconds), then sleep on a condition variable. One job runs at a time: a call made
/// while the pool is busy (from inside a job, or from another thread) runs on its own thread, serially.
final class ComputePool: @unchecked Sendable {
    /// The pool sized to `ComputeThreads.count` (rebuilt when that changes).
    nonisolated(unsafe) static var shared = ComputePool(threads: ComputeThreads.count)

    let workers: Int
    private let generation = Atomic<Int>(0)
    private let next = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let retired = Atomic<Bool>(false)
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// The running job: iterations and body, written before `generation` is bumped.
    nonisolated(unsafe) private var iterations = 0
    nonisolated(unsafe) private var body: ((Int) -> Void)?

    /// How many times a worker polls for the next job before it sleeps (a few hundred µs: longer than the gaps
    /// between the layers of a forward pass). Past the first 2,000 polls it yields the core between polls.
    private static let spinLimit = 100_000

    init(threads: Int) {
        workers = Swift.max(0, threads - 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        for _ in 0..<workers {
            let thread = Thread { [unowned self] in self.workLoop() }
            thread.stackSize = 1 << 22
            thread.start()
        }
    }

    /// Runs `body(i)` for every i in 0..<iterations on the caller and the workers; returns when all are done.
    func run(iterations count: Int, _ work: (Int) -> Void) {
        guard workers > 0, count > 1, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for i in 0..<count { work(i) }
            return
        }
        withoutActuallyEscaping(work) { escaping in
            body = escaping
            iterations = count
            next.store(0, ordering: .sequentiallyConsistent)
            pending.store(workers, ordering: .sequentiallyConsistent)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex); pthread_cond_broadcast(wake); pthread_mutex_unlock(mutex)
            }
            drain()
            var spins = 0
            while pending.load(ordering: .acquiring) > 0 {
                spins += 1
                if spins > 1000 { sched_yield() }
            }
            body = nil
        }
        busy.store(false, ordering: .releasing)
    }

    /// Takes iterations of the current job until none are left.
    private func drain() {
        guard let body else { return }
        let count = iterations
        while true {
            let i = next.add(1, ordering: .relaxed).oldValue
            if i >= count { break }
            body(i)
        }
    }

    private func workLoop() {
        // The generation when the pool was made: a job published before this thread got going still counts.
        var seen = 0
        while !retired.load(ordering: .relaxed) {
            var spins = 0
            while generation.load(ordering: .sequentiallyConsistent) == seen {
                spins += 1
                if spins < Self.spinLimit {
                    if spins > 2000 && spins & 31 == 0 { sched_yield() }
                    continue
                }
                pthread_mutex_lock(mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while generation.load(ordering: .sequentiallyConsistent) == seen && !retired.load(ordering: .relaxed) {
                    pthread_cond_wait(wake, mutex)
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(mutex)
                spins = 0
                if retired.load(ordering: .relaxed) { return }
            }
            seen = generation.load(ordering: .sequentiallyConsistent)
            drain()
            pending.subtract(1, ordering: .releasing)
        }
    }

    /// Stops the workers once they are idle (after `ComputeThreads.set` replaced this pool).
    func retire() {
        retired.store(true, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(mutex); pthread_cond_broadcast(wake); pthread_mutex_unlock(mutex)
    }
}
