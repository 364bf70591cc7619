import Foundation
import ForensightDetect

/// Runs each analysis in a child process, so a crash (a Swift trap on a strange file) or a runaway analysis cannot
/// take the server down: a child that dies fails its job with a one-line reason, and a child past the timeout is
/// killed with its process group (the ffmpeg decoders it started included).
///
/// The child is `command` followed by `MEDIA --name NAME --out DIR --parent PID` (`forensight analyze-job`). It
/// reports progress as lines `progress DONE PLANNED` on stdout (PLANNED is -1 when unknown), writes `verdict.json`
/// (the `detect --json` record) and `artifacts.json` (`[{"name", "media_type"}]`, each file beside it under
/// `artifacts/`) into DIR and exits 0; on failure it exits non-zero with `forensight: REASON` as its last stderr line.
public final class ProcessAnalyzer: Analyzer, Sendable {
    public let modelVersion: String
    /// Executable and leading arguments of the child.
    public let command: [String]
    /// Folder the children's output folders are made in.
    let workDirectory: String
    /// Set in each child's environment over the server's: the Swift runtime's backtracer is off
    /// (`SWIFT_BACKTRACE=enable=no`), so a child that traps dies at once instead of spending seconds, or until the
    /// timeout, writing a backtrace.
    public let environment: [String: String]

    /// - Parameters:
    ///   - modelVersion: the version of the model the child loads (`PipelineAnalyzer.modelVersion(ofModelAt:)`).
    ///   - command: the child's executable (absolute path) and its first arguments.
    ///   - workDirectory: where each analysis gets a scratch folder (removed afterwards); default the system's.
    ///   - environment: variables set in the child over the server's own.
    public init(modelVersion: String, command: [String], workDirectory: String = NSTemporaryDirectory(),
                environment: [String: String] = ["SWIFT_BACKTRACE": "enable=no"]) {
        precondition(!command.isEmpty, "a child command needs an executable")
        (self.modelVersion, self.command, self.workDirectory, self.environment) = (modelVersion, command, workDirectory, environment)
    }

    /// The blocking form of `run`, with no timeout.
    public func analyze(path: String, name: String, progress: @escaping @Sendable (Int, Int?) -> Void) throws -> AnalysisOutput {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        Task {
            box.result = await self.run(path: path, name: name, timeoutSeconds: .infinity, progress: progress)
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }

    /// Spawns the child for `path` and awaits it; at `timeoutSeconds`, or when the task is cancelled, the child's
    /// process group is killed.
    public func run(path: String, name: String, timeoutSeconds: Double,
                    progress: @escaping @Sendable (Int, Int?) -> Void) async -> Result<AnalysisOutput, any Error> {
        let out = (workDirectory as NSString).appendingPathComponent("forensight-job-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let child = ChildProcess(arguments: Array(command.dropFirst()) + [path, "--name", name, "--out", out,
                                                                         "--parent", String(getpid())],
                                 executable: command[0], environment: environment, progress: progress)
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try child.start()
        } catch {
            return .failure(ServerFailure("analysis could not start: \(error); check that \(command[0]) is executable"))
        }
        let deadline: Task<Void, any Error>? = timeoutSeconds.isFinite ? Task {
            try await Task.sleep(for: .seconds(timeoutSeconds))
            child.kill(timedOut: true)
        } : nil
        let exit = await withTaskCancellationHandler {
            await child.exit()
        } onCancel: {
            child.kill(timedOut: false)
        }
        deadline?.cancel()
        if exit.timedOut {
            return .failure(ServerFailure(String(format: "timed out after %g s: the analysis process was killed; raise --timeout or send a shorter file",
                                                 timeoutSeconds)))
        }
        switch exit.reason {
        case .uncaughtSignal:
            let said = exit.lastError.map { " (\($0))" } ?? ""
            return .failure(ServerFailure("analysis crashed: its process died of signal \(exit.status) (\(Self.signalName(exit.status)))\(said); "
                                          + "the server is unaffected; check the file with `forensight detect` and report it if it is a valid file"))
        case .exit where exit.status != 0:
            let said = exit.lastError.map { $0.hasPrefix("forensight: ") ? String($0.dropFirst(12)) : $0 }
            return .failure(ServerFailure(said ?? "analysis failed: its process exited with status \(exit.status) and said nothing; see the server log"))
        default:
            do {
                return .success(try Self.readOutput(out))
            } catch {
                return .failure(ServerFailure("analysis finished without a readable result (\(error)); the child and server versions may differ"))
            }
        }
    }

    /// The verdict and explanation files a child left in `folder`.
    static func readOutput(_ folder: String) throws -> AnalysisOutput {
        let url = URL(fileURLWithPath: folder)
        let verdict = try JSONDecoder().decode(Verdict.self, from: Data(contentsOf: url.appendingPathComponent("verdict.json")))
        let listed = try JSONDecoder().decode([ArtifactEntry].self, from: Data(contentsOf: url.appendingPathComponent("artifacts.json")))
        let artifacts = try listed.map { entry in
            guard !entry.name.contains("/"), !entry.name.hasPrefix(".") else { throw ServerFailure("bad artifact name \(entry.name)") }
            let bytes = try Data(contentsOf: url.appendingPathComponent("artifacts").appendingPathComponent(entry.name))
            return ExplanationArtifact(name: entry.name, mediaType: entry.mediaType, bytes: Array(bytes))
        }
        return AnalysisOutput(verdict: verdict, artifacts: artifacts)
    }

    /// Writes `output` into `folder` as a child does (`forensight analyze-job`).
    public static func writeOutput(_ output: AnalysisOutput, to folder: String) throws {
        let url = URL(fileURLWithPath: folder)
        let artifacts = url.appendingPathComponent("artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        for artifact in output.artifacts {
            try Data(artifact.bytes).write(to: artifacts.appendingPathComponent(artifact.name), options: .atomic)
        }
        let listed = output.artifacts.map { ArtifactEntry(name: $0.name, mediaType: $0.mediaType) }
        try JSONEncoder().encode(listed).write(to: url.appendingPathComponent("artifacts.json"), options: .atomic)
        // Written last: its presence means the rest is complete.
        try output.verdict.jsonData().write(to: url.appendingPathComponent("verdict.json"), options: .atomic)
    }

    /// A progress line as a child writes it.
    public static func progressLine(done: Int, planned: Int?) -> String { "progress \(done) \(planned ?? -1)\n" }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGILL: "SIGILL, a Swift runtime trap"
        case SIGTRAP: "SIGTRAP, a Swift runtime trap"
        case SIGSEGV: "SIGSEGV, a memory fault"
        case SIGBUS: "SIGBUS, a memory fault"
        case SIGABRT: "SIGABRT, an abort"
        case SIGKILL: "SIGKILL, killed from outside, e.g. out of memory"
        case SIGFPE: "SIGFPE, an arithmetic fault"
        default: "an uncaught signal"
        }
    }

    struct ArtifactEntry: Codable {
        var name: String
        var mediaType: String
        enum CodingKeys: String, CodingKey { case name, mediaType = "media_type" }
    }

    final class ResultBox: @unchecked Sendable { var result: Result<AnalysisOutput, any Error>? }
}
