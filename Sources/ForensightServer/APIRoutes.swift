import Foundation
import Hummingbird
import ForensightDetect

/// What the API says about an analysis (`GET /api/v1/analyses/{id}`); `result` is the `detect --json` record.
struct AnalysisSummary: Encodable {
    var id: String
    var status: String
    var statusURL: String
    var pageURL: String
    var filename: String
    var sha256: String
    var model: String
    var media: Media
    var attempts: Int
    var error: String?
    var createdAt: Double
    var startedAt: Double?
    var finishedAt: Double?
    var artifacts: [String]?
    var progress: Progress?
    var result: Verdict?

    /// Frames decoded so far of a running analysis (when it runs in the server that answers).
    struct Progress: Encodable {
        var framesDone: Int
        var framesPlanned: Int?
        enum CodingKeys: String, CodingKey { case framesDone = "frames_done", framesPlanned = "frames_planned" }
    }

    struct Media: Encodable { var kind: String; var format: String; var size: Int }

    enum CodingKeys: String, CodingKey {
        case id, status, statusURL = "status_url", pageURL = "page_url", filename, sha256, model, media, attempts, error
        case createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at", artifacts, progress, result
    }

    init(_ r: AnalysisRecord, artifacts: [String]? = nil, includeResult: Bool = false) {
        (id, status, filename, sha256, model, attempts, error) = (r.id, r.status.rawValue, r.filename, r.sha256, r.model, r.attempts, r.error)
        statusURL = "/api/v1/analyses/\(r.id)"
        pageURL = "/analyses/\(r.id)"
        media = Media(kind: r.mediaKind, format: r.mediaFormat, size: r.size)
        (createdAt, startedAt, finishedAt) = (r.createdAt, r.startedAt, r.finishedAt)
        self.artifacts = artifacts?.map { "/api/v1/analyses/\(r.id)/artifacts/\($0)" }
        if includeResult, let json = r.result { result = try? JSONDecoder().decode(Verdict.self, from: Data(json.utf8)) }
    }
}

/// A page of analyses (`GET /api/v1/analyses`).
struct AnalysisPage: Encodable {
    var items: [AnalysisSummary]
    var page: Int
    var perPage: Int
    var total: Int
    var next: String?
    enum CodingKeys: String, CodingKey { case items, page, perPage = "per_page", total, next }
}

/// JSON with sorted keys and unescaped slashes, the encoding `detect --json` uses.
func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var fields = headers
    fields[.contentType] = "application/json; charset=utf-8"
    return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}

extension ForensightServer {
    /// `page` and `per_page` from the query (1-based page; 1…100 per page), `invalid_query` when malformed.
    func paging(_ request: Request) throws -> (page: Int, perPage: Int) {
        let query = request.uri.queryParameters
        func number(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
            guard let text = query.get(name) else { return value }
            guard let n = Int(text), range.contains(n) else {
                throw APIError(.badRequest, "invalid_query", "`\(name)` must be a whole number in \(range.lowerBound)...\(range.upperBound)")
            }
            return n
        }
        return (try number("page", default: 1, range: 1...1_000_000), try number("per_page", default: configuration.pageSize, range: 1...100))
    }

    func addAPIRoutes(to router: Router<BasicRequestContext>) {
        let api = router.group("api/v1")

        api.post("analyses") { request, _ -> Response in
            let submission = try await self.accept(request)
            let summary = AnalysisSummary(submission.record)
            switch submission {
            case .created: return try jsonResponse(summary, status: .accepted, headers: [.location: summary.statusURL])
            case .existing: return try jsonResponse(summary, status: .ok, headers: [.location: summary.statusURL])
            }
        }

        api.get("analyses") { request, _ -> Response in
            let (page, perPage) = try self.paging(request)
            let (records, total) = try await self.store.page(offset: (page - 1) * perPage, limit: perPage)
            let next = page * perPage < total ? "/api/v1/analyses?page=\(page + 1)&per_page=\(perPage)" : nil
            return try jsonResponse(AnalysisPage(items: records.map { AnalysisSummary($0) }, page: page, perPage: perPage, total: total, next: next))
        }

        api.get("analyses/:id") { _, context -> Response in
            let record = try await self.analysis(context)
            var summary = AnalysisSummary(record, artifacts: try await self.store.artifactNames(id: record.id), includeResult: true)
            if record.status == .running, let frames = self.runner.progress(of: record.id) {
                summary.progress = .init(framesDone: frames.done, framesPlanned: frames.planned)
            }
            return try jsonResponse(summary)
        }

        api.delete("analyses/:id") { _, context -> Response in
            let id = try self.validID(context)
            guard let deleted = try await self.store.delete(id: id) else { throw APIError.notFound() }
            if !deleted.mediaStillUsed { self.media.remove(sha256: deleted.record.sha256) }
            return Response(status: .noContent)
        }

        api.get("analyses/:id/artifacts/:name") { _, context -> Response in
            let id = try self.validID(context)
            guard let name = context.parameters.get("name"), Self.isArtifactName(name) else {
                throw APIError(.badRequest, "invalid_name", "an artifact is timeline.svg or face<N>.png")
            }
            guard let artifact = try await self.store.artifact(id: id, name: name) else { throw APIError.notFound("no such artifact") }
            return Response(status: .ok, headers: [.contentType: artifact.mediaType, .cacheControl: "private, max-age=86400"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: artifact.bytes)))
        }

        let health: @Sendable (Request, BasicRequestContext) async throws -> Response = { _, _ in
            struct Health: Encodable { var status: String; var model: String; var queued: Int; var running: Int }
            let counts = try await self.store.countsByStatus()
            return try jsonResponse(Health(status: "ok", model: self.analyzer.modelVersion, queued: counts[.queued] ?? 0,
                                           running: counts[.running] ?? 0))
        }
        let metricsText: @Sendable (Request, BasicRequestContext) async throws -> Response = { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: await self.metrics.exposition(store: self.store))))
        }
        router.get("healthz", use: health)
        api.get("healthz", use: health)
        router.get("metrics", use: metricsText)
        api.get("metrics", use: metricsText)
    }

    /// Artifact names the store can hold: `timeline.svg`, `face<N>.png`.
    static func isArtifactName(_ name: String) -> Bool {
        if name == "timeline.svg" { return true }
        guard name.hasPrefix("face"), name.hasSuffix(".png") else { return false }
        let digits = name.dropFirst(4).dropLast(4)
        return !digits.isEmpty && digits.count <= 6 && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber)
    }
}
