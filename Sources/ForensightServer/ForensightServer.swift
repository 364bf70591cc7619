import Foundation
import Hummingbird
import Logging

/// `forensight serve`: the web app and REST API over one data folder (job table, media store) and one analyzer.
///
/// Building it opens the data folder and queues again the jobs a previous run left `running` (it was stopped or
/// killed mid-analysis); `makeApplication` gives the Hummingbird application, whose services include the workers.
public struct ForensightServer: Sendable {
    public let configuration: ServerConfiguration
    /// The job table: SQLite in the data folder, or the PostgreSQL queue given at init.
    public let store: any JobQueue
    public let media: MediaStore
    public let runner: JobRunner
    public let metrics: ServerMetrics
    public let analyzer: any Analyzer
    let pages: PageRenderer

    /// - Parameter queue: a shared job table (`PostgresJobStore`); nil for SQLite in the data folder, whose jobs a
    ///   previous run left running are queued again here.
    public init(configuration: ServerConfiguration, analyzer: any Analyzer, queue: (any JobQueue)? = nil,
                logger: Logger = Logger(label: "forensight.serve")) throws {
        if let problem = configuration.problem { throw ServerFailure(problem) }
        self.configuration = configuration
        self.analyzer = analyzer
        if let queue {
            store = queue
        } else {
            let local = try JobStore(dataDirectory: configuration.dataDirectory)
            let requeued = try local.requeueInterrupted()
            if requeued > 0 { logger.notice("queued again \(requeued) interrupted job(s)") }
            store = local
        }
        media = try MediaStore(dataDirectory: configuration.dataDirectory)
        metrics = ServerMetrics()
        runner = JobRunner(store: store, media: media, analyzer: analyzer, workers: configuration.workers,
                           timeoutSeconds: configuration.jobTimeoutSeconds, metrics: metrics, logger: logger,
                           retentionSeconds: configuration.retentionDays.map { $0 * 86400 })
        pages = try PageRenderer()
    }

    /// The application: routes, error and token middleware, and the workers as a service. A `PostgresJobStore` queue
    /// must be running (`run()`) beside it.
    public func makeApplication(logger: Logger = Logger(label: "forensight.serve")) -> Application<RouterResponder<BasicRequestContext>> {
        Application(router: makeRouter(),
                    configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "forensight"),
                    services: configuration.workers > 0 ? [runner] : [], logger: logger)
    }

    /// Every route, behind the JSON error middleware (and the bearer token check when there is a token).
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: JSONErrorMiddleware())
        if let token = configuration.token, !token.isEmpty { router.add(middleware: BearerTokenMiddleware(token: token)) }
        addAPIRoutes(to: router)
        addPageRoutes(to: router)
        return router
    }

    /// The analysis with a route's `id` parameter, after checking the id's form.
    func analysis(_ context: BasicRequestContext) async throws -> AnalysisRecord {
        let id = try validID(context)
        guard let record = try await store.record(id: id) else { throw APIError.notFound() }
        return record
    }

    /// A route's `id` parameter, when it has the form of an id (`invalid_id` otherwise).
    func validID(_ context: BasicRequestContext) throws -> String {
        guard let id = context.parameters.get("id"), AnalysisID.isValid(id) else { throw APIError.invalidID }
        return id
    }

    /// Receives an upload and queues its job (or finds the existing analysis): the shared part of the API's and the
    /// upload form's POST. The media file and the job row are committed before this returns.
    func accept(_ request: Request) async throws -> JobStore.Submission {
        do {
            guard let boundary = MultipartUpload.boundary(contentType: request.headers[.contentType]) else {
                throw APIError(.unsupportedMediaType, "not_multipart", "send the file as multipart/form-data in a part named `file`")
            }
            if let length = request.headers[.contentLength].flatMap(Int.init), length > configuration.maxUploadBytes + MultipartUpload.formFieldLimit {
                throw APIError(.contentTooLarge, "too_large", "the upload is larger than this server accepts (\(configuration.maxUploadBytes) bytes)")
            }
            if try await store.pendingCount(model: analyzer.modelVersion) >= configuration.queueCapacity { throw queueFull }
            let received = try await MultipartUpload.receive(request.body, boundary: boundary, store: media, limit: configuration.maxUploadBytes)
            do {
                let submission = try await store.submit(sha256: received.media.sha256, model: analyzer.modelVersion, filename: received.filename,
                                                  kind: received.sniffed.kind.rawValue, format: received.sniffed.format, size: received.media.size,
                                                  capacity: configuration.queueCapacity)
                switch submission {
                case .created: metrics.uploadsAccepted.increment(); runner.jobQueued()
                case .existing(let record):
                    metrics.uploadsDeduplicated.increment()
                    if record.status == .queued { runner.jobQueued() }
                }
                return submission
            } catch is JobStore.QueueFull {
                if try await !store.isMediaReferenced(sha256: received.media.sha256) { media.remove(sha256: received.media.sha256) }
                throw queueFull
            }
        } catch let error as APIError {
            metrics.rejected(error.code)
            throw error
        }
    }

    var queueFull: APIError {
        APIError(.serviceUnavailable, "queue_full", "the queue is full; try again later",
                 headers: [.retryAfter: String(configuration.retryAfterSeconds)])
    }
}
