import XCTest
import Foundation

/// Runs the `forensight` executable built beside the test binary (any --scratch-path), else the checkout's .build;
/// skips when none is built (`scripts/test.sh` builds it).
enum CLIRunner {
    static func executable() throws -> String {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("forensight").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for config in ["release", "debug"] {
            let path = root.appendingPathComponent(".build/\(config)/forensight").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw XCTSkip("forensight executable not built")
    }

    /// Exit status, stdout and stderr of `forensight ARGUMENTS`.
    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable())
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        (process.standardOutput, process.standardError) = (out, err)
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}
