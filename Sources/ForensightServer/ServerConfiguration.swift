import Foundation

/// How `forensight serve` runs: where it listens, where it keeps its data, and its limits.
public struct ServerConfiguration: Sendable {
    /// Address to bind: loopback by default. Any other address needs `token`.
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// Holds `jobs.sqlite` (the job table), `media/` (uploads by SHA-256) and `tmp/` (uploads being received).
    public var dataDirectory: String
    /// Analyses run at once (each in a child process with `forensight serve`).
    public var workers: Int = 1
    /// Largest accepted upload, bytes, enforced while the body streams in.
    public var maxUploadBytes: Int = 200 << 20
    /// Bearer token every request must carry (`Authorization: Bearer …`); required when `host` is not loopback.
    public var token: String?
    /// Jobs that may wait (queued or running) before new uploads get `503` with `Retry-After`.
    public var queueCapacity: Int = 64
    /// An analysis running longer than this fails with "timed out".
    public var jobTimeoutSeconds: Double = 600
    /// Seconds a client is told to wait when the queue is full.
    public var retryAfterSeconds: Int = 30
    /// Finished analyses older than this many days are deleted (checked at start and hourly); nil keeps them all.
    public var retentionDays: Double?
    /// Analyses listed per page (REST and history page) when the client does not ask.
    public var pageSize: Int = 20

    public init(dataDirectory: String) { self.dataDirectory = dataDirectory }

    /// Whether `host` only accepts connections from this machine.
    public var bindsLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Why this configuration cannot run, or nil when it can.
    public var problem: String? {
        if !bindsLoopback && (token ?? "").isEmpty { return "binding to \(host) (not loopback) needs --token" }
        if !(1...65535).contains(port) { return "--port must be between 1 and 65535" }
        if workers < 0 || workers > 64 { return "--workers must be between 0 and 64" }
        if maxUploadBytes < 1 { return "--max-upload must be positive" }
        if queueCapacity < 1 { return "the queue capacity must be positive" }
        if let retentionDays, retentionDays <= 0 { return "--retention-days must be positive" }
        return nil
    }
}
