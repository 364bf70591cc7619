import XCTest
import Foundation
import Hummingbird
import HummingbirdTesting
import ForensightServer

/// The web app: a form that works without JavaScript, a result page that follows the job, a paged history, and
/// client-given names escaped in the HTML.
final class PageTests: XCTestCase {
    func testAFusionsOtherDetectorsAreListedOnTheResultPage() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let analyzer = FakeAnalyzer()
        analyzer.mouthP = 0.123
        let server = try makeServer(data: data, analyzer: analyzer)
        try await server.makeApplication().test(.router) { client in
            let posted = try await client.upload(try pngBytes(seed: 3), uri: "/upload", filename: "clip.png")
            let location = try XCTUnwrap(posted.headers[.location])
            await server.runner.processQueued()
            let done = try await client.execute(uri: location, method: .get)
            XCTAssertTrue(done.text.contains("<h2>Other detectors</h2>"), done.text)
            XCTAssertEqual(done.text.components(separatedBy: #"<tr class="detector-row">"#).count - 1, 1, "the primary member is the faces table")
            XCTAssertTrue(done.text.contains("<td>mouth-motion</td>") && done.text.contains("<td>0.123</td>"), done.text)
        }
        // A single model's page has no such table.
        let plainData = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: plainData) }
        let plain = try makeServer(data: plainData)
        try await plain.makeApplication().test(.router) { client in
            let posted = try await client.upload(try pngBytes(seed: 4), uri: "/upload", filename: "x.png")
            await plain.runner.processQueued()
            let done = try await client.execute(uri: try XCTUnwrap(posted.headers[.location]), method: .get)
            XCTAssertFalse(done.text.contains("Other detectors"))
        }
    }

    func testUploadFormResultPageAndHistory() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = try makeServer(data: data) { $0.pageSize = 2 }
        try await server.makeApplication().test(.router) { client in
            let index = try await client.execute(uri: "/", method: .get)
            XCTAssertEqual(index.status, .ok)
            XCTAssertEqual(index.headers[.contentType], "text/html; charset=utf-8")
            XCTAssertTrue(index.text.contains(#"<form id="upload" class="drop" method="post" action="/upload" enctype="multipart/form-data">"#))
            XCTAssertTrue(index.text.contains(#"type="file" name="file""#))

            let posted = try await client.upload(try pngBytes(seed: 9), uri: "/upload", filename: "<b>face<b>.png")
            XCTAssertEqual(posted.status, .seeOther)
            let location = try XCTUnwrap(posted.headers[.location])
            XCTAssertTrue(location.hasPrefix("/analyses/"))

            let pending = try await client.execute(uri: location, method: .get)
            XCTAssertEqual(pending.status, .ok)
            XCTAssertTrue(pending.text.contains(#"<strong id="status">queued</strong>"#), pending.text)
            XCTAssertTrue(pending.text.contains(#"http-equiv="refresh""#), "a queued analysis refreshes itself")
            XCTAssertTrue(pending.text.contains("&lt;b&gt;face&lt;b&gt;.png"), "the client's name is escaped")
            XCTAssertFalse(pending.text.contains("<b>face"))

            await server.runner.processQueued()
            let done = try await client.execute(uri: location, method: .get)
            XCTAssertTrue(done.text.contains(#"<span id="verdict" class="REAL">REAL</span>"#), done.text)
            XCTAssertTrue(done.text.contains(#"<span id="pfake">0.250</span>"#))
            XCTAssertEqual(done.text.components(separatedBy: #"<tr class="face-row">"#).count - 1, 1, "one row per face")
            XCTAssertTrue(done.text.contains("/artifacts/timeline.svg"))
            XCTAssertFalse(done.text.contains(#"http-equiv="refresh""#))

            for seed in 10..<13 { _ = try await client.upload(try pngBytes(seed: UInt8(seed)), uri: "/upload", filename: "f\(seed).png") }
            let first = try await client.execute(uri: "/history", method: .get)
            XCTAssertTrue(first.text.contains("page 1 of 2"), first.text)
            XCTAssertTrue(first.text.contains(#"href="/history?page=2""#))
            XCTAssertTrue(first.text.contains("f12.png") && first.text.contains("f11.png"), "newest first")
            let second = try await client.execute(uri: "/history?page=2", method: .get)
            XCTAssertTrue(second.text.contains("f10.png") && second.text.contains("&lt;b&gt;face"))
            XCTAssertTrue(second.text.contains(#"href="/history?page=1""#))

            let list = try await client.execute(uri: "/api/v1/analyses?per_page=3", method: .get).json
            XCTAssertEqual(list["total"] as? Int, 4)
            XCTAssertEqual((list["items"] as? [Any])?.count, 3)
            XCTAssertEqual(list["next"] as? String, "/api/v1/analyses?page=2&per_page=3")

            let metrics = try await client.execute(uri: "/metrics", method: .get)
            XCTAssertTrue(metrics.text.contains("forensight_uploads_accepted_total 4"), metrics.text)
            XCTAssertTrue(metrics.text.contains(#"forensight_jobs{status="queued"} 3"#), metrics.text)
            XCTAssertTrue(metrics.text.contains("forensight_jobs_done_total 1"))
        }
    }
}

extension PageTests {
    /// While a job runs, the API and the result page show how many frames are done.
    func testARunningAnalysisShowsItsProgress() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let gate = GatedAnalyzer()
        let server = try makeServer(data: data, analyzer: gate)
        try await server.makeApplication().test(.router) { client in
            let id = try await client.uploadID(try pngBytes(seed: 77))
            let run = Task { await server.runner.processQueued() }
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async { gate.reported.wait(); done.resume() }
            }
            let json = try await client.execute(uri: "/api/v1/analyses/\(id)", method: .get).json
            XCTAssertEqual(json["status"] as? String, "running")
            let progress = try XCTUnwrap(json["progress"] as? [String: Any])
            XCTAssertEqual(progress["frames_done"] as? Int, 12)
            XCTAssertEqual(progress["frames_planned"] as? Int, 32)
            let page = try await client.execute(uri: "/analyses/\(id)", method: .get).text
            XCTAssertTrue(page.contains(#"<span id="progress">frame 12 of 32</span>"#), page)
            gate.release.signal()
            await run.value
            let done = try await client.execute(uri: "/api/v1/analyses/\(id)", method: .get).json
            XCTAssertEqual(done["status"] as? String, "done")
            XCTAssertNil(done["progress"])
        }
    }
}

/// Reports 12 of 32 frames, then waits until the test releases it.
final class GatedAnalyzer: Analyzer, @unchecked Sendable {
    let modelVersion = "fake-model@0001"
    let reported = DispatchSemaphore(value: 0)
    let release = DispatchSemaphore(value: 0)

    func analyze(path: String, name: String, progress: @escaping @Sendable (Int, Int?) -> Void) throws -> AnalysisOutput {
        progress(12, 32)
        reported.signal()
        release.wait()
        return try FakeAnalyzer().analyze(path: path, name: name) { _, _ in }
    }
}
