import Foundation

/// The FFmpeg command-line tools Forensight runs as subprocesses.
///
/// FFmpeg's libraries are never linked (licensing): video is decoded by launching the `ffmpeg` and `ffprobe`
/// executables and talking to them over pipes. An executable is found, in order, through
/// `FORENSIGHT_FFMPEG` / `FORENSIGHT_FFPROBE` (a path to the executable) and then the directories of `PATH`.
public enum MediaTool: String, Sendable, CaseIterable {
    case ffmpeg, ffprobe

    /// What to tell a user whose machine has no FFmpeg.
    public static let installHint = "install ffmpeg: apt-get install ffmpeg (Debian/Ubuntu)"

    /// The environment variable that overrides the `PATH` lookup (`FORENSIGHT_FFMPEG`, `FORENSIGHT_FFPROBE`).
    public var environmentVariable: String { "FORENSIGHT_" + rawValue.uppercased() }

    /// The executable to run.
    ///
    /// - Parameter mediaPath: the media file being processed, used only to fill the error's `path`.
    /// - Throws: `MediaError` `.toolMissing` (with the install hint) when neither the override nor `PATH` yields an
    ///   executable file.
    public func executableURL(for mediaPath: String = "", searchPath: String? = nil) throws -> URL {
        let environment = ProcessInfo.processInfo.environment
        if searchPath == nil, let override = environment[environmentVariable], !override.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: override) else {
                throw MediaError(.toolMissing, path: mediaPath,
                                 reason: "\(environmentVariable)=\(override) is not an executable file",
                                 hint: "unset \(environmentVariable) or point it at \(rawValue); or \(Self.installHint)")
            }
            return URL(fileURLWithPath: override)
        }
        for directory in (searchPath ?? environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = String(directory) + "/" + rawValue
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue,
               FileManager.default.isExecutableFile(atPath: candidate) {
                return URL(fileURLWithPath: candidate)
            }
        }
        throw MediaError(.toolMissing, path: mediaPath, reason: "\(rawValue) not found on \(searchPath == nil ? "PATH" : searchPath!)",
                         hint: Self.installHint)
    }

    /// Whether the tool can be found (tests use this to skip).
    public var isAvailable: Bool { (try? executableURL()) != nil }

    /// How a file path is passed to ffmpeg/ffprobe: with the `file:` protocol, so that names containing `:` or
    /// starting with `-` are never taken for a protocol, an option or stdin.
    static func input(_ path: String) -> String { "file:" + path }
}

/// The result of a tool run to completion.
struct ToolOutput {
    let status: Int32
    let stdout: Data
    let stderr: Data

    /// stderr as text.
    var errorText: String { String(decoding: stderr, as: UTF8.self) }

    /// The first line the tool printed on stderr, or `fallback`.
    func errorSummary(or fallback: String) -> String {
        errorText.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? fallback
    }
}

extension MediaTool {
    /// Runs the tool to completion, draining stdout and stderr concurrently (no pipe can fill up and stall it).
    ///
    /// - Parameters:
    ///   - executable: the executable to run (default: found by `executableURL(for:)`).
    ///   - timeout: seconds after which the tool is terminated and `.corrupt` is thrown (none when nil).
    /// - Throws: `.toolMissing` when the executable cannot be found or launched.
    /// Starts the tool with its output and error streams on pipes and no input.
    ///
    /// - Throws: `.toolMissing` (naming `mediaPath`) when the executable cannot be launched.
    func launch(executable: URL, arguments: [String], mediaPath: String) throws -> (process: Process, output: Pipe, error: Pipe) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw MediaError(.toolMissing, path: mediaPath, reason: "cannot launch \(rawValue): \(error)", hint: Self.installHint)
        }
        return (process, out, err)
    }

    func run(_ arguments: [String], mediaPath: String, executable: URL? = nil, timeout: Double? = nil) throws -> ToolOutput {
        let (process, out, err) = try launch(executable: try executable ?? executableURL(for: mediaPath), arguments: arguments, mediaPath: mediaPath)
        let errorBox = DataBox()
        let drained = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            errorBox.data = err.fileHandleForReading.readDataToEndOfFile()
            drained.signal()
        }
        let timedOut = DataBox()
        let watchdog = DispatchWorkItem {
            guard process.isRunning else { return }
            timedOut.data = Data([1])
            process.terminate()
        }
        if let timeout { DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog) }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        watchdog.cancel()
        try? out.fileHandleForReading.close()
        try? err.fileHandleForReading.close()
        if !timedOut.data.isEmpty {
            throw MediaError(.corrupt, path: mediaPath, reason: "\(rawValue) took longer than \(Int(timeout ?? 0)) s and was stopped")
        }
        return ToolOutput(status: process.terminationStatus, stdout: output, stderr: errorBox.data)
    }
}

/// A buffer handed from a draining thread to its waiter (the semaphore orders the accesses).
private final class DataBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = Data()
    var data: Data {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}

/// Facts about the installed ffmpeg that change which options are valid, looked up once per executable.
enum FFmpegCapabilities {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var fpsModeCache: [String: Bool] = [:]

    /// Whether `-fps_mode` exists (FFmpeg ≥ 5.1); older versions only know the equivalent `-vsync`.
    static func supportsFpsMode(_ executable: URL) -> Bool {
        lock.lock(); defer { lock.unlock() }
        if let known = fpsModeCache[executable.path] { return known }
        var supported = true  // unknown version strings (git builds: "N-12345-g…") are recent
        if let output = try? MediaTool.ffmpeg.runVersion(executable),
           let version = parseVersion(output) {
            supported = version.major > 5 || (version.major == 5 && version.minor >= 1)
        }
        fpsModeCache[executable.path] = supported
        return supported
    }

    /// `(major, minor)` from the first line of `ffmpeg -version` ("ffmpeg version 5.1.9-0+deb12u1 …", "… n6.0 …").
    static func parseVersion(_ text: String) -> (major: Int, minor: Int)? {
        guard let line = text.split(separator: "\n").first,
              let range = line.range(of: "version ") else { return nil }
        var rest = line[range.upperBound...]
        if rest.first == "n" { rest = rest.dropFirst() }
        let numbers = rest.prefix { $0.isNumber || $0 == "." }.split(separator: ".").compactMap { Int($0) }
        guard let major = numbers.first else { return nil }
        return (major, numbers.count > 1 ? numbers[1] : 0)
    }
}

private extension MediaTool {
    func runVersion(_ executable: URL) throws -> String {
        let process = Process()
        process.executableURL = executable
        process.arguments = ["-version"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try? out.fileHandleForReading.close()
        return String(decoding: data, as: UTF8.self)
    }
}
