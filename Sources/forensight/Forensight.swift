import ArgumentParser
import Foundation
import ForensightTensor

/// The `forensight` command line: thin commands over the library.
@main
struct Forensight: ParsableCommand {
    static func main() {
        BLASKernels.relaunchWithBLASSettings()
        var command: ParsableCommand
        do { command = try parseAsRoot() } catch { exitReporting(error) }
        do { try command.run() } catch { exitReporting(error) }
    }

    /// Exits for `error`: usage mistakes (bad or missing arguments) with status 2 and the usage message, everything
    /// else as ArgumentParser does (help and version with 0, `ExitCode` as given).
    static func exitReporting(_ error: Error) -> Never {
        if exitCode(for: error) == .validationFailure {
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
        exit(withError: error)
    }

    static let configuration = CommandConfiguration(
        commandName: "forensight",
        abstract: "Deepfake detection and a research bench for face-forgery detectors.",
        discussion: """
        Every part runs on Forensight's own numerical engine (OpenBLAS for GEMM) on the CPU.

        Examples:
          forensight detect clip.mp4                 REAL / FAKE / NO_FACE
          forensight detect videos/ --csv            one row per file
          forensight detect clip.mp4 --explain why/  timeline and heatmaps
          forensight faces clip.mp4 --out crops/     aligned face crops
          forensight evaluate DATASET... --out r.json
          forensight report r.json --out report/
          forensight bench engine                    engine speed vs peers
          forensight serve                           web app and REST API on 127.0.0.1:8080
          forensight export MODEL --onnx net.onnx    its networks as ONNX graphs
        """,
        version: "0.1.0",
        subcommands: [Detect.self, Faces.self, Import.self, Prepare.self, Train.self, Evaluate.self, Report.self, Embed.self, Bench.self, Models.self,
                      Export.self, Serve.self, Worker.self, EnqueueCommand.self, AnalyzeJob.self])
}

/// Writes a one-line error to stderr and returns the exit status to throw (`throw throw fail("…")`). Commands throw rather
/// than exit, so they can run in-process (tests, a server) and the caller decides what ends.
func fail(_ message: String, code: Int32 = 1) -> ExitCode {
    FileHandle.standardError.write(Data("forensight: \(message)\n".utf8))
    return ExitCode(code)
}
