import Foundation
import ForensightDetect
import ForensightFaces
import ForensightMedia

/// What a job produces: the `detect --json` record and its explanation files.
public struct AnalysisOutput: Sendable {
    public var verdict: Verdict
    public var artifacts: [ExplanationArtifact]
    public init(verdict: Verdict, artifacts: [ExplanationArtifact]) { (self.verdict, self.artifacts) = (verdict, artifacts) }
}

/// Turns a stored media file into a verdict. The server calls `analyze` from worker threads, several at once.
public protocol Analyzer: Sendable {
    /// The model version analyses are keyed by (with the file's hash): same file, same version → same analysis.
    var modelVersion: String { get }
    /// Analyses the file at `path`; `name` is what the client called it (the record's `source`). Blocking.
    /// `progress` gets (frames decoded, frames planned or nil) as the analysis goes.
    func analyze(path: String, name: String, progress: @escaping @Sendable (Int, Int?) -> Void) throws -> AnalysisOutput
    /// Analyses the file at `path` for a job, giving up at `timeoutSeconds`. The default runs `analyze` on a thread
    /// of its own in this process: at the deadline it gives up waiting, but the thread cannot be stopped and runs on
    /// (its late result is refused), and a crash in it ends the process. `ProcessAnalyzer` runs a child process it
    /// kills instead, which the server uses.
    func run(path: String, name: String, timeoutSeconds: Double,
             progress: @escaping @Sendable (Int, Int?) -> Void) async -> Result<AnalysisOutput, any Error>
}

extension Analyzer {
    public func run(path: String, name: String, timeoutSeconds: Double,
                    progress: @escaping @Sendable (Int, Int?) -> Void) async -> Result<AnalysisOutput, any Error> {
        let first = FirstOutcome()
        return await withCheckedContinuation { continuation in
            first.waiter = continuation
            let deadline = Task {
                try await Task.sleep(for: .seconds(timeoutSeconds))
                first.resume(.failure(ServerFailure(String(format: "timed out after %g s: the analysis could not be stopped and runs on in the server; "
                                                           + "raise --timeout or send a shorter file", timeoutSeconds))))
            }
            // 16 MiB of stack, as the network's recursion may need.
            let thread = Thread {
                first.resume(Result { try self.analyze(path: path, name: name, progress: progress) })
                deadline.cancel()
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
    }
}

/// Hands the first of several outcomes to a waiting continuation (analysis or deadline, whichever comes first).
private final class FirstOutcome: @unchecked Sendable {
    private let lock = NSLock()
    var waiter: CheckedContinuation<Result<AnalysisOutput, any Error>, Never>?

    func resume(_ outcome: Result<AnalysisOutput, any Error>) {
        let waiter = lock.withLock { () -> CheckedContinuation<Result<AnalysisOutput, any Error>, Never>? in
            defer { self.waiter = nil }
            return self.waiter
        }
        waiter?.resume(returning: outcome)
    }
}

/// The analyzer `forensight detect` is: the library's `Pipeline` with the same defaults, its verdict record and
/// its explanation (`Pipeline.explanation`: the timeline SVG and Grad-CAM heatmaps).
///
/// A pipeline holds a face detector with per-call state, so each worker thread takes one of its own from a pool;
/// the detector network itself is shared (it is safe to call from many threads).
public final class PipelineAnalyzer: Analyzer, @unchecked Sendable {
    public let modelVersion: String
    private let lock = NSLock()
    private var idle: [Pipeline]
    private let template: Pipeline

    /// Loads the model at `modelPath` (or the default model) and the face detector, as `detect` does.
    public init(modelPath: String? = nil, frames: Int = 32) throws {
        guard let path = modelPath ?? ModelLocations.defaultModel() else {
            throw DetectorError("no detector found: models/\(ModelLocations.defaultModelName) is missing; pass --model FILE or set FORENSIGHT_MODEL")
        }
        let detector = try DetectorRegistry.load(path: path)
        let refiner = try Pipeline.landmarkRefiner(for: detector)
        template = Pipeline(detector: detector, faceDetector: try MTCNN(), frames: frames, landmarkRefiner: refiner)
        idle = [template]
        modelVersion = Self.version(of: detector)
    }

    /// The version analyses are keyed by: card id and the start of the weights' SHA-256.
    static func version(of detector: any Detector) -> String { "\(detector.card.id)@\(detector.weightsSHA256.prefix(16))" }

    /// The version of the model at `path`, without a face detector (`forensight enqueue`).
    public static func modelVersion(ofModelAt path: String) throws -> String { version(of: try DetectorRegistry.load(path: path)) }

    public func analyze(path: String, name: String, progress: @escaping @Sendable (Int, Int?) -> Void) throws -> AnalysisOutput {
        let pipeline = try checkOut()
        defer { checkIn(pipeline) }
        var (verdict, crops) = try pipeline.analyzeKeepingCrops(path: path, progress: progress)
        verdict.source = name
        let artifacts = (try? pipeline.explanation(of: verdict, crops: crops)) ?? []
        return AnalysisOutput(verdict: verdict, artifacts: artifacts)
    }

    private func checkOut() throws -> Pipeline {
        lock.lock()
        if let pipeline = idle.popLast() { lock.unlock(); return pipeline }
        lock.unlock()
        return try template.withOwnFaceDetector()
    }

    private func checkIn(_ pipeline: Pipeline) {
        lock.lock()
        idle.append(pipeline)
        lock.unlock()
    }
}
