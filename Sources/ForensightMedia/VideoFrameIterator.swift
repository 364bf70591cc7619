import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Pulls sampled frames out of a running `ffmpeg`, one `width × height × 3`-byte frame at a time.
///
/// Made by ``VideoReader/makeIterator(sampling:)``. Not thread-safe: use it from one thread. The ffmpeg process is
/// always reaped: at the end of the stream, on `close()`, or when the iterator is released.
public final class VideoFrameIterator {
    /// The video being read.
    public let info: VideoInfo
    /// The sampling asked for.
    public let sampler: FrameSampler
    /// For `.uniform`/`.indices`: the frame numbers (from the range start) asked of ffmpeg.
    public let plannedIndices: [Int]?
    /// Frames returned by ``next()`` so far.
    public private(set) var framesDelivered = 0
    /// Problems met so far (see ``VideoReadSummary/warnings``).
    public private(set) var warnings: [String] = []
    /// The ffmpeg command line, for logs and bug reports.
    public let commandLine: [String]

    private let process: Process
    private let output: FileHandle
    private let stderrHandle: FileHandle
    private let monitor: FFmpegLogMonitor
    private let plan: SamplingPlan
    private var indexOffset: Int?
    private var finished = false
    private var stampsReliable = true
    private lazy var plannedSet = Set(plannedIndices ?? [])
    private var outputClosed = false

    /// Whether ffmpeg is still running (false after the end of the stream or `close()`).
    public var isDecoderRunning: Bool { process.isRunning }
    /// ffmpeg's process id.
    public var decoderProcessID: Int32 { process.processIdentifier }

