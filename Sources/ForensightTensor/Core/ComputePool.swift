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
///
/// Items are claimed from one atomic word holding the job's generation, its item count and the next item, so a
/// claim can only succeed while its job is running. The caller waits for the job's items to be done, not for every
/// worker to have looked at the job: a worker whose vCPU the host took away for a while simply finds the job over
/// when it comes back, instead of holding up every layer until it does.
final class ComputePool: @unchecked Sendable {
    /// The pool sized to `ComputeThreads.count` (rebuilt when that changes).
    nonisolated(unsafe) static var shared = ComputePool(threads: ComputeThreads.count)

    let workers: Int
    /// generation (22 bits) | item count (21 bits) | next item (21 bits).
    private let ticket = Atomic<UInt64>(0)
    private let done = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let retired = Atomic<Bool>(false)
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// The running job's body, written before its ticket is published and kept until its items are done.
    nonisolated(unsafe) private var body: ((Int) -> Void)?

    /// How many times a worker polls for the next job before it sleeps (a few hundred µs: longer than the gaps
    /// between the layers of a forward pass). Past the first 2,000 polls it yields the core between polls.
    private static let spinLimit = 100_000
    /// The most items one job can have (21 bits); larger loops run in several jobs.
    static let maximumItems = (1 << 21) - 1

    init(threads: Int) {
        workers = Swift.max(0, threads - 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        for _ in 0..<workers {
            // The worker keeps its pool alive until it has seen `retire()` and left its loop.
            let thread = Thread { [self] in self.workLoop() }
            thread.stackSize = 1 << 22
            thread.start()
        }
    }

    private static func generation(_ t: UInt64) -> UInt64 { t >> 42 }
    private static func count(_ t: UInt64) -> Int { Int((t >> 21) & 0x1F_FFFF) }
    private static func index(_ t: UInt64) -> Int { Int(t & 0x1F_FFFF) }

    /// Runs `body(i)` for every i in 0..<iterations on the caller and the workers; returns when all are done.
    func run(iterations count: Int, _ work: (Int) -> Void) {
        guard workers > 0, count > 1, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for i in 0..<count { work(i) }
            return
        }
        withoutActuallyEscaping(work) { escaping in
            var start = 0
            while start < count {
                let items = Swift.min(Self.maximumItems, count - start), offset = start
                body = { escaping(offset + $0) }
                done.store(0, ordering: .sequentiallyConsistent)
                let previous = ticket.load(ordering: .sequentiallyConsistent)
                let generation = (Self.generation(previous) + 1) & 0x3F_FFFF
                ticket.store(generation << 42 | UInt64(items) << 21, ordering: .sequentiallyConsistent)
                if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                    pthread_mutex_lock(mutex); pthread_cond_broadcast(wake); pthread_mutex_unlock(mutex)
                }
                drain(generation: generation)
                var spins = 0
                while done.load(ordering: .acquiring) < items {
                    spins += 1
                    if spins > 1000 { sched_yield() }
                }
                body = nil
                start += items
            }
        }
        busy.store(false, ordering: .releasing)
    }

    /// Claims and runs items of job `generation` until none are left or the job is no longer the current one.
    private func drain(generation: UInt64) {
        while true {
            let t = ticket.load(ordering: .sequentiallyConsistent)
            guard Self.generation(t) == generation, Self.index(t) < Self.count(t) else { return }
            guard ticket.compareExchange(expected: t, desired: t + 1, ordering: .sequentiallyConsistent).exchanged else { continue }
            // The claim succeeded, so this job is still running (its item is not done) and `body` is its body.
            body!(Self.index(t))
            done.add(1, ordering: .releasing)
        }
    }

    private func workLoop() {
        // The generation when the pool was made: a job published before this thread got going still counts.
        var seen: UInt64 = 0
        while !retired.load(ordering: .relaxed) {
            var spins = 0
            while Self.generation(ticket.load(ordering: .sequentiallyConsistent)) == seen {
                spins += 1
                if spins & 1023 == 0 && retired.load(ordering: .relaxed) { return }
                if spins < Self.spinLimit {
                    if spins > 2000 && spins & 31 == 0 { sched_yield() }
                    continue
                }
                pthread_mutex_lock(mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while Self.generation(ticket.load(ordering: .sequentiallyConsistent)) == seen && !retired.load(ordering: .relaxed) {
                    pthread_cond_wait(wake, mutex)
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(mutex)
                spins = 0
                if retired.load(ordering: .relaxed) { return }
            }
            seen = Self.generation(ticket.load(ordering: .sequentiallyConsistent))
            drain(generation: seen)
        }
    }

    /// Stops the workers once they are idle (after `ComputeThreads.set` replaced this pool).
    func retire() {
        retired.store(true, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(mutex); pthread_cond_broadcast(wake); pthread_mutex_unlock(mutex)
    }
}
