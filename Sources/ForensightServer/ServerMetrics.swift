import Prometheus

/// The server's Prometheus metrics (swift-prometheus), served as text at `/metrics`. Each server has its own
/// registry, so several servers in one process (tests) do not share counts.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let uploadsAccepted: Counter
    let uploadsDeduplicated: Counter
    let jobsDone: Counter
    let jobsFailed: Counter
    let analysisSeconds: ValueHistogram
    let jobGauges: [AnalysisRecord.Status: Gauge]

    public init() {
        uploadsAccepted = registry.makeCounter(name: "forensight_uploads_accepted_total", help: "Uploads answered 202 with a new job.")
        uploadsDeduplicated = registry.makeCounter(name: "forensight_uploads_deduplicated_total",
                                                   help: "Uploads answered with the existing analysis of the same file and model.")
        jobsDone = registry.makeCounter(name: "forensight_jobs_done_total", help: "Jobs that committed a result.")
        jobsFailed = registry.makeCounter(name: "forensight_jobs_failed_total", help: "Jobs that failed (unreadable media, timeout, ...).")
        analysisSeconds = registry.makeValueHistogram(name: "forensight_analysis_seconds", buckets: [0.5, 1, 2, 5, 10, 20, 40, 80, 160, 320],
                                                      help: "Wall time of one analysis.")
        var gauges: [AnalysisRecord.Status: Gauge] = [:]
        for status in AnalysisRecord.Status.allCases {
            gauges[status] = registry.makeGauge(name: "forensight_jobs", labels: [("status", status.rawValue)], help: "Jobs by state.")
        }
        jobGauges = gauges
    }

    /// Rejected requests by error code (`too_large`, `queue_full`, …).
    func rejected(_ code: String) {
        registry.makeCounter(name: "forensight_requests_rejected_total", labels: [("code", code)], help: "Requests answered with an error.")
            .increment()
    }

    /// The text exposition, after reading the job counts from the store.
    func exposition(store: JobStore) -> String {
        let counts = (try? store.countsByStatus()) ?? [:]
        for (status, gauge) in jobGauges { gauge.set(Double(counts[status] ?? 0)) }
        return registry.emitToString()
    }
}
