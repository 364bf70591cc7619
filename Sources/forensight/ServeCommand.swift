import ArgumentParser
import Foundation
import Logging
import ForensightDetect
import ForensightServer
import ForensightTensor

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the web app and REST API: upload images and videos, get verdicts with their evidence.",
        discussion: """
        Serves an upload page, a result page per analysis (verdict, P(fake), one row per face with its heatmap, the score timeline) and a history, and a REST API under /api/v1 (docs/API.md, docs/openapi.yaml). The analysis is the one `forensight detect` runs, with the same model and the same JSON record, each in a child process of its own: an analysis that crashes fails its job (with the reason) and the server serves on, and one past --timeout is killed.

        Every upload is stored under DATA/media by its SHA-256 and its job committed to DATA/jobs.sqlite before the server answers 202, so no acknowledged upload is lost: jobs a killed server left running are queued again when it starts. The same file analysed by the same model returns the existing analysis.

        The server listens on 127.0.0.1 (this machine only). To serve others, bind another --host and give a --token: every request must then carry `Authorization: Bearer TOKEN` (except /healthz).

        Examples:
          forensight serve                                   http://127.0.0.1:8080
          forensight serve --data /srv/forensight --workers 2 --queue-limit 128
          forensight serve --host 0.0.0.0 --token "$(openssl rand -hex 16)"
          curl -F file=@clip.mp4 http://127.0.0.1:8080/api/v1/analyses
        """)

    @Option(help: "Address to listen on; anything but loopback needs --token.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port = 8080

    @Option(help: "Folder for the job table (jobs.sqlite) and the uploaded media.")
    var data = "forensight-data"

    @Option(help: "Analyses run at once (each uses the CPU fully; 1 suits a 2-core machine).")
    var workers = 1

    @Option(help: "Largest upload, in bytes or with K, M, G (e.g. 200M).")
    var maxUpload = "200M"

    @Option(help: "Bearer token required on every request (or $FORENSIGHT_TOKEN).")
    var token: String?

    @Option(help: "Jobs queued or running at most; further uploads get 503 with Retry-After.")
    var queueLimit = 64

    @Option(help: "Seconds an analysis may take before it fails as timed out.")
    var timeout = 600.0

    @Option(help: "A PostgreSQL job queue shared with other servers and workers (postgres://USER@HOST/DB; docs/SCALE.md); --data must then be a folder every machine mounts. Default: SQLite in --data.")
    var queue: String?

    @Option(help: "Delete finished analyses (and their media) after this many days (default: keep them).")
    var retentionDays: Double?

    @Option(help: "Detector weights (default: the shipped model, or $FORENSIGHT_MODEL).")
    var model: String?

    @Option(help: "Frames sampled per video, as `detect --frames`.")
    var frames = 32

    @Flag(help: .hidden)
    var inProcess = false

    func validate() throws {
        guard Self.bytes(maxUpload) != nil else { throw ValidationError("--max-upload takes a size such as 200M, 1G or 5000000") }
        guard frames > 0 && frames <= 10_000 else { throw ValidationError("--frames must be between 1 and 10000") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        if let problem = serverConfiguration.problem { throw ValidationError(problem) }
    }

    /// The server's configuration from the options.
    var serverConfiguration: ServerConfiguration {
        var configuration = ServerConfiguration(dataDirectory: data)
        (configuration.host, configuration.port, configuration.workers) = (host, port, workers)
        configuration.maxUploadBytes = Self.bytes(maxUpload) ?? 1
        configuration.token = token ?? ProcessInfo.processInfo.environment["FORENSIGHT_TOKEN"]
        (configuration.queueCapacity, configuration.jobTimeoutSeconds) = (queueLimit, timeout)
        configuration.retentionDays = retentionDays
        return configuration
    }

    func run() throws {
        // Quiet success: the server's log (start, notices, errors) goes to stderr, stdout stays empty.
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        AnalysisPool.apply()
        let configuration = serverConfiguration
        let analyzer: any Analyzer
        do { analyzer = try AnalyzeJob.analyzer(model: model, frames: frames, inProcess: inProcess) } catch {
            throw fail("\(error) (run scripts/setup/weights.sh)")
        }
        let server: ForensightServer
        let shared: PostgresJobStore?
        do {
            shared = try queue.map { try PostgresJobStore(url: $0) }
            server = try ForensightServer(configuration: configuration, analyzer: analyzer, queue: shared)
        } catch { throw fail("\(error)") }
        note("forensight: serving http://\(host):\(port) (data \(data), model \(analyzer.modelVersion))")
        let error = waitFor {
            // The shared queue's connection pool runs beside the server and stops after it.
            try await withThrowingTaskGroup(of: Void.self) { group in
                if let shared { group.addTask { try await shared.run() } }
                try await server.makeApplication().runService()
                group.cancelAll()
            }
        }
        if let error { throw fail(error) }
    }

    /// "200M" → 209715200; plain numbers are bytes.
    static func bytes(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        if let unit = text.uppercased().last.flatMap({ units[$0] }) {
            return Int(text.dropLast()).flatMap { $0 > 0 ? $0 * unit : nil }
        }
        return Int(text).flatMap { $0 > 0 ? $0 : nil }
    }
}

/// Runs async work from a synchronous command and blocks until it ends; its error, if any, as one line.
func waitFor(_ work: @escaping @Sendable () async throws -> Void) -> String? {
    final class Outcome: @unchecked Sendable { var error: String? }
    let finished = DispatchSemaphore(value: 0)
    let outcome = Outcome()
    Task {
        do { try await work() } catch { outcome.error = "\(error)" }
        finished.signal()
    }
    finished.wait()
    return outcome.error
}
