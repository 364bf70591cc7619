import Foundation
import GRDB

/// One analysis: an uploaded file (by content hash), the model that analyses it, and where its job stands.
public struct AnalysisRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "analyses"

    /// queued → running → done / failed.
    public enum Status: String, Codable, Sendable, CaseIterable { case queued, running, done, failed }

    public var id: String
    public var sha256: String
    /// The model version: card id and weights hash (`JobStore` keeps one analysis per file and model).
    public var model: String
    /// The name the client gave the file (for display only; never used as a path).
    public var filename: String
    public var mediaKind: String
    public var mediaFormat: String
    public var size: Int
    public var status: Status
    /// How many times a worker took the job; the running attempt's number guards its result.
    public var attempts: Int
    /// Why it failed, one line.
    public var error: String?
    /// The `detect --json` record, when done.
    public var result: String?
    public var createdAt: Double
    public var startedAt: Double?
    public var finishedAt: Double?

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case id, sha256, model, filename, mediaKind = "media_kind", mediaFormat = "media_format", size, status, attempts, error, result
        case createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at"
    }
}

/// The job table in SQLite (GRDB): every state change is one committed transaction (WAL, `synchronous=FULL`), so
/// what a client was told survives a crash of the server at any moment.
public final class JobStore: Sendable {
    /// The queue holds as many jobs as it may.
    public struct QueueFull: Error {}

    let database: DatabaseQueue

