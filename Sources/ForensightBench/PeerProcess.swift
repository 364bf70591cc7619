import Foundation

/// A benchmark peer that could not run: what, and how to fix it.
public struct PeerError: Error, CustomStringConvertible {
    public let description: String
}

/// Runs a Python peer script of `scripts/bench/` and returns its JSON line.
struct PythonPeer {
    /// The script's file name, e.g. `ort_peer.py`.
    let script: String
    /// What to install when the peer cannot run.
    let installHint: String

    static let onnxRuntime = PythonPeer(script: "ort_peer.py", installHint: "pip install onnx onnxruntime numpy")
    static let scikitLearn = PythonPeer(script: "tsne_peer.py", installHint: "pip install scikit-learn numpy")
    static let facenet = PythonPeer(script: "mtcnn_peer.py",
                                    installHint: "pip install torch==2.13.0+cpu numpy && pip install --no-deps facenet-pytorch==2.6.0")

    /// The project root: `FORENSIGHT_ROOT`, the working directory, or a parent of the executable.
    static func projectRoot() -> String? {
        var candidates: [String] = []
        if let root = ProcessInfo.processInfo.environment["FORENSIGHT_ROOT"] { candidates.append(root) }
        candidates.append(FileManager.default.currentDirectoryPath)
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 { candidates.append(dir.path); dir = dir.deletingLastPathComponent() }
        return candidates.first { FileManager.default.fileExists(atPath: URL(fileURLWithPath: $0).appendingPathComponent("scripts/bench").path) }
    }

    /// Finds the project's `scripts/bench/<script>`.
    func scriptPath() throws -> String {
        guard let root = Self.projectRoot() else {
            throw PeerError(description: "scripts/bench/\(script) not found; run from the project folder or set FORENSIGHT_ROOT")
        }
        return URL(fileURLWithPath: root).appendingPathComponent("scripts/bench/\(script)").path
    }

    /// Runs the peer with `arguments`; returns the parsed JSON object it printed.
    func run(_ arguments: [String]) throws -> [String: Any] {
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
            throw PeerError(description: "peer \(script) failed: \(msg) (install it with: \(installHint))")
        }
        guard let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
              let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw PeerError(description: "peer \(script) printed no JSON result")
        }
        return obj
    }
}
