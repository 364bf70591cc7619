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

    /// Stages (`sharingCores`) split the cores between them while they work and give them back when they stop;
    /// threads outside keep what the stages leave. Every index is still visited once.
    func testStagesShareTheCores() {
        let before = ComputeThreads.count
        defer { ComputeThreads.set(before) }
        ComputeThreads.set(4)
        XCTAssertEqual(ComputeThreads.available, 4)
        let entered = DispatchSemaphore(value: 0), mainJoined = DispatchSemaphore(value: 0), measured = DispatchSemaphore(value: 0)
        let leave = DispatchSemaphore(value: 0), left = DispatchSemaphore(value: 0)
        final class Seen: @unchecked Sendable { var alone = 0, shared = 0, visits: [Int] = [] }
        let seen = Seen()
        let stage = Thread {
            ComputeThreads.sharingCores {
                seen.alone = ComputeThreads.available
                seen.visits = self.visits(500)
                ComputeThreads.sharingCores {}   // nesting counts the stage once
                entered.signal()
                mainJoined.wait()
                seen.shared = ComputeThreads.available
                measured.signal()
                leave.wait()
            }
            left.signal()
        }
        stage.start()
        entered.wait()
        XCTAssertEqual(seen.alone, 4, "a stage working alone has every core")
        XCTAssertEqual(seen.visits, [Int](repeating: 1, count: 500))
        XCTAssertEqual(ComputeThreads.available, 3, "outside, one core is left to the stage")
        ComputeThreads.sharingCores {
            XCTAssertEqual(ComputeThreads.available, 2, "two stages: half each")
            mainJoined.signal()
            measured.wait()
            XCTAssertEqual(seen.shared, 2)
            XCTAssertEqual(visits(500), [Int](repeating: 1, count: 500))
            leave.signal()
            left.wait()
            XCTAssertEqual(ComputeThreads.available, 4, "the other stage stopped: every core again")
        }
        XCTAssertEqual(ComputeThreads.available, 4)
    }
}
