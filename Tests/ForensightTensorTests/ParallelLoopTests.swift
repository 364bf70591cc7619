import XCTest
import Foundation
import ForensightTensor

/// `parallelChunks` on the persistent worker pool: every index exactly once, for many back-to-back jobs, for calls
/// nested inside a job, and for calls made from several threads at once.
final class ParallelLoopTests: XCTestCase {
    /// Counts how often each index of 0..<count is visited.
    func visits(_ count: Int, minimumPerThread: Int = 1) -> [Int] {
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: count)
        parallelChunks(count, minimumPerThread: minimumPerThread) { r in for i in r { hits[i] += 1 } }
        return Array(UnsafeBufferPointer(start: hits, count: count))
    }

    func testEveryIndexOnceOverManyJobs() {
        for job in 0..<2000 {
            let count = 1 + job % 97
            XCTAssertEqual(visits(count), [Int](repeating: 1, count: count), "job \(job)")
        }
    }

    func testNestedCallsRunInline() {
        let outer = 8, inner = 50
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: outer * inner)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: outer * inner)
        parallelChunks(outer) { rows in
            for row in rows { parallelChunks(inner) { cols in for c in cols { hits[row * inner + c] += 1 } } }
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: hits, count: outer * inner)), [Int](repeating: 1, count: outer * inner))
    }

    func testCallsFromSeveralThreadsAtOnce() {
        let group = DispatchGroup()
        let failures = UnsafeMutablePointer<Int>.allocate(capacity: 4)
        defer { failures.deallocate() }
        failures.initialize(repeating: 0, count: 4)
        for t in 0..<4 {
            group.enter()
            Thread {
                for job in 0..<300 where self.visits(10 + (job + t) % 40) != [Int](repeating: 1, count: 10 + (job + t) % 40) {
                    failures[t] += 1
                }
                group.leave()
            }.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 120), .success)
        XCTAssertEqual((0..<4).map { failures[$0] }, [0, 0, 0, 0])
    }

    func testResultsDoNotDependOnTheThreadCount() {
        var rng = SeededRandom(seed: 3)
        let x = Tensor.randn([2, 40, 9, 9], using: &rng), w = Tensor.randn([30, 40, 1, 1], using: &rng)
        let d = Tensor.randn([40, 1, 5, 5], using: &rng)
        let before = ComputeThreads.count
        defer { ComputeThreads.set(before) }
        var outputs: [[Float]] = []
        for threads in [1, 2, 3] {
            ComputeThreads.set(threads)
            let y = withoutGrad { Tensor.conv2d(Tensor.conv2d(x, weight: d, padding: .symmetric(2, 2), groups: 40), weight: w) }
            outputs.append(Array(UnsafeBufferPointer(start: y.data, count: y.count)))
        }
        XCTAssertEqual(outputs[0], outputs[1])
        XCTAssertEqual(outputs[0], outputs[2])
    }

    /// A thread inside `onOneCore` runs its loops alone and holds one core from the others' loops until it leaves;
    /// every index is still visited once on both sides.
    func testOneCoreStageRunsAloneAndHoldsACore() {
        let before = ComputeThreads.count
        defer { ComputeThreads.set(before) }
        ComputeThreads.set(3)
        XCTAssertEqual(ComputeThreads.available, 3)
        let inside = NSCondition(), leave = NSCondition()
        var (entered, mayLeave, seenInside, visitsInside) = (false, false, 0, [Int]())
        let stage = Thread {
            ComputeThreads.onOneCore {
                let v = self.visits(500)
                ComputeThreads.onOneCore {}   // nesting neither releases nor double-counts the core
                inside.lock(); (entered, seenInside, visitsInside) = (true, ComputeThreads.available, v); inside.broadcast(); inside.unlock()
                leave.lock(); while !mayLeave { leave.wait() }; leave.unlock()
            }
        }
        stage.start()
        inside.lock(); while !entered { inside.wait() }; inside.unlock()
        XCTAssertEqual(seenInside, 1)
        XCTAssertEqual(visitsInside, [Int](repeating: 1, count: 500))
        XCTAssertEqual(ComputeThreads.available, 2, "one core held by the stage")
        XCTAssertEqual(visits(500), [Int](repeating: 1, count: 500))
        leave.lock(); mayLeave = true; leave.broadcast(); leave.unlock()
        let deadline = Date().addingTimeInterval(10)
        while ComputeThreads.available != 3 && Date() < deadline { usleep(1000) }
        XCTAssertEqual(ComputeThreads.available, 3, "the core comes back when the stage leaves")
    }
}
