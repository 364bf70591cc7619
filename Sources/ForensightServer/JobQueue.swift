/// The job table, wherever it lives: SQLite on this machine (`JobStore`, one server) or PostgreSQL shared by any
/// number of servers and workers (`PostgresJobStore`). Routes and workers see only this.
///
/// Every implementation keeps the same promises: a job row is committed before `submit` returns; one analysis per
/// (file, model version); `claimNext` hands a job to one worker at a time; `complete` and `fail` take effect only
/// for the attempt that is still running, so each job commits exactly one outcome.
public protocol JobQueue: Sendable {
    /// Queues a job for stored media, or returns the analysis this file and model already have (a failed one is
    /// queued again). Throws `JobStore.QueueFull` when `capacity` jobs of `model` are queued or running.
    func submit(sha256: String, model: String, filename: String, kind: String, format: String, size: Int, capacity: Int) async throws
        -> JobStore.Submission
    /// Marks the oldest waiting job of `model` running (one more attempt) and returns it.
    func claimNext(model: String) async throws -> AnalysisRecord?
    /// Tells the queue the running attempt is alive (extends its lease where jobs have one).
    func renewLease(id: String, attempt: Int) async throws
    /// Commits the result of a running attempt; false (nothing committed) when the attempt is no longer running.
    @discardableResult
    func complete(id: String, attempt: Int, result: String, artifacts: [(name: String, mediaType: String, bytes: [UInt8])]) async throws -> Bool
    /// Marks a running attempt failed with a one-line reason, under the same guard as `complete`.
    @discardableResult
    func fail(id: String, attempt: Int, reason: String) async throws -> Bool
    /// At start: queues again the jobs a stopped server left running (where no other machine may be running them).
    @discardableResult
    func requeueInterrupted() async throws -> Int
    func record(id: String) async throws -> AnalysisRecord?
    /// Newest first, and the total count.
    func page(offset: Int, limit: Int) async throws -> (records: [AnalysisRecord], total: Int)
    /// Deletes an analysis and its explanation files; the deleted record and whether its media is still used.
    func delete(id: String) async throws -> (record: AnalysisRecord, mediaStillUsed: Bool)?
    func artifact(id: String, name: String) async throws -> (mediaType: String, bytes: [UInt8])?
    func artifactNames(id: String) async throws -> [String]
    func countsByStatus() async throws -> [AnalysisRecord.Status: Int]
    func isMediaReferenced(sha256: String) async throws -> Bool
    func pendingCount(model: String) async throws -> Int
    /// Deletes finished analyses older than `cutoff`; the hashes of media no longer used.
    func prune(finishedBefore cutoff: Double) async throws -> [String]
}

extension JobStore: JobQueue {
    /// SQLite jobs have no lease: one server owns the table, and a restart re-queues its running jobs.
    public func renewLease(id: String, attempt: Int) throws {}
}
