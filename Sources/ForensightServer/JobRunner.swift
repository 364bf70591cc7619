import Foundation
import ServiceLifecycle
import Logging

/// The workers: each takes the oldest queued job, has the analyzer run it (`Analyzer.run`: `forensight serve` uses
/// a `ProcessAnalyzer`, one child process per analysis, so a crash or a runaway analysis cannot take the server down)
/// and commits the result or the failure.
///
/// A job that outlives the timeout fails at the deadline ("timed out …"); a `ProcessAnalyzer` kills its child then.
/// A late result is refused by the store (`JobStore.complete` only accepts the running attempt), so each job gets
/// exactly one outcome.
public final class JobRunner: Service, Sendable {
    let store: any JobQueue
    let media: MediaStore
    let analyzer: any Analyzer
    let workers: Int
    let timeoutSeconds: Double
    let metrics: ServerMetrics
    let logger: Logger
    let doorbell = Doorbell()
    let board = ProgressBoard()
    /// Seconds finished analyses are kept (`ServerConfiguration.retentionDays`); nil keeps them.
    let retentionSeconds: Double?

    /// Workers over `store` and `media`; `ForensightServer` makes the one it runs.
    public init(store: any JobQueue, media: MediaStore, analyzer: any Analyzer, workers: Int, timeoutSeconds: Double, metrics: ServerMetrics,
         logger: Logger, retentionSeconds: Double? = nil) {
        self.retentionSeconds = retentionSeconds
        (self.store, self.media, self.analyzer, self.workers) = (store, media, analyzer, workers)
        (self.timeoutSeconds, self.metrics, self.logger) = (timeoutSeconds, metrics, logger)
    }

    /// Runs `workers` workers until graceful shutdown. Jobs still running then stay `running` in the table and are
    /// queued again by the next start (`JobStore.requeueInterrupted`).
    public func run() async throws {
        guard workers > 0 else { try? await gracefulShutdown(); return }
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                if self.retentionSeconds != nil {
                    group.addTask {
                        while !Task.isCancelled {
                            await self.pruneExpired()
                            try? await Task.sleep(for: .seconds(3600))
                        }
                    }
                }
                for _ in 0..<self.workers {
                    group.addTask {
                        while !Task.isCancelled {
                            if await !self.runNext() { await self.doorbell.wait(upToSeconds: 2) }
                        }
                    }
                }
            }
        }
    }

    /// Deletes the analyses older than the retention, and their media when nothing else uses it.
    public func pruneExpired(now: Double = Date().timeIntervalSince1970) async {
        guard let retentionSeconds else { return }
        do {
            for sha in try await store.prune(finishedBefore: now - retentionSeconds) { media.remove(sha256: sha) }
        } catch {
            logger.error("cannot delete expired analyses: \(error)")
        }
    }

    /// Tells idle workers a job was queued.
    func jobQueued() { Task { await doorbell.ring() } }

    /// Processes queued jobs one after another until none is left (tests, and servers without workers).
    public func processQueued() async {
        while await runNext() {}
    }

    /// Claims and processes one job; false when none was queued.
    func runNext() async -> Bool {
        let job: AnalysisRecord
        do {
            guard let claimed = try await store.claimNext(model: analyzer.modelVersion) else { return false }
            job = claimed
        } catch {
            logger.error("cannot claim a job: \(error)")
            return false
        }
        await process(job)
        return true
    }

    func process(_ job: AnalysisRecord) async {
        guard let path = media.path(sha256: job.sha256), FileManager.default.fileExists(atPath: path) else {
            await finish(job, with: .failure(ServerFailure("the uploaded file is missing from the media store")), seconds: 0)
            return
        }
        let (store, id, attempt) = (store, job.id, job.attempts)
        // While the analysis runs, its lease is renewed (PostgreSQL queues hand an expired lease's job to another worker).
        let heartbeat = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(PostgresJobStore.renewalSeconds))
                try await store.renewLease(id: id, attempt: attempt)
            }
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let board = board
        let outcome = await analyzer.run(path: path, name: job.filename, timeoutSeconds: timeoutSeconds) { board.set(id, done: $0, planned: $1) }
        board.remove(id)
        heartbeat.cancel()
        // Stopped by a graceful shutdown: the job stays running and is queued again by the next start.
        if Task.isCancelled, case .failure = outcome { return }
        await finish(job, with: outcome, seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
    }

    /// Commits a job's outcome (refused, and only logged, when the attempt is no longer the running one).
    func finish(_ job: AnalysisRecord, with outcome: Result<AnalysisOutput, any Error>, seconds: Double) async {
        do {
            switch outcome {
            case .success(let output):
                let json = String(decoding: try output.verdict.jsonData(), as: UTF8.self)
                let artifacts = output.artifacts.map { (name: $0.name, mediaType: $0.mediaType, bytes: $0.bytes) }
                if try await store.complete(id: job.id, attempt: job.attempts, result: json, artifacts: artifacts) {
                    metrics.jobsDone.increment()
                    metrics.analysisSeconds.record(seconds)
                } else {
                    logger.notice("analysis \(job.id): result of attempt \(job.attempts) not committed (deleted, timed out or taken over)")
                }
            case .failure(let error):
                if try await store.fail(id: job.id, attempt: job.attempts, reason: "\(error)") { metrics.jobsFailed.increment() }
            }
        } catch {
            logger.error("analysis \(job.id): cannot commit its outcome: \(error)")
        }
    }
}

extension JobRunner {
    /// How far this process's analysis of job `id` has got: frames decoded and planned (nil when not running here).
    public func progress(of id: String) -> (done: Int, planned: Int?)? { board.get(id) }
}

/// Frames done per running job, written by the analysis threads and read by the routes.
final class ProgressBoard: @unchecked Sendable {
    private let lock = NSLock()
    private var frames: [String: (done: Int, planned: Int?)] = [:]

    func set(_ id: String, done: Int, planned: Int?) { lock.withLock { frames[id] = (done, planned) } }
    func remove(_ id: String) { _ = lock.withLock { frames.removeValue(forKey: id) } }
    func get(_ id: String) -> (done: Int, planned: Int?)? { lock.withLock { frames[id] } }
}

/// A failure of the server's own making, with a one-line description.
public struct ServerFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Wakes idle workers when a job is queued; they also look again every few seconds on their own.
actor Doorbell {
    private var waiting: [Int: CheckedContinuation<Void, Never>] = [:]
    private var next = 0

    func ring() {
        let all = waiting
        waiting = [:]
        for continuation in all.values { continuation.resume() }
    }

    /// Returns when rung, after `seconds`, or when the task is cancelled (graceful shutdown), whichever comes first.
    func wait(upToSeconds seconds: Double) async {
        let ticket = next
        next += 1
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                guard !Task.isCancelled else { return continuation.resume() }
                waiting[ticket] = continuation
                Task { [weak self] in
                    try? await Task.sleep(for: .seconds(seconds))
                    await self?.expire(ticket)
                }
            }
        } onCancel: {
            Task { await self.expire(ticket) }
        }
    }

    private func expire(_ ticket: Int) {
        waiting.removeValue(forKey: ticket)?.resume()
    }
}
