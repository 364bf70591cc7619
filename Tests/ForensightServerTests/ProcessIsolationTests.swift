import XCTest
import Foundation
import HummingbirdTesting
import ForensightDetect
import ForensightFaces
import ForensightServer

/// Each analysis in a child process (`ProcessAnalyzer`): a child that crashes or fails gives a failed job with a
/// one-line reason while the server serves on; a child past the timeout is killed with its process group; a child
/// that writes its files gives the committed record. The children here are shell scripts, which play the part of
/// `forensight analyze-job` (same arguments, same files); the last test runs the real one.
final class ProcessIsolationTests: XCTestCase {
    /// A ProcessAnalyzer whose child is `sh -c script` (the script gets MEDIA --name NAME --out DIR --parent PID as $1…$7).
    func shellAnalyzer(_ script: String) throws -> ProcessAnalyzer {
        let shell = "/bin/sh"
        guard FileManager.default.isExecutableFile(atPath: shell) else { throw XCTSkip("no \(shell)") }
        return ProcessAnalyzer(modelVersion: "fake-model@0001", command: [shell, "-c", script, "sh"])
    }

    func testACrashingAnalysisFailsItsJobAndTheServerServesOn() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        // As a Swift trap does: its message on stderr, more lines, then SIGILL. The child runs without the backtracer.
        let analyzer = try shellAnalyzer("""
            [ "$SWIFT_BACKTRACE" = enable=no ] || exit 7
            echo 'Sources/X.swift:12: Fatal error: Index out of range' >&2; echo '*** Signal 4' >&2; kill -ILL $$
            """)
        let server = try makeServer(data: data, analyzer: analyzer)
        try await server.makeApplication().test(.router) { client in
            let id = try await client.uploadID(try pngBytes(seed: 60))
            await server.runner.processQueued()
            let record = try XCTUnwrap(try server.sqlite.record(id: id))
            XCTAssertEqual(record.status, .failed)
            let reason = try XCTUnwrap(record.error)
            XCTAssertTrue(reason.hasPrefix("analysis crashed: its process died of signal \(SIGILL) (SIGILL"), reason)
            XCTAssertTrue(reason.contains("(Sources/X.swift:12: Fatal error: Index out of range)"), reason)
            XCTAssertFalse(reason.contains("\n"), "one line")
            let api = try await client.execute(uri: "/api/v1/analyses/\(id)", method: .get).json
            XCTAssertEqual(api["status"] as? String, "failed")
            XCTAssertEqual(api["error"] as? String, reason)
            // The server answers and accepts the next upload.
            let health = try await client.execute(uri: "/healthz", method: .get)
            XCTAssertEqual(health.status, .ok)
            let next = try await client.upload(try pngBytes(seed: 61))
            XCTAssertEqual(next.status, .accepted)
        }
    }

    func testAChildThatFailsGivesItsOwnReason() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let analyzer = try shellAnalyzer("echo 'some noise' >&2; echo 'forensight: cannot decode video: broken moov atom' >&2; exit 1")
        let server = try makeServer(data: data, analyzer: analyzer)
        try await server.makeApplication().test(.router) { client in
            let id = try await client.uploadID(try pngBytes(seed: 62))
            await server.runner.processQueued()
            XCTAssertEqual(try server.sqlite.record(id: id)?.status, .failed)
            XCTAssertEqual(try server.sqlite.record(id: id)?.error, "cannot decode video: broken moov atom")
        }
    }

    func testAJobPastItsTimeoutHasItsProcessGroupKilled() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let pids = (data as NSString).appendingPathComponent("pids")
        // The child starts a grandchild (as analyze-job starts ffmpeg) and both would run for a minute. The child is
        // the leader of its process group (Foundation's `Process` starts it so; analyze-job also calls setpgid).
        let analyzer = try shellAnalyzer("sleep 60 & echo $$ $! > '\(pids)'; wait")
        let server = try makeServer(data: data, analyzer: analyzer) { $0.jobTimeoutSeconds = 1 }
        let started = Date()
        try await server.makeApplication().test(.router) { client in
            let id = try await client.uploadID(try pngBytes(seed: 63))
            await server.runner.processQueued()
            let record = try XCTUnwrap(try server.sqlite.record(id: id))
            XCTAssertEqual(record.status, .failed)
            XCTAssertEqual(record.error, "timed out after 1 s: the analysis process was killed; raise --timeout or send a shorter file")
            XCTAssertLessThan(Date().timeIntervalSince(started), 20, "the job ends at its deadline, not when the child would")
            let written = try String(contentsOfFile: pids, encoding: .utf8).split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            XCTAssertEqual(written.count, 2)
            for pid in written {
                XCTAssertTrue(try waitUntilGone(pid), "process \(pid) still runs after the timeout")
            }
            let health = try await client.execute(uri: "/healthz", method: .get)
            XCTAssertEqual(health.status, .ok)
        }
    }

    func testAChildsFilesGiveTheCommittedRecordAndProgress() async throws {
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let record = (data as NSString).appendingPathComponent("record.json")
        try Data(FakeAnalyzer.record.utf8).write(to: URL(fileURLWithPath: record))
        let analyzer = try shellAnalyzer("""
            echo 'progress 3 8'; mkdir -p "$5/artifacts"; echo '<svg/>' > "$5/artifacts/timeline.svg"
            echo '[{"name":"timeline.svg","media_type":"image/svg+xml"}]' > "$5/artifacts.json"; cp '\(record)' "$5/verdict.json"
            """)
        let progress = ProgressLog()
        let output = try await analyzer.run(path: record, name: "clip.mp4", timeoutSeconds: 30) { progress.add($0, $1) }.get()
        XCTAssertEqual(output.verdict.verdict, .real)
        XCTAssertEqual(output.verdict.probability, 0.25)
        XCTAssertEqual(output.artifacts, [ExplanationArtifact(name: "timeline.svg", mediaType: "image/svg+xml", bytes: Array("<svg/>\n".utf8))])
        XCTAssertEqual(progress.seen.map { $0.done }, [3])
        XCTAssertEqual(progress.seen.map { $0.planned }, [8])
    }

    func testAChildWithoutItsFilesFails() async throws {
        let analyzer = try shellAnalyzer("exit 0")
        let outcome = await analyzer.run(path: "/nonexistent", name: "x.png", timeoutSeconds: 30) { _, _ in }
        XCTAssertThrowsError(try outcome.get()) { error in
            XCTAssertTrue("\(error)".hasPrefix("analysis finished without a readable result"), "\(error)")
        }
    }

    /// The real child: `forensight analyze-job` of the built binary gives the record the in-process pipeline gives.
    func testTheRealAnalyzeJobMatchesTheInProcessAnalysis() async throws {
        guard MTCNN.weightsPresent() else { throw XCTSkip("MTCNN weights absent (run scripts/setup/weights.sh)") }
        guard let modelPath = ModelLocations.defaultModel(), FileManager.default.fileExists(atPath: modelPath) else {
            throw XCTSkip("no default model (models/\(ModelLocations.defaultModelName))")
        }
        // The test runner sits beside the products of the same build.
        let runner = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let binary = URL(fileURLWithPath: runner).deletingLastPathComponent().appendingPathComponent("forensight").path
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("no forensight binary at \(binary)") }
        let data = try temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let file = (data as NSString).appendingPathComponent("wall.png")
        try Data(try pngBytes(seed: 64, width: 96, height: 64)).write(to: URL(fileURLWithPath: file))
        let inProcess = try PipelineAnalyzer(modelPath: modelPath)
        let child = ProcessAnalyzer(modelVersion: inProcess.modelVersion, command: [binary, "analyze-job", "--model", modelPath])
        let viaChild = try await child.run(path: file, name: "wall.png", timeoutSeconds: 300) { _, _ in }.get().verdict
        let direct = try inProcess.analyze(path: file, name: "wall.png") { _, _ in }
        // Timings differ from run to run, and the two processes may sum in another order (BLAS threads).
        XCTAssertEqual(viaChild.source, "wall.png")
        XCTAssertEqual(viaChild.verdict, direct.verdict.verdict)
        XCTAssertEqual(viaChild.kind, direct.verdict.kind)
        XCTAssertEqual(viaChild.model, direct.verdict.model)
        XCTAssertEqual(viaChild.frames, direct.verdict.frames)
        XCTAssertEqual(viaChild.faces.count, direct.verdict.faces.count)
        XCTAssertEqual(viaChild.probability ?? -1, direct.verdict.probability ?? -1, accuracy: 1e-4)
    }
}

/// Progress reports a child sent, in order.
final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [(done: Int, planned: Int?)] = []
    func add(_ done: Int, _ planned: Int?) { lock.withLock { list.append((done, planned)) } }
    var seen: [(done: Int, planned: Int?)] { lock.withLock { list } }
}

/// Whether process `pid` is gone (or a zombie nobody reaped) within five seconds.
func waitUntilGone(_ pid: Int32) throws -> Bool {
    for _ in 0..<50 {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        // The state follows the parenthesised command name.
        if let close = stat.lastIndex(of: ")") {
            let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
            if state == "Z" || state == "X" { return true }
        }
        usleep(100_000)
    }
    return false
}
