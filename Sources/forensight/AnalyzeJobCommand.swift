import ArgumentParser
import Foundation
import ForensightDetect
import ForensightServer
import ForensightTensor

/// `forensight analyze-job` (hidden): one analysis for `serve` or `worker`, in a process of its own so that a crash
/// or a kill at the timeout ends only this analysis (`ProcessAnalyzer` describes the exchange).
struct AnalyzeJob: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze-job",
        abstract: "Analyse one stored media file for `forensight serve` (internal).",
        shouldDisplay: false)

    @Argument(help: "The media file.")
    var media: String

    @Option(help: "What the client called the file (the record's source).")
    var name: String

    @Option(help: "Folder to write verdict.json, artifacts.json and artifacts/ into.")
    var out: String

    @Option(help: "Process id of the server: this analysis ends when that process is gone.")
    var parent: Int32?

    @Option(help: "Detector weights (default: the shipped model, or $FORENSIGHT_MODEL).")
    var model: String?

    @Option(help: "Frames sampled per video.")
    var frames = 32

    func run() throws {
        // The server starts this process from one of its worker threads, whose blocked signals it inherits: unblock
        // them, as a shell would have them, before any thread (or decoder process) is started.
        var none = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, nil)
        // A group of its own, so the server's kill at the timeout reaches the decoders this analysis starts too.
        let ownGroup = setpgid(0, 0) == 0 || getpgrp() == getpid()
        if let parent { Self.endWithParent(parent, removing: out, killingGroup: ownGroup) }
        AnalysisPool.apply()
        let output: AnalysisOutput
        do {
            AnalysisPool.apply(forFile: media)
            let analyzer = try PipelineAnalyzer(modelPath: model, frames: frames)
            output = try analyzer.analyze(path: media, name: name) { done, planned in
                FileHandle.standardOutput.write(Data(ProcessAnalyzer.progressLine(done: done, planned: planned).utf8))
            }
            try ProcessAnalyzer.writeOutput(output, to: out)
        } catch {
            throw fail("\(error)")
        }
    }

    /// Watches the parent on a thread of its own; when it has gone (a server killed with SIGKILL), removes the output
    /// folder nobody will read and ends this process and the decoders it started, so no analysis runs on unowned.
    static func endWithParent(_ parent: Int32, removing folder: String, killingGroup: Bool) {
        let watcher = Thread {
            while getppid() == parent { usleep(200_000) }
            try? FileManager.default.removeItem(atPath: folder)
            if killingGroup { _ = kill(0, SIGKILL) }
            _exit(3)
        }
        watcher.start()
    }
}

extension AnalyzeJob {
    /// The analyzer `serve` and `worker` run: one `forensight analyze-job` child per analysis, with the model at
    /// `model` (or the default). The model and face detector are loaded once here, so a missing file stops the
    /// server at start rather than failing every job; `inProcess` keeps the analysis in this process instead
    /// (no isolation: a crash ends the server, a timed-out analysis runs on).
    static func analyzer(model: String?, frames: Int, inProcess: Bool) throws -> any Analyzer {
        guard let path = model ?? ModelLocations.defaultModel() else {
            throw DetectorError("no detector found: models/\(ModelLocations.defaultModelName) is missing; pass --model FILE or set FORENSIGHT_MODEL")
        }
        let loaded = try PipelineAnalyzer(modelPath: path, frames: frames)
        if inProcess { return loaded }
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return ProcessAnalyzer(modelVersion: loaded.modelVersion,
                               command: [executable, "analyze-job", "--model", absolute, "--frames", String(frames)])
    }
}
