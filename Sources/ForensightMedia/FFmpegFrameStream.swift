import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One running `ffmpeg` that writes raw frames to its stdout and logs them through `showinfo` on its stderr.
///
/// Both the scanning and the seeking readers drive their decoding through this: it launches the process, reads
/// exactly one frame's bytes at a time, hands out each piped frame's log stamp, and always reaps the process.
/// Not thread-safe: use it from one thread.
final class FFmpegFrameStream {
    /// The command line, for logs and bug reports.
    let commandLine: [String]
    private let process: Process
    private let output: FileHandle
    private let stderrHandle: FileHandle
    private let monitor: FFmpegLogMonitor
    private let path: String
    private var closed = false
    private var outputClosed = false

    /// Launches `executable` with `arguments`; `path` is the media file (named in errors).
    ///
    /// - Throws: `MediaError` `.toolMissing` when the executable cannot be launched.
    init(executable: URL, arguments: [String], path: String) throws {
        self.path = path
        commandLine = [executable.path] + arguments
        let (process, out, err) = try MediaTool.ffmpeg.launch(executable: executable, arguments: arguments, mediaPath: path)
        self.process = process
        output = out.fileHandleForReading
        monitor = FFmpegLogMonitor(fileDescriptor: err.fileHandleForReading.fileDescriptor, path: path)
        stderrHandle = err.fileHandleForReading
    }

    deinit { close() }

    /// Whether ffmpeg is still running.
    var isRunning: Bool { process.isRunning }
    /// ffmpeg's process id.
    var processIdentifier: Int32 { process.processIdentifier }
    /// Frames the decoder produced so far (piped or not), from the `showinfo@decoded` log.
    var decodedFrames: Int { monitor.decodedFrames }
    /// Error lines ffmpeg logged so far.
    var errorCount: Int { monitor.errorLines.total }
    /// The first frame decoded into filter chain `chain` (nil before any; see ``FFmpegLogMonitor/firstDecoded(chain:)``).
    func firstDecoded(chain: Int) -> FFmpegLogMonitor.Stamp? { monitor.firstDecoded(chain: chain) }

    /// Reads exactly `byteCount` bytes unless the pipe ends first (then fewer).
    func readFrame(byteCount: Int) -> [UInt8] {
        let fd = output.fileDescriptor
        return [UInt8](unsafeUninitializedCapacity: byteCount) { buffer, initialized in
            var got = 0
            while got < byteCount {
                let count = read(fd, buffer.baseAddress! + got, byteCount - got)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                got += count
            }
            initialized = got
        }
    }

    /// The log stamp of the next piped frame (see ``FFmpegLogMonitor/nextStamp(timeout:)``).
    func nextStamp(chain: Int = 0, timeout: TimeInterval) -> FFmpegLogMonitor.Stamp? {
        monitor.nextStamp(chain: chain, timeout: timeout)
    }

    /// Stops ffmpeg if it is still running and reaps it. Safe to call more than once.
    ///
    /// Closing our end of the pipe makes ffmpeg's next write fail; SIGTERM stops it while decoding; SIGKILL follows
    /// if it has not exited within 2 s.
    func close() {
        guard !closed else { return }
        closed = true
        if process.isRunning {
            closeOutput()
            process.terminate()
            let deadline = Date().addingTimeInterval(2)
            while process.isRunning && Date() < deadline { usleep(2_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        monitor.waitUntilFinished()
        closeOutput()
        try? stderrHandle.close()
    }

    /// How a finished run ended.
    struct Ending {
        /// Non-zero exit or killed by a signal.
        var failed: Bool
        /// The last error line, or the exit status.
        var last: String
        /// The last error lines (at most 20) and how many there were.
        var errors: [String]
        var errorCount: Int
    }

    /// ffmpeg closed its output: lets it exit on its own (a SIGTERM now would turn a clean end into a failure), but
    /// not for longer than `timeout` seconds, reaps it, and says how it ended.
    func finish(timeout: TimeInterval = 10) -> Ending {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(1_000) }
        close()
        let (errors, errorCount) = monitor.errorLines
        let signalled = process.terminationReason == .uncaughtSignal
        let failed = process.terminationStatus != 0 || signalled
        let last = errors.last ?? (signalled ? "killed by signal \(process.terminationStatus)" : "exit status \(process.terminationStatus)")
        return Ending(failed: failed, last: last, errors: errors, errorCount: errorCount)
    }

    private func closeOutput() {
        guard !outputClosed else { return }
        outputClosed = true
        try? output.close()
    }
}
