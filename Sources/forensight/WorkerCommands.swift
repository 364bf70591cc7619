import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import ForensightData
import ForensightDetect
import ForensightMedia
import ForensightServer
import ForensightTensor

struct Worker: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Analyse jobs from a shared PostgreSQL queue (scale-out of `forensight serve`).",
        discussion: """
        Claims jobs of its model from the queue (SELECT … FOR UPDATE SKIP LOCKED, so no two workers take one job), analyses the media under DATA/media, a folder every machine mounts, and commits each result. A claimed job holds a lease the worker renews while it works; if the worker dies, the lease expires and another worker takes the job over. Each job commits exactly one result. Stop with SIGTERM or Ctrl-C: a job cut off is taken over when its lease expires.

        Examples:
          forensight worker --queue postgres://forensight@db.lan/forensight --data /mnt/forensight
          forensight worker --queue postgres://forensight@127.0.0.1/forensight --data /srv/forensight --workers 2
        """)

    @Option(help: "The PostgreSQL queue: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.")
    var queue: String

    @Option(help: "The shared data folder the servers store uploads in (DATA/media).")
    var data: String

    @Option(help: "Analyses at once on this machine.")
    var workers = 1

    @Option(help: "Seconds an analysis may take before it fails as timed out.")
    var timeout = 600.0

    @Option(help: "Detector weights (default: the shipped model, or $FORENSIGHT_MODEL). Workers only take jobs of their model's version.")
    var model: String?

    @Option(help: "Frames sampled per video, as `detect --frames`.")
    var frames = 32

    @Flag(help: .hidden)
    var inProcess = false

    func validate() throws {
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be between 1 and 64") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        AnalysisPool.apply()
        let analyzer: any Analyzer
        do { analyzer = try AnalyzeJob.analyzer(model: model, frames: frames, inProcess: inProcess) } catch {
            throw fail("\(error) (run scripts/setup/weights.sh)")
        }
        let store: PostgresJobStore, media: MediaStore
        do { (store, media) = (try PostgresJobStore(url: queue), try MediaStore(dataDirectory: data, removingPartialUploads: false)) } catch {
            throw fail("\(error)")
        }
        let logger = Logger(label: "forensight.worker")
        let runner = JobRunner(store: store, media: media, analyzer: analyzer, workers: workers, timeoutSeconds: timeout, metrics: ServerMetrics(),
                               logger: logger)
        note("forensight: worker on \(Self.redacted(queue)) (data \(data), model \(analyzer.modelVersion))")
        let group = ServiceGroup(configuration: .init(services: [store, runner], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        if let error = waitFor({ try await group.run() }) { throw fail(error) }
    }
}

struct EnqueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Turn an archive (folders of media, or a manifest) into analysis jobs.",
        discussion: """
        Copies each file into DATA/media (by SHA-256) and queues its job, as an upload would, for the model a server or worker with the same --model runs. A file already analysed (or queued) by that model is not queued twice. Prints one line per file: the analysis id and `queued`, `existing` or the reason it failed.

        Examples:
          forensight enqueue archive/ --queue postgres://forensight@db.lan/forensight --data /mnt/forensight
          forensight enqueue manifest.jsonl --data forensight-data        (the SQLite queue of a local server)
        """)

    @Argument(help: "Images, videos, folders of them, or manifests (.jsonl, forensight import).")
    var inputs: [String]

    @Option(help: "The PostgreSQL queue (default: the SQLite queue in --data).")
    var queue: String?

    @Option(help: "The data folder the servers and workers use.")
    var data = "forensight-data"

    @Option(help: "Detector weights: jobs are keyed by this model's version (default: the shipped model).")
    var model: String?

    @Option(help: "Largest file, in bytes or with K, M, G.")
    var maxUpload = "200M"

    func run() throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var found: [String] = []
        var problems = 0
        for input in inputs where input.hasSuffix(".jsonl") {
            do { found += try Manifest.read(from: input).map(\.path) } catch { note("forensight: \(error)"); problems += 1 }
        }
        let (files, missing) = MediaFiles.collect(inputs.filter { !$0.hasSuffix(".jsonl") })
        for m in missing { note("forensight: \(m)") }
        found += files
        guard let limit = Serve.bytes(maxUpload) else { throw ValidationError("--max-upload takes a size such as 200M") }
        guard let modelPath = model ?? ModelLocations.defaultModel() else { throw fail("no detector found; pass --model FILE") }
        let version: String
        do { version = try PipelineAnalyzer.modelVersion(ofModelAt: modelPath) } catch { throw fail("\(error)") }
        let queue = self.queue, data = self.data, paths = found
        let outcomes = OutcomeList()
        let error = waitFor {
            let media = try MediaStore(dataDirectory: data, removingPartialUploads: false)
            if let queue {
                let store = try PostgresJobStore(url: queue)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await store.run() }
                    outcomes.items = await Enqueue.files(paths, queue: store, media: media, model: version, limit: limit)
                    group.cancelAll()
                }
            } else {
                outcomes.items = await Enqueue.files(paths, queue: try JobStore(dataDirectory: data), media: media, model: version, limit: limit)
            }
        }
        if let error { throw fail(error) }
        for (path, outcome) in zip(paths, outcomes.items) {
            switch outcome {
            case .queued(let id): print("\(id) queued \(path)")
            case .existing(let id): print("\(id) existing \(path)")
            case .failed(let reason): note("forensight: \(reason)"); problems += 1
            }
        }
        if problems + missing.count > 0 { throw ExitCode(1) }
    }
}

extension Worker {
    /// The queue URL without its password, for logs.
    static func redacted(_ url: String) -> String {
        guard var parts = URLComponents(string: url), parts.password != nil else { return url }
        parts.password = "***"
        return parts.string ?? "postgres://…"
    }
}

/// Enqueue's outcomes, filled in by its async task.
private final class OutcomeList: @unchecked Sendable { var items: [Enqueue.Outcome] = [] }
