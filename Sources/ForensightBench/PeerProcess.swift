import Foundation

/// A benchmark peer that could not run: what, and how to fix it.
public struct PeerError: Error, CustomStringConvertible {
    public let description: String
}

/// Runs the ONNX Runtime peer script (`scripts/bench/ort_peer.py`) and returns its JSON line.
enum ORTPeer {
    /// Finds the project's `scripts/bench/ort_peer.py` from `FORENSIGHT_ROOT`, the working directory or the executable.
    static func scriptPath() throws -> String {
        var candidates: [String] = []
        if let root = ProcessInfo.processInfo.environment["FORENSIGHT_ROOT"] { candidates.append(root) }
        candidates.append(FileManager.default.currentDirectoryPath)
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 { candidates.append(dir.path); dir = dir.deletingLastPathComponent() }
        for c in candidates {
            let p = URL(fileURLWithPath: c).appendingPathComponent("scripts/bench/ort_peer.py").path
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        throw PeerError(description: "scripts/bench/ort_peer.py not found; run from the project folder or set FORENSIGHT_ROOT")
    }

    /// Runs the peer with `arguments`; returns the parsed JSON object it printed.
    static func run(_ arguments: [String]) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", try scriptPath()] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch { throw PeerError(description: "cannot start python3: \(error)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let msg = String(decoding: errData, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? "unknown error"
            throw PeerError(description: "ONNX Runtime peer failed: \(msg) (install it with: pip install onnx onnxruntime numpy)")
        }
        guard let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
              let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw PeerError(description: "ONNX Runtime peer printed no JSON result")
        }
        return obj
    }
}
