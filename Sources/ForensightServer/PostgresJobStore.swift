import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// The job table on PostgreSQL (postgres-nio), shared by any number of `forensight serve` and `forensight worker`
/// processes on any number of machines (docs/SCALE.md).
///
/// Workers claim jobs with `SELECT … FOR UPDATE SKIP LOCKED`, so two never take the same job. A claimed job holds a
/// lease (`leaseSeconds`, on the database's clock) that the worker renews while it analyses; when a worker dies, its
/// lease expires and the next claim takes the job over (one more attempt). Results are committed only for the
/// running attempt, so a job taken over commits exactly one result. Media is not in the database: every machine
/// reads the same `--data` folder (a shared file system), where uploads are named by their SHA-256.
///
/// It is a `Service`: its connection pool runs while the service runs.
public final class PostgresJobStore: JobQueue, Service {
    /// How often a worker renews the lease of the job it is analysing.
    public static let renewalSeconds: Double = 20

    /// How long a claimed job stays with its worker without a renewal (three renewals by default).
    public let leaseSeconds: Double
    let client: PostgresClient
    let logger: Logger
    private let schema = SchemaOnce()

    /// - Parameter url: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (no TLS: loopback or a private network).
    public init(url: String, leaseSeconds: Double = 60, logger: Logger = Logger(label: "forensight.queue")) throws {
        guard let parts = URLComponents(string: url), ["postgres", "postgresql"].contains(parts.scheme ?? ""),
              let host = parts.host, !host.isEmpty else {
            throw ServerFailure("--queue takes postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        let database = String(parts.path.drop(while: { $0 == "/" }))
        let configuration = PostgresClient.Configuration(host: host, port: parts.port ?? 5432, username: parts.user ?? "postgres",
                                                         password: parts.password, database: database.isEmpty ? nil : database, tls: .disable)
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
        self.leaseSeconds = leaseSeconds
    }

    /// Runs the connection pool until graceful shutdown.
    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.client.run() }
    }

    static let columns = "id, sha256, model, filename, media_kind, media_format, size, status, attempts, error, result, created_at, started_at, finished_at"
    /// The database's clock, Unix seconds: leases compare times written by different machines.
    static let now = "EXTRACT(EPOCH FROM clock_timestamp())::double precision"

