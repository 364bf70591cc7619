import XCTest
import Foundation
import HummingbirdTesting
import ForensightServer

/// The shared queue on a real PostgreSQL (`FORENSIGHT_TEST_POSTGRES`, set by `scripts/setup/postgres.sh`; skipped
/// without it): the API over it, two workers that never take the same job, and a dead worker's job taken over with
/// exactly one committed result.
final class PostgresQueueTests: XCTestCase {
    var url = ""
    var running: [Task<Void, Error>] = []

    override func setUpWithError() throws {
        guard let url = ProcessInfo.processInfo.environment["FORENSIGHT_TEST_POSTGRES"], !url.isEmpty else {
            throw XCTSkip("no PostgreSQL: export FORENSIGHT_TEST_POSTGRES=$(bash scripts/setup/postgres.sh)")
        }
        self.url = url
    }

    override func tearDown() { for task in running { task.cancel() } }

    /// A queue client (one per simulated machine), running, on empty tables.
    func queue(leaseSeconds: Double = 60, empty: Bool = false) async throws -> PostgresJobStore {
        let store = try PostgresJobStore(url: url, leaseSeconds: leaseSeconds)
        running.append(Task { try await store.run() })
        if empty { try await store.dropTables() }
        return store
    }

    func testTheAPIOverAPostgresQueue() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let shared = try await queue(empty: true)
        let analyzer = FakeAnalyzer()
        let server = try makeServer(data: data, analyzer: analyzer, queue: shared)
        try await server.makeApplication().test(.router) { client in
            let png = try pngBytes(seed: 50)
            let first = try await client.upload(png)
            XCTAssertEqual(first.status, .accepted)
            let id = try XCTUnwrap(try first.json["id"] as? String)
            let again = try await client.upload(png)
            XCTAssertEqual(again.status, .ok)
            XCTAssertEqual(try again.json["id"] as? String, id)
            await server.runner.processQueued()
            let done = try await client.execute(uri: "/api/v1/analyses/\(id)", method: .get).json
            XCTAssertEqual(done["status"] as? String, "done")
            XCTAssertEqual((done["result"] as? [String: Any])?["verdict"] as? String, "REAL")
            XCTAssertEqual(done["artifacts"] as? [String], ["/api/v1/analyses/\(id)/artifacts/timeline.svg"])
            let svg = try await client.execute(uri: "/api/v1/analyses/\(id)/artifacts/timeline.svg", method: .get)
            XCTAssertEqual(svg.status, .ok)
            let list = try await client.execute(uri: "/api/v1/analyses", method: .get).json
            XCTAssertEqual(list["total"] as? Int, 1)
            let deleted = try await client.execute(uri: "/api/v1/analyses/\(id)", method: .delete)
            XCTAssertEqual(deleted.status, .noContent)
            let anew = try await client.upload(png)
            XCTAssertEqual(anew.status, .accepted)
            XCTAssertNotEqual(try anew.json["id"] as? String, id)
        }
        XCTAssertEqual(analyzer.calls.count, 1)
    }

    func testTwoWorkersNeverShareAJobAndEachJobCommitsOnce() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let machineA = try await queue(empty: true), machineB = try await queue()
        let media = try MediaStore(dataDirectory: data)
        var ids: [String] = []
        for seed in 0..<12 {
            let file = (data as NSString).appendingPathComponent("f\(seed).png")
            try Data(try pngBytes(seed: UInt8(seed))).write(to: URL(fileURLWithPath: file))
            guard case .queued(let id) = await Enqueue.files([file], queue: machineA, media: media, model: "fake-model@0001", limit: 1 << 20)[0] else {
                return XCTFail("not queued")
            }
            ids.append(id)
        }
        let (analyzerA, analyzerB) = (FakeAnalyzer(), FakeAnalyzer())
        let runnerA = JobRunner(store: machineA, media: media, analyzer: analyzerA, workers: 0, timeoutSeconds: 60, metrics: ServerMetrics(),
                                logger: .init(label: "A"))
        let runnerB = JobRunner(store: machineB, media: media, analyzer: analyzerB, workers: 0, timeoutSeconds: 60, metrics: ServerMetrics(),
                                logger: .init(label: "B"))
        async let a: Void = runnerA.processQueued()
        async let b: Void = runnerB.processQueued()
        _ = await (a, b)
        XCTAssertEqual(analyzerA.calls.count + analyzerB.calls.count, 12, "each job analysed once")
        XCTAssertEqual(Set(analyzerA.calls).intersection(analyzerB.calls), [])
        for id in ids {
            let record = try await machineB.record(id: id)
            XCTAssertEqual(record?.status, .done)
            XCTAssertEqual(record?.attempts, 1)
        }
    }

    func testADeadWorkersJobIsTakenOverWhenItsLeaseExpires() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        // Machine A's leases expire at once: it claims a job and "dies" (never renews).
        let machineA = try await queue(leaseSeconds: 0, empty: true), machineB = try await queue()
        let submitted = try await machineA.submit(sha256: String(repeating: "b", count: 64), model: "m@1", filename: "x.png", kind: "image",
                                                  format: "png", size: 1, capacity: 10).record
        let taken = try await machineA.claimNext(model: "m@1")
        XCTAssertEqual(taken?.id, submitted.id)
        XCTAssertEqual(taken?.attempts, 1)
        let takenOver = try await machineB.claimNext(model: "m@1")
        XCTAssertEqual(takenOver?.id, submitted.id, "the expired lease hands the job to another worker")
        XCTAssertEqual(takenOver?.attempts, 2)
        let lateA = try await machineA.complete(id: submitted.id, attempt: 1, result: "{\"from\":\"A\"}", artifacts: [])
        XCTAssertFalse(lateA, "the dead worker's attempt cannot commit")
        let b = try await machineB.complete(id: submitted.id, attempt: 2, result: "{\"from\":\"B\"}", artifacts: [])
        XCTAssertTrue(b)
        let again = try await machineB.complete(id: submitted.id, attempt: 2, result: "{\"from\":\"B2\"}", artifacts: [])
        XCTAssertFalse(again)
        let record = try await machineA.record(id: submitted.id)
        XCTAssertEqual(record?.result, "{\"from\":\"B\"}")
        let nothingLeft = try await machineA.claimNext(model: "m@1")
        XCTAssertNil(nothingLeft)
    }
}