    /// Opens (creating and migrating) `<dataDirectory>/jobs.sqlite`.
    public init(dataDirectory: String) throws {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        var configuration = Configuration()
        // Another process (`forensight enqueue`) may write at the same moment: wait for its lock instead of failing.
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        database = try DatabaseQueue(path: (dataDirectory as NSString).appendingPathComponent("jobs.sqlite"), configuration: configuration)
        try database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
        try Self.migrator.migrate(database)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE analyses (
                    id TEXT PRIMARY KEY NOT NULL, sha256 TEXT NOT NULL, model TEXT NOT NULL, filename TEXT NOT NULL,
                    media_kind TEXT NOT NULL, media_format TEXT NOT NULL, size INTEGER NOT NULL, status TEXT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0, error TEXT, result TEXT,
                    created_at DOUBLE NOT NULL, started_at DOUBLE, finished_at DOUBLE,
                    UNIQUE (sha256, model));
                CREATE INDEX analyses_by_status ON analyses (status, created_at);
                CREATE INDEX analyses_by_time ON analyses (created_at);
                CREATE TABLE artifacts (
                    analysis_id TEXT NOT NULL REFERENCES analyses(id) ON DELETE CASCADE, name TEXT NOT NULL,
                    media_type TEXT NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY (analysis_id, name));
                """)
        }
        return migrator
    }

    /// What `submit` did: a new job, or the analysis this file and model already have.
    public enum Submission: Sendable {
        case created(AnalysisRecord)
        case existing(AnalysisRecord)
        public var record: AnalysisRecord { switch self { case .created(let r), .existing(let r): r } }
    }

    /// Queues a job for `media` (already stored) unless the same file and model have an analysis: that one is
    /// returned (a failed one is queued again). Throws `QueueFull` when `capacity` jobs are queued or running.
    public func submit(sha256: String, model: String, filename: String, kind: String, format: String, size: Int, capacity: Int) throws -> Submission {
        let now = Date().timeIntervalSince1970
        return try database.write { db in
            let pending = try Self.pending(model: model).fetchCount(db)
            if var existing = try AnalysisRecord.filter(AnalysisRecord.CodingKeys.sha256 == sha256 && AnalysisRecord.CodingKeys.model == model)
                .fetchOne(db) {
                guard existing.status == .failed else { return .existing(existing) }
                guard pending < capacity else { throw QueueFull() }
                (existing.status, existing.error, existing.result, existing.finishedAt) = (.queued, nil, nil, nil)
                try existing.update(db)
                return .existing(existing)
            }
            guard pending < capacity else { throw QueueFull() }
            let record = AnalysisRecord(id: AnalysisID.make(), sha256: sha256, model: model, filename: filename, mediaKind: kind,
                                        mediaFormat: format, size: size, status: .queued, attempts: 0, error: nil, result: nil,
                                        createdAt: now, startedAt: nil, finishedAt: nil)
            try record.insert(db)
            return .created(record)
        }
    }

    /// Jobs of `model` that are queued or running. Jobs of another model version (queued before the server changed
    /// models) are neither counted nor run: their record names the model that must produce their result.
    static func pending(model: String) -> QueryInterfaceRequest<AnalysisRecord> {
        AnalysisRecord.filter([AnalysisRecord.Status.queued.rawValue, AnalysisRecord.Status.running.rawValue].contains(AnalysisRecord.CodingKeys.status)
                              && AnalysisRecord.CodingKeys.model == model)
    }

    /// Marks the oldest queued job of `model` running (one more attempt) and returns it; nil when none waits.
    public func claimNext(model: String) throws -> AnalysisRecord? {
        let now = Date().timeIntervalSince1970
        return try database.write { db in
            guard var job = try AnalysisRecord.filter(AnalysisRecord.CodingKeys.status == AnalysisRecord.Status.queued.rawValue
                                                      && AnalysisRecord.CodingKeys.model == model)
                .order(AnalysisRecord.CodingKeys.createdAt).fetchOne(db) else { return nil }
            (job.status, job.attempts, job.startedAt) = (.running, job.attempts + 1, now)
            try job.update(db)
            return job
        }
    }

    /// Commits the result of attempt `attempt` of job `id`, with its explanation files, if that attempt is still the
    /// running one. Returns false (and commits nothing) otherwise: the job was deleted, timed out or taken over, so
    /// at most one result is ever committed per job.
    @discardableResult
    public func complete(id: String, attempt: Int, result: String, artifacts: [(name: String, mediaType: String, bytes: [UInt8])]) throws -> Bool {
        let now = Date().timeIntervalSince1970
        return try database.write { db in
            try db.execute(sql: "UPDATE analyses SET status = 'done', result = ?, error = NULL, finished_at = ? WHERE id = ? AND status = 'running' AND attempts = ?",
                           arguments: [result, now, id, attempt])
            guard db.changesCount == 1 else { return false }
            for artifact in artifacts {
                try db.execute(sql: "INSERT OR REPLACE INTO artifacts (analysis_id, name, media_type, bytes) VALUES (?, ?, ?, ?)",
                               arguments: [id, artifact.name, artifact.mediaType, Data(artifact.bytes)])
            }
            return true
        }
    }

    /// Marks attempt `attempt` of job `id` failed with a one-line reason, under the same guard as `complete`.
    @discardableResult
    public func fail(id: String, attempt: Int, reason: String) throws -> Bool {
        let now = Date().timeIntervalSince1970
        let line = reason.split(whereSeparator: \.isNewline).first.map(String.init) ?? "failed"
        return try database.write { db in
            try db.execute(sql: "UPDATE analyses SET status = 'failed', error = ?, finished_at = ? WHERE id = ? AND status = 'running' AND attempts = ?",
                           arguments: [String(line.prefix(500)), now, id, attempt])
            return db.changesCount == 1
        }
    }

    /// Puts every job left `running` (by a server that stopped or was killed) back in the queue; returns how many.
    @discardableResult
    public func requeueInterrupted() throws -> Int {
        try database.write { db in
            try db.execute(sql: "UPDATE analyses SET status = 'queued', started_at = NULL WHERE status = 'running'")
            return db.changesCount
        }
    }

    /// The analysis with this id.
    public func record(id: String) throws -> AnalysisRecord? {
        try database.read { db in try AnalysisRecord.fetchOne(db, key: id) }
    }

    /// One page of analyses, newest first, and how many there are.
    public func page(offset: Int, limit: Int) throws -> (records: [AnalysisRecord], total: Int) {
        try database.read { db in
            let records = try AnalysisRecord.order(AnalysisRecord.CodingKeys.createdAt.desc, AnalysisRecord.CodingKeys.id)
                .limit(limit, offset: offset).fetchAll(db)
            return (records, try AnalysisRecord.fetchCount(db))
        }
    }

    /// Deletes an analysis and its explanation files. Returns the deleted record and whether its media is still used
    /// by another analysis (another model's); nil when there was none.
    public func delete(id: String) throws -> (record: AnalysisRecord, mediaStillUsed: Bool)? {
        try database.write { db in
            guard let record = try AnalysisRecord.fetchOne(db, key: id) else { return nil }
            try db.execute(sql: "DELETE FROM artifacts WHERE analysis_id = ?", arguments: [id])
            _ = try record.delete(db)
            let others = try AnalysisRecord.filter(AnalysisRecord.CodingKeys.sha256 == record.sha256).fetchCount(db)
            return (record, others > 0)
        }
    }

    /// An explanation file of an analysis.
    public func artifact(id: String, name: String) throws -> (mediaType: String, bytes: [UInt8])? {
        try database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT media_type, bytes FROM artifacts WHERE analysis_id = ? AND name = ?",
                                             arguments: [id, name]) else { return nil }
            let data: Data = row["bytes"]
            return (row["media_type"], [UInt8](data))
        }
    }

    /// The names of an analysis's explanation files, sorted.
    public func artifactNames(id: String) throws -> [String] {
        try database.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM artifacts WHERE analysis_id = ? ORDER BY name", arguments: [id])
        }
    }

    /// How many jobs are in each state.
    public func countsByStatus() throws -> [AnalysisRecord.Status: Int] {
        try database.read { db in
            var counts: [AnalysisRecord.Status: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM analyses GROUP BY status") {
                if let status = AnalysisRecord.Status(rawValue: row["status"]) { counts[status] = row["n"] }
            }
            return counts
        }
    }
}

extension JobStore {
    /// Whether any analysis refers to the media with this hash (else its file may be deleted).
    public func isMediaReferenced(sha256: String) throws -> Bool {
        try database.read { db in try AnalysisRecord.filter(AnalysisRecord.CodingKeys.sha256 == sha256).fetchCount(db) > 0 }
    }

    /// How many jobs of `model` are queued or running.
    public func pendingCount(model: String) throws -> Int {
        try database.read { db in try Self.pending(model: model).fetchCount(db) }
    }
}

extension JobStore {
    /// Deletes finished (done or failed) analyses that finished before `cutoff` (Unix seconds), with their
    /// explanation files. Returns the hashes of media no analysis refers to any more, for the media store to delete.
    public func prune(finishedBefore cutoff: Double) throws -> [String] {
        try database.write { db in
            let old = try AnalysisRecord.filter([AnalysisRecord.Status.done.rawValue, AnalysisRecord.Status.failed.rawValue]
                                                    .contains(AnalysisRecord.CodingKeys.status)
                                                && AnalysisRecord.CodingKeys.finishedAt < cutoff).fetchAll(db)
            for record in old {
                try db.execute(sql: "DELETE FROM artifacts WHERE analysis_id = ?", arguments: [record.id])
                _ = try record.delete(db)
            }
            return try Set(old.map(\.sha256)).filter { sha in
                try AnalysisRecord.filter(AnalysisRecord.CodingKeys.sha256 == sha).fetchCount(db) == 0
            }.sorted()
        }
    }
}