    /// Creates the tables once per process (under an advisory lock, so machines starting together do not race).
    func ready() async throws {
        try await schema.run { [client, logger] in
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(7265321)", logger: logger)
                try await connection.query("""
                    CREATE TABLE IF NOT EXISTS analyses (
                        id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, model TEXT NOT NULL, filename TEXT NOT NULL,
                        media_kind TEXT NOT NULL, media_format TEXT NOT NULL, size BIGINT NOT NULL, status TEXT NOT NULL,
                        attempts BIGINT NOT NULL DEFAULT 0, error TEXT, result TEXT, created_at DOUBLE PRECISION NOT NULL,
                        started_at DOUBLE PRECISION, finished_at DOUBLE PRECISION, lease_until DOUBLE PRECISION,
                        UNIQUE (sha256, model))
                    """, logger: logger)
                try await connection.query("CREATE INDEX IF NOT EXISTS analyses_waiting ON analyses (model, status, created_at)", logger: logger)
                try await connection.query("CREATE INDEX IF NOT EXISTS analyses_by_time ON analyses (created_at)", logger: logger)
                try await connection.query("""
                    CREATE TABLE IF NOT EXISTS artifacts (
                        analysis_id TEXT NOT NULL REFERENCES analyses(id) ON DELETE CASCADE, name TEXT NOT NULL,
                        media_type TEXT NOT NULL, bytes BYTEA NOT NULL, PRIMARY KEY (analysis_id, name))
                    """, logger: logger)
            }
        }
    }

    func records(_ query: PostgresQuery) async throws -> [AnalysisRecord] {
        try await ready()
        var out: [AnalysisRecord] = []
        let rows = try await client.query(query, logger: logger)
        for try await (id, sha, model, filename, kind, format, size, status, attempts, error, result, created, started, finished)
                in rows.decode((String, String, String, String, String, String, Int, String, Int, String?, String?, Double, Double?, Double?).self) {
            out.append(AnalysisRecord(id: id, sha256: sha, model: model, filename: filename, mediaKind: kind, mediaFormat: format, size: size,
                                      status: AnalysisRecord.Status(rawValue: status) ?? .failed, attempts: attempts, error: error, result: result,
                                      createdAt: created, startedAt: started, finishedAt: finished))
        }
        return out
    }

    func count(_ query: PostgresQuery) async throws -> Int {
        try await ready()
        for try await (n) in try await client.query(query, logger: logger).decode(Int.self) { return n }
        return 0
    }

    public func submit(sha256: String, model: String, filename: String, kind: String, format: String, size: Int, capacity: Int) async throws
        -> JobStore.Submission {
        let id = AnalysisID.make(), now = Date().timeIntervalSince1970
        if let created = try await records("""
            INSERT INTO analyses (id, sha256, model, filename, media_kind, media_format, size, status, attempts, created_at)
            SELECT \(id), \(sha256), \(model), \(filename), \(kind), \(format), \(size), 'queued', 0, \(now)
            WHERE (SELECT count(*) FROM analyses WHERE model = \(model) AND status IN ('queued', 'running')) < \(capacity)
            ON CONFLICT (sha256, model) DO NOTHING RETURNING \(unescaped: Self.columns)
            """).first {
            return .created(created)
        }
        guard let existing = try await records("SELECT \(unescaped: Self.columns) FROM analyses WHERE sha256 = \(sha256) AND model = \(model)").first else {
            throw JobStore.QueueFull()
        }
        guard existing.status == .failed else { return .existing(existing) }
        guard try await pendingCount(model: model) < capacity else { throw JobStore.QueueFull() }
        let requeued = try await records("""
            UPDATE analyses SET status = 'queued', error = NULL, result = NULL, finished_at = NULL, lease_until = NULL
            WHERE id = \(existing.id) AND status = 'failed' RETURNING \(unescaped: Self.columns)
            """)
        return .existing(requeued.first ?? existing)
    }

    public func claimNext(model: String) async throws -> AnalysisRecord? {
        try await records("""
            UPDATE analyses SET status = 'running', attempts = attempts + 1, started_at = \(unescaped: Self.now),
                lease_until = \(unescaped: Self.now) + \(leaseSeconds)
            WHERE id = (SELECT id FROM analyses WHERE model = \(model)
                        AND (status = 'queued' OR (status = 'running' AND lease_until < \(unescaped: Self.now)))
                        ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1)
            RETURNING \(unescaped: Self.columns)
            """).first
    }

    public func renewLease(id: String, attempt: Int) async throws {
        try await ready()
        try await client.query("""
            UPDATE analyses SET lease_until = \(unescaped: Self.now) + \(leaseSeconds)
            WHERE id = \(id) AND status = 'running' AND attempts = \(attempt)
            """, logger: logger)
    }

    public func complete(id: String, attempt: Int, result: String, artifacts: [(name: String, mediaType: String, bytes: [UInt8])]) async throws -> Bool {
        try await ready()
        let now = Date().timeIntervalSince1970, logger = logger
        let files = artifacts.map { (name: $0.name, mediaType: $0.mediaType, bytes: ByteBuffer(bytes: $0.bytes)) }
        return try await client.withTransaction(logger: logger) { connection in
            var updated = false
            for try await _ in try await connection.query("""
                UPDATE analyses SET status = 'done', result = \(result), error = NULL, finished_at = \(now), lease_until = NULL
                WHERE id = \(id) AND status = 'running' AND attempts = \(attempt) RETURNING id
                """, logger: logger).decode(String.self) { updated = true }
            guard updated else { return false }
            for file in files {
                try await connection.query("""
                    INSERT INTO artifacts (analysis_id, name, media_type, bytes) VALUES (\(id), \(file.name), \(file.mediaType), \(file.bytes))
                    ON CONFLICT (analysis_id, name) DO UPDATE SET media_type = EXCLUDED.media_type, bytes = EXCLUDED.bytes
                    """, logger: logger)
            }
            return true
        }
    }

    public func fail(id: String, attempt: Int, reason: String) async throws -> Bool {
        let line = String((reason.split(whereSeparator: \.isNewline).first.map(String.init) ?? "failed").prefix(500))
        let now = Date().timeIntervalSince1970
        return try await count("""
            WITH failed AS (UPDATE analyses SET status = 'failed', error = \(line), finished_at = \(now), lease_until = NULL
                            WHERE id = \(id) AND status = 'running' AND attempts = \(attempt) RETURNING id)
            SELECT count(*) FROM failed
            """) == 1
    }

    /// Nothing to do: another machine may be running those jobs; expired leases hand over the dead ones.
    public func requeueInterrupted() async throws -> Int { 0 }

    public func record(id: String) async throws -> AnalysisRecord? {
        try await records("SELECT \(unescaped: Self.columns) FROM analyses WHERE id = \(id)").first
    }

    public func page(offset: Int, limit: Int) async throws -> (records: [AnalysisRecord], total: Int) {
        let page = try await records("SELECT \(unescaped: Self.columns) FROM analyses ORDER BY created_at DESC, id LIMIT \(limit) OFFSET \(offset)")
        return (page, try await count("SELECT count(*) FROM analyses"))
    }

    public func delete(id: String) async throws -> (record: AnalysisRecord, mediaStillUsed: Bool)? {
        guard let record = try await records("DELETE FROM analyses WHERE id = \(id) RETURNING \(unescaped: Self.columns)").first else { return nil }
        return (record, try await isMediaReferenced(sha256: record.sha256))
    }

    public func artifact(id: String, name: String) async throws -> (mediaType: String, bytes: [UInt8])? {
        try await ready()
        let rows = try await client.query("SELECT media_type, bytes FROM artifacts WHERE analysis_id = \(id) AND name = \(name)", logger: logger)
        for try await (type, bytes) in rows.decode((String, ByteBuffer).self) { return (type, Array(bytes.readableBytesView)) }
        return nil
    }

    public func artifactNames(id: String) async throws -> [String] {
        try await ready()
        var names: [String] = []
        for try await name in try await client.query("SELECT name FROM artifacts WHERE analysis_id = \(id) ORDER BY name", logger: logger)
            .decode(String.self) { names.append(name) }
        return names
    }

    public func countsByStatus() async throws -> [AnalysisRecord.Status: Int] {
        try await ready()
        var counts: [AnalysisRecord.Status: Int] = [:]
        for try await (status, n) in try await client.query("SELECT status, count(*) FROM analyses GROUP BY status", logger: logger)
            .decode((String, Int).self) {
            if let s = AnalysisRecord.Status(rawValue: status) { counts[s] = n }
        }
        return counts
    }

    public func isMediaReferenced(sha256: String) async throws -> Bool {
        try await count("SELECT count(*) FROM analyses WHERE sha256 = \(sha256)") > 0
    }

    public func pendingCount(model: String) async throws -> Int {
        try await count("SELECT count(*) FROM analyses WHERE model = \(model) AND status IN ('queued', 'running')")
    }

    public func prune(finishedBefore cutoff: Double) async throws -> [String] {
        let gone = try await records("""
            DELETE FROM analyses WHERE status IN ('done', 'failed') AND finished_at < \(cutoff) RETURNING \(unescaped: Self.columns)
            """)
        var unused: [String] = []
        for sha in Set(gone.map(\.sha256)).sorted() where try await !isMediaReferenced(sha256: sha) { unused.append(sha) }
        return unused
    }

    /// Drops the tables (tests start from an empty queue).
    public func dropTables() async throws {
        try await client.query("DROP TABLE IF EXISTS artifacts, analyses", logger: logger)
        await schema.reset()
    }
}

/// Runs the schema creation once per process; a failure (database not up yet) lets the next call try again.
actor SchemaOnce {
    private var task: Task<Void, any Error>?

    func run(_ body: @escaping @Sendable () async throws -> Void) async throws {
        if task == nil { task = Task { try await body() } }
        do { try await task!.value } catch { task = nil; throw error }
    }

    func reset() { task = nil }
}
