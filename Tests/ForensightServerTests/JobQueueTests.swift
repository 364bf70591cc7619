import XCTest
import Foundation
import HummingbirdTesting
import ForensightServer

/// Uploads become durable jobs: stored by hash, deduplicated per model, deleted and analysed anew, bounded, and
/// resumed after a crash with exactly one committed result.
final class JobQueueTests: XCTestCase {
    func testUploadQueuesThenProcessingCommitsTheRecord() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let analyzer = FakeAnalyzer()
        let server = try makeServer(data: data, analyzer: analyzer)
        let png = try pngBytes()
        try await server.makeApplication().test(.router) { client in
            let posted = try await client.upload(png, filename: "../../etc/passwd")
            XCTAssertEqual(posted.status, .accepted, posted.text)
            let body = try posted.json
            let id = try XCTUnwrap(body["id"] as? String)
            XCTAssertTrue(AnalysisID.isValid(id))
            XCTAssertEqual(body["status_url"] as? String, "/api/v1/analyses/\(id)")
            XCTAssertEqual(body["status"] as? String, "queued")
            // Committed before the 202: the row and the media file named by its hash.
            let record = try XCTUnwrap(try server.sqlite.record(id: id))
            XCTAssertEqual(record.filename, "passwd", "a client's file name is only a display name")
            XCTAssertEqual(record.mediaKind, "image")
            XCTAssertEqual(record.mediaFormat, "png")
            XCTAssertTrue(FileManager.default.fileExists(atPath: server.media.path(sha256: record.sha256)!))
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: server.media.temporaryDirectory), [])

            await server.runner.processQueued()
            let done = try await client.execute(uri: "/api/v1/analyses/\(id)", method: .get)
            XCTAssertEqual(done.status, .ok)
            let json = try done.json
            XCTAssertEqual(json["status"] as? String, "done")
            let result = try XCTUnwrap(json["result"] as? [String: Any])
            XCTAssertEqual(result["schema"] as? String, "forensight.detect/3")
            XCTAssertEqual(result["verdict"] as? String, "REAL")
            XCTAssertEqual(result["source"] as? String, "passwd")
            XCTAssertEqual(json["artifacts"] as? [String], ["/api/v1/analyses/\(id)/artifacts/timeline.svg"])
            let svg = try await client.execute(uri: "/api/v1/analyses/\(id)/artifacts/timeline.svg", method: .get)
            XCTAssertEqual(svg.status, .ok)
            XCTAssertEqual(svg.headers[.contentType], "image/svg+xml")
        }
        XCTAssertEqual(analyzer.calls, ["passwd"])
    }

    func testSameFileSameModelIsOneAnalysisUntilDeleted() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let analyzer = FakeAnalyzer()
        let server = try makeServer(data: data, analyzer: analyzer)
        let png = try pngBytes(seed: 7)
        try await server.makeApplication().test(.router) { client in
            let first = try await client.upload(png)
            XCTAssertEqual(first.status, .accepted)
            let id = try XCTUnwrap(try first.json["id"] as? String)
            await server.runner.processQueued()

            let again = try await client.upload(png, filename: "renamed.png")
            XCTAssertEqual(again.status, .ok, "the existing analysis, not a new job")
            XCTAssertEqual(try again.json["id"] as? String, id)
            XCTAssertEqual(try again.json["status"] as? String, "done")
            await server.runner.processQueued()
            XCTAssertEqual(analyzer.calls.count, 1)

            // A different model version is a different analysis of the same file.
            let otherModel = try makeServer(data: data, analyzer: FakeAnalyzer(modelVersion: "other@2"))
            let sha = try XCTUnwrap(try server.sqlite.record(id: id)).sha256
            let submission = try otherModel.sqlite.submit(sha256: sha, model: "other@2", filename: "x", kind: "image", format: "png", size: 1,
                                                         capacity: 10)
            guard case .created = submission else { return XCTFail("another model must get its own analysis") }

            let deleted = try await client.execute(uri: "/api/v1/analyses/\(id)", method: .delete)
            XCTAssertEqual(deleted.status, .noContent)
            let gone = try await client.execute(uri: "/api/v1/analyses/\(id)", method: .get)
            XCTAssertEqual(gone.status, .notFound)
            XCTAssertEqual(gone.errorCode, "not_found")
            let deletedAgain = try await client.execute(uri: "/api/v1/analyses/\(id)", method: .delete)
            XCTAssertEqual(deletedAgain.status, .notFound)

            let anew = try await client.upload(png)
            XCTAssertEqual(anew.status, .accepted)
            let newID = try XCTUnwrap(try anew.json["id"] as? String)
            XCTAssertNotEqual(newID, id)
            await server.runner.processQueued()
            XCTAssertEqual(analyzer.calls.count, 2, "analysed anew after the DELETE")
            XCTAssertEqual(try otherModel.sqlite.record(id: submission.record.id)?.status, .queued, "only its own model's server runs it")
        }
    }

    func testFullQueueAnswers503WithRetryAfterAndKeepsNothing() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = try makeServer(data: data) { $0.queueCapacity = 1; $0.retryAfterSeconds = 17 }
        try await server.makeApplication().test(.router) { client in
            let answer1 = try await client.upload(try pngBytes(seed: 1))
            XCTAssertEqual(answer1.status, .accepted)
            let refused = try await client.upload(try pngBytes(seed: 2))
            XCTAssertEqual(refused.status, .serviceUnavailable)
            XCTAssertEqual(refused.headers[.retryAfter], "17")
            XCTAssertEqual(refused.errorCode, "queue_full")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: server.media.mediaDirectory).count, 1)
            await server.runner.processQueued()
            let answer2 = try await client.upload(try pngBytes(seed: 2))
            XCTAssertEqual(answer2.status, .accepted, "room again once the job is done")
        }
    }

    func testRestartQueuesARunningJobAgainAndCommitsOneResult() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let first = try makeServer(data: data)
        let id = try await first.makeApplication().test(.router) { client in
            try await client.uploadID(try pngBytes(seed: 3))
        }
        // The worker took the job, then the server died before committing anything.
        let taken = try XCTUnwrap(try first.sqlite.claimNext(model: "fake-model@0001"))
        XCTAssertEqual(taken.id, id)
        XCTAssertEqual(try first.sqlite.record(id: id)?.status, .running)

        let analyzer = FakeAnalyzer()
        let second = try makeServer(data: data, analyzer: analyzer)
        XCTAssertEqual(try second.sqlite.record(id: id)?.status, .queued)
        await second.runner.processQueued()
        let record = try XCTUnwrap(try second.sqlite.record(id: id))
        XCTAssertEqual(record.status, .done)
        XCTAssertEqual(record.attempts, 2)
        XCTAssertEqual(analyzer.calls.count, 1)
        // The dead server's attempt can no longer commit.
        XCTAssertFalse(try first.sqlite.complete(id: id, attempt: 1, result: "{}", artifacts: []))
        XCTAssertFalse(try second.sqlite.complete(id: id, attempt: 2, result: "{}", artifacts: []), "a second result for a done job")
        XCTAssertNotEqual(try second.sqlite.record(id: id)?.result, "{}")
    }

    func testAFailedAnalysisRecordsItsReasonAndIsRetriedOnUpload() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let analyzer = FakeAnalyzer()
        analyzer.failWith = "cannot decode the video\nsecond line"
        let server = try makeServer(data: data, analyzer: analyzer)
        try await server.makeApplication().test(.router) { client in
            let id = try await client.uploadID(try pngBytes(seed: 4))
            await server.runner.processQueued()
            let failed = try await client.execute(uri: "/api/v1/analyses/\(id)", method: .get).json
            XCTAssertEqual(failed["status"] as? String, "failed")
            XCTAssertEqual(failed["error"] as? String, "cannot decode the video")
            analyzer.failWith = nil
            let retried = try await client.upload(try pngBytes(seed: 4))
            XCTAssertEqual(try retried.json["id"] as? String, id)
            XCTAssertEqual(try retried.json["status"] as? String, "queued")
            await server.runner.processQueued()
            let answer3 = try await client.execute(uri: "/api/v1/analyses/\(id)", method: .get)
            XCTAssertEqual(try answer3.json["status"] as? String, "done")
        }
    }

    func testATimedOutJobFailsAndItsLateResultIsRefused() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = try makeServer(data: data, analyzer: FakeAnalyzer()) { $0.jobTimeoutSeconds = 0.01 }
        let job = try server.sqlite.submit(sha256: String(repeating: "a", count: 64), model: "fake-model@0001", filename: "slow.mp4",
                                          kind: "video", format: "mp4", size: 1, capacity: 5).record
        try Data([0]).write(to: URL(fileURLWithPath: server.media.path(sha256: job.sha256)!))
        // The analyzer returns only once the timeout has marked the job failed.
        let slow = SlowAnalyzer(store: server.sqlite, id: job.id)
        let runner = JobRunner(store: server.store, media: server.media, analyzer: slow, workers: 0, timeoutSeconds: 0.01,
                               metrics: server.metrics, logger: .init(label: "test"))
        await runner.processQueued()
        let record = try XCTUnwrap(try server.sqlite.record(id: job.id))
        XCTAssertEqual(record.status, .failed)
        XCTAssertEqual(record.error, "timed out after 0.01 s: the analysis could not be stopped and runs on in the server; raise --timeout or send a shorter file")
        XCTAssertNil(record.result)
        // The in-process analysis cannot be stopped: it runs on and sees its job failed.
        for _ in 0..<500 where !slow.sawFailure { usleep(10_000) }
        XCTAssertTrue(slow.sawFailure)
    }
}