    init(info: VideoInfo, sampler: FrameSampler, plan: SamplingPlan) throws {
        let executable = try MediaTool.ffmpeg.executableURL(for: info.path)
        let arguments = Self.arguments(info: info, plan: plan, fpsMode: FFmpegCapabilities.supportsFpsMode(executable))
        (self.info, self.sampler, self.plan, self.plannedIndices) = (info, sampler, plan, plan.plannedIndices)
        commandLine = [executable.path] + arguments
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw MediaError(.toolMissing, path: info.path, reason: "cannot launch ffmpeg: \(error)", hint: MediaTool.installHint)
        }
        output = out.fileHandleForReading
        monitor = FFmpegLogMonitor(fileDescriptor: err.fileHandleForReading.fileDescriptor, path: info.path)
        stderrHandle = err.fileHandleForReading
        if plan.plannedIndices?.isEmpty == true { warnings.append("no frames to sample (the frame count is 0)") }
    }

    deinit { close() }

    /// ffmpeg's arguments: quiet banner, frame log through `showinfo`, input seek/duration, the first video stream,
    /// `showinfo@decoded → select → showinfo@selected → scale → rgb24`, no frame duplication, raw RGB on stdout.
    static func arguments(info: VideoInfo, plan: SamplingPlan, fpsMode: Bool) -> [String] {
        var arguments = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "repeat+level+info"]
        if let seek = plan.seek { arguments += ["-ss", SamplingPlan.number(seek)] }
        if let duration = plan.readDuration { arguments += ["-t", SamplingPlan.number(duration)] }
        arguments += ["-i", MediaTool.input(info.path), "-map", "0:\(info.streamIndex)"]
        var filters = ["\(FFmpegLogMonitor.decodedFilter)=checksum=0"]
        if let expression = plan.selectExpression { filters.append("select='\(expression)'") }
        filters.append("\(FFmpegLogMonitor.selectedFilter)=checksum=0")
        // A no-op for ordinary video; keeps every piped frame exactly width × height if the stream changes size.
        filters.append("scale=\(info.width):\(info.height)")
        filters.append("format=rgb24")
        arguments += ["-vf", filters.joined(separator: ",")]
        arguments += fpsMode ? ["-fps_mode", "passthrough"] : ["-vsync", "passthrough"]
        arguments += ["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
        return arguments
    }

    /// The next sampled frame, or nil at the end.
    ///
    /// - Throws: `MediaError` when ffmpeg fails before delivering any frame. Failures after some frames end the
    ///   stream and add a warning instead.
    public func next() throws -> VideoFrame? {
        guard !finished else { return nil }
        if let planned = plannedIndices, framesDelivered >= planned.count {
            close()  // every planned frame arrived: no need to decode the rest
            return nil
        }
        let frameBytes = info.frameBytes
        while true {
            let pixels = readFrame(byteCount: frameBytes)
            guard pixels.count == frameBytes else {
                if !pixels.isEmpty {
                    warnings.append("ffmpeg stopped in the middle of a frame (\(pixels.count) of \(frameBytes) bytes); it was dropped")
                }
                try finishAtEndOfStream()
                return nil
            }
            var stamp: FFmpegLogMonitor.Stamp?
            if stampsReliable {
                stamp = monitor.nextStamp(timeout: 5)
                if stamp == nil { stampsReliable = false }  // never wait again: frames keep their inferred numbers
            }
            if plan.filterInReader, let n = stamp?.n, !plannedSet.contains(n) { continue }
            let (index, time) = locate(stamp)
            framesDelivered += 1
            return VideoFrame(index: index, time: time, image: RGBImage(width: info.width, height: info.height, pixels: pixels))
        }
    }

    /// Stops ffmpeg if it is still running and reaps it. Safe to call more than once.
    ///
    /// Closing our end of the pipe makes ffmpeg's next write fail; SIGTERM stops it while decoding; SIGKILL follows
    /// if it has not exited within 2 s.
    public func close() {
        guard !finished else { return }
        finished = true
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

    /// Reads exactly `byteCount` bytes unless the pipe ends first (then fewer).
    private func readFrame(byteCount: Int) -> [UInt8] {
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

    /// Frame number from the start of the file and time in seconds for a delivered frame.
    private func locate(_ stamp: FFmpegLogMonitor.Stamp?) -> (Int, Double) {
        let seek = plan.seek ?? 0
        var relative: Int
        if let n = stamp?.n, n >= 0 {
            relative = n
        } else {
            relative = inferredIndex()
            warnOnce("ffmpeg's log gave no frame number; numbers were inferred from the sampling strategy")
        }
        var time: Double
        if let t = stamp?.time {
            time = seek + t
        } else {
            time = info.fps > 0 ? seek + Double(relative) / info.fps : .nan
            warnOnce("ffmpeg's log gave no timestamp; times were computed as index / fps")
        }
        if indexOffset == nil {
            indexOffset = 0
            if plan.seek != nil, info.fps > 0, time.isFinite {
                indexOffset = max(0, Int((time * info.fps).rounded()) - relative)
                if info.isVariableFrameRate {
                    warnOnce("variable frame rate: indices after seeking to \(seek) s are estimated as time × fps")
                }
            }
        }
        return (relative + (indexOffset ?? 0), time)
    }

    /// The frame number the strategy implies for the next frame, when ffmpeg's log cannot tell (constant rate assumed).
    private func inferredIndex() -> Int {
        if let planned = plannedIndices, framesDelivered < planned.count { return planned[framesDelivered] }
        switch sampler.strategy {
        case .everyNth(let k): return framesDelivered * k
        case .fps(let f) where info.fps > 0: return Int((Double(framesDelivered) * info.fps / f).rounded())
        default: return framesDelivered
        }
    }

    /// ffmpeg closed its output: reap it and turn its exit into an error (no frame yet) or warnings.
    private func finishAtEndOfStream() throws {
        // ffmpeg closed stdout and is exiting on its own: let it (a SIGTERM now would turn a clean end into a
        // failure), but not forever.
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(1_000) }
        close()
        let (errors, errorCount) = monitor.errorLines
        let signalled = process.terminationReason == .uncaughtSignal
        let failed = process.terminationStatus != 0 || signalled
        let last = errors.last ?? (signalled ? "killed by signal \(process.terminationStatus)" : "exit status \(process.terminationStatus)")
        if framesDelivered == 0 && (failed || errorCount > 0) {
            throw VideoProbe.classifyFailure(path: info.path, toolOutput: errors.joined(separator: "\n") + "\n" + last, tool: "ffmpeg")
        }
        if failed {
            warnings.append("ffmpeg failed after \(framesDelivered) frame(s): \(last)")
        } else if errorCount > 0 {
            warnings.append("ffmpeg reported \(errorCount) decoding error(s) (the file may be damaged or cut off; frames may be missing), last: \(last)")
        }
        if let planned = plannedIndices, framesDelivered < planned.count {
            let basis = plan.frameCountBasis.map { " (frame count \($0.count) from \($0.source))" } ?? ""
            warnings.append("\(planned.count) frames planned\(basis) but only \(framesDelivered) decoded: the video has fewer frames than expected or is truncated")
        }
    }

    private func closeOutput() {
        guard !outputClosed else { return }
        outputClosed = true
        try? output.close()
    }

    private func warnOnce(_ message: String) {
        if !warnings.contains(message) { warnings.append(message) }
    }
}
