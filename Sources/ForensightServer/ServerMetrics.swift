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
        uploadsAccepted = registry.makeCounter(descriptor: Self.name("uploads_accepted", "total", "Uploads answered 202 with a new job."))
        uploadsDeduplicated = registry.makeCounter(descriptor: Self.name("uploads_deduplicated", "total",
                                                                        "Uploads answered with the existing analysis of the same file and model."))
        jobsDone = registry.makeCounter(descriptor: Self.name("jobs_done", "total", "Jobs that committed a result."))
        jobsFailed = registry.makeCounter(descriptor: Self.name("jobs_failed", "total", "Jobs that failed (unreadable media, timeout, ...)."))
        analysisSeconds = registry.makeValueHistogram(descriptor: Self.name("analysis", "seconds", "Wall time of one analysis."),
                                                      buckets: [0.5, 1, 2, 5, 10, 20, 40, 80, 160, 320])
        var gauges: [AnalysisRecord.Status: Gauge] = [:]
        for status in AnalysisRecord.Status.allCases {
            gauges[status] = registry.makeGauge(descriptor: Self.name("jobs", "", "Jobs by state."), labels: [("status", status.rawValue)])
        }
        jobGauges = gauges
    }

    /// `forensight_<metric>_<unit>`.
    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "forensight", metricName: metric, unitName: unit, helpText: help)
    }

    /// Rejected requests by error code (`too_large`, `queue_full`, …).
    func rejected(_ code: String) {
        registry.makeCounter(descriptor: Self.name("requests_rejected", "total", "Requests answered with an error."), labels: [("code", code)])
            .increment()
    }

    /// The text exposition, after reading the job counts from the store.
    func exposition(store: any JobQueue) async -> String {
        let counts = (try? await store.countsByStatus()) ?? [:]
        for (status, gauge) in jobGauges { gauge.set(Double(counts[status] ?? 0)) }
        return registry.emitToString()
    }
}