/// Waits (on its worker thread) until its job is marked failed, then returns a result that must not be committed.
final class SlowAnalyzer: Analyzer, @unchecked Sendable {
    let modelVersion = "fake-model@0001"
    let store: JobStore
    let id: String
    var sawFailure = false
    init(store: JobStore, id: String) { (self.store, self.id) = (store, id) }

    func analyze(path: String, name: String, progress: @escaping @Sendable (Int, Int?) -> Void) throws -> AnalysisOutput {
        for _ in 0..<10_000 where (try? store.record(id: id))??.status != .failed { usleep(10_000) }
        sawFailure = (try? store.record(id: id))??.status == .failed
        return try FakeAnalyzer().analyze(path: path, name: name, progress: progress)
    }
}

extension JobQueueTests {
    func testRetentionDeletesOldFinishedAnalysesAndTheirMedia() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = try makeServer(data: data) { $0.retentionDays = 1 }
        let runner = JobRunner(store: server.store, media: server.media, analyzer: FakeAnalyzer(), workers: 0, timeoutSeconds: 60,
                               metrics: server.metrics, logger: .init(label: "test"), retentionSeconds: 86400)
        try await server.makeApplication().test(.router) { client in
            let old = try await client.uploadID(try pngBytes(seed: 20))
            await runner.processQueued()
            let waiting = try await client.uploadID(try pngBytes(seed: 21))
            let sha = try XCTUnwrap(try server.sqlite.record(id: old)).sha256
            await runner.pruneExpired(now: Date().timeIntervalSince1970 + 2 * 86400)
            XCTAssertNil(try server.sqlite.record(id: old), "finished two days ago with a retention of one")
            XCTAssertFalse(FileManager.default.fileExists(atPath: server.media.path(sha256: sha)!))
            XCTAssertEqual(try server.sqlite.record(id: waiting)?.status, .queued, "a queued job is never pruned")
        }
    }
}
