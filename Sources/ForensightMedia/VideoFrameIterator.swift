import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Pulls sampled frames out of `ffmpeg`, one `width × height × 3`-byte frame at a time.
///
/// Made by ``VideoReader/makeIterator(sampling:)``. Planned frames (`.uniform`, `.indices`, no time range) are read
/// by seeking when the container has a usable index (``VideoFrameAccess/seek``): one short ffmpeg run per keyframe
/// group, so the cost follows the number of samples, not the length of the file. Everything else scans: one ffmpeg
/// run over the whole file (or range), with a `select` filter keeping the sampled frames.
///
/// Not thread-safe: use it from one thread. Every ffmpeg process is always reaped: at the end of the stream, on
/// `close()`, or when the iterator is released.
public final class VideoFrameIterator {
    /// The video being read.
    public let info: VideoInfo
    /// The sampling asked for.
    public let sampler: FrameSampler
    /// The part of each frame delivered (nil: the whole frame).
    public let region: FrameRegion?
    /// For `.uniform`/`.indices`: the frame numbers (from the range start) asked of ffmpeg.
    public let plannedIndices: [Int]?
    /// Frames returned by ``next()`` so far.
    public private(set) var framesDelivered = 0
    /// Problems met so far (see ``VideoReadSummary/warnings``).
    public private(set) var warnings: [String] = []
    /// How the frames are reached: `.seek` while seeking, `.scan` otherwise (asked for, not applicable, or fallen
    /// back to).
    public private(set) var access: VideoFrameAccess
    /// The command line of the running (or last) ffmpeg, for logs and bug reports.
    public var commandLine: [String] { (seeker?.currentStream ?? scanStream)?.commandLine ?? [] }

    private let plan: SamplingPlan
    private var seeker: SeekingFrameReader?
    private var scanStream: FFmpegFrameStream?
    private var scanSampler: FrameSampler
    private var scanPlan: SamplingPlan
    private var decodedByScans = 0
    /// Frames delivered by seeking before a fallback scan started.
    private var framesBeforeScan = 0
    private var indexOffset: Int?
    private var finished = false
    private var stampsReliable = true
    private lazy var plannedSet = Set(scanPlan.plannedIndices ?? [])

    /// Whether an ffmpeg is running (false after the end of the stream or `close()`).
    public var isDecoderRunning: Bool { (seeker?.currentStream ?? scanStream)?.isRunning ?? false }
    /// The running (or last) ffmpeg's process id, 0 before any.
    public var decoderProcessID: Int32 { (seeker?.currentStream ?? scanStream)?.processIdentifier ?? 0 }
    /// Frames ffmpeg decoded so far in all its runs, counted from its `showinfo` log (the cost of the read).
    public var framesDecoded: Int { (seeker?.decodedFrames ?? 0) + decodedByScans + (scanStream?.decodedFrames ?? 0) }
    /// ffmpeg processes started so far.
    public var decoderRuns: Int { (seeker?.runs ?? 0) + scanRuns }
    private var scanRuns = 0
    /// Keyframes seeked to so far.
    public var seeks: Int { (seeker?.seeks ?? 0) + seeksBeforeScan }
    private var seeksBeforeScan = 0

    /// A scanning iterator; `seek` (an index and a plan of groups) makes it seek instead.
    init(info: VideoInfo, sampler: FrameSampler, plan: SamplingPlan, region: FrameRegion? = nil, seek: (VideoFrameIndex, SeekPlan)? = nil,
         notes: [String] = []) throws {
        (self.info, self.sampler, self.plan, self.plannedIndices) = (info, sampler, plan, plan.plannedIndices)
        self.region = region
        (scanSampler, scanPlan) = (sampler, plan)
        warnings = notes
        if let (index, seekPlan) = seek {
            access = .seek
            seeker = try SeekingFrameReader(info: info, index: index, plan: seekPlan, region: region)
        } else {
            access = .scan
            try startScan()
        }
        if plan.plannedIndices?.isEmpty == true { warnings.append("no frames to sample (the frame count is 0)") }
    }

    deinit { close() }

    /// Starts the scanning ffmpeg for `scanPlan`.
    private func startScan() throws {
        let executable = try MediaTool.ffmpeg.executableURL(for: info.path)
        let arguments = Self.arguments(info: info, plan: scanPlan, fpsMode: FFmpegCapabilities.supportsFpsMode(executable), region: region)
        scanStream = try FFmpegFrameStream(executable: executable, arguments: arguments, path: info.path)
        scanRuns += 1
    }

    /// ffmpeg's arguments: quiet banner, frame log through `showinfo`, input seek/duration, the first video stream,
    /// `showinfo@decoded → select → showinfo@selected → [crop →] scale → rgb24`, no frame duplication, raw RGB on stdout.
    static func arguments(info: VideoInfo, plan: SamplingPlan, fpsMode: Bool, region: FrameRegion? = nil) -> [String] {
        var arguments = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "repeat+level+info"]
        if let seek = plan.seek { arguments += ["-ss", SamplingPlan.number(seek)] }
        if let duration = plan.readDuration { arguments += ["-t", SamplingPlan.number(duration)] }
        arguments += ["-i", MediaTool.input(info.path), "-map", "0:\(info.streamIndex)"]
        var filters = ["\(FFmpegLogMonitor.decodedFilter)=checksum=0"]
        if let expression = plan.selectExpression { filters.append("select='\(expression)'") }
        filters.append("\(FFmpegLogMonitor.selectedFilter)=checksum=0")
        filters += FrameRegion.filters(region, info: info)
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
        if let seeker {
            if let frame = try seeker.next() {
                framesDelivered += 1
                return frame
            }
            warnings += seeker.warnings
            self.seeker = nil
            decodedByScans += seeker.decodedFrames
            scanRuns += seeker.runs
            seeksBeforeScan = seeker.seeks
            if let (remaining, reason) = seeker.abandoned {
                // Seeking could not be trusted: scan for the frames not delivered yet.
                warnings.append("seeking stopped (\(reason)); the remaining \(remaining.count) frame(s) were read by decoding from the start")
                access = .scan
                scanSampler = .indices(remaining)
                scanPlan = SamplingPlan(sampler: scanSampler, frameCount: nil)
                framesBeforeScan = framesDelivered
                try startScan()
            } else {
                finishPlanned()
                return nil
            }
        }
        guard let stream = scanStream else { return nil }
        let output = info.output(region)
        let frameBytes = output.bytes
        while true {
            let pixels = stream.readFrame(byteCount: frameBytes)
            guard pixels.count == frameBytes else {
                if !pixels.isEmpty {
                    warnings.append("ffmpeg stopped in the middle of a frame (\(pixels.count) of \(frameBytes) bytes); it was dropped")
                }
                try finishAtEndOfStream()
                return nil
            }
            var stamp: FFmpegLogMonitor.Stamp?
            if stampsReliable {
                stamp = stream.nextStamp(timeout: 5)
                if stamp == nil { stampsReliable = false }  // never wait again: frames keep their inferred numbers
            }
            if scanPlan.filterInReader, let n = stamp?.n, !plannedSet.contains(n) { continue }
            let (index, time) = locate(stamp)
            framesDelivered += 1
            return VideoFrame(index: index, time: time, image: RGBImage(width: output.width, height: output.height, pixels: pixels))
        }
    }

    /// Stops ffmpeg if it is still running and reaps it. Safe to call more than once.
    public func close() {
        guard !finished else { return }
        finished = true
        seeker?.close()
        scanStream?.close()
    }

    /// The seek plan is done: say so if planned frames lay past the end of the index.
    private func finishPlanned() {
        finished = true
        if let planned = plannedIndices, framesDelivered < planned.count {
            let basis = plan.frameCountBasis.map { " (frame count \($0.count) from \($0.source))" } ?? ""
            warnings.append("\(planned.count) frames planned\(basis) but only \(framesDelivered) decoded: the video has fewer frames than expected or is truncated")
        }
    }

    /// Frame number from the start of the file and time in seconds for a delivered frame.
    private func locate(_ stamp: FFmpegLogMonitor.Stamp?) -> (Int, Double) {
        let seek = scanPlan.seek ?? 0
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
            if scanPlan.seek != nil, info.fps > 0, time.isFinite {
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
        let delivered = framesDelivered - framesBeforeScan
        if let planned = scanPlan.plannedIndices, delivered < planned.count { return planned[delivered] }
        switch scanSampler.strategy {
        case .everyNth(let k): return delivered * k
        case .fps(let f) where info.fps > 0: return Int((Double(delivered) * info.fps / f).rounded())
        default: return delivered
        }
    }

    /// ffmpeg closed its output: reap it and turn its exit into an error (no frame yet) or warnings.
    private func finishAtEndOfStream() throws {
        guard let stream = scanStream else { return }
        let ending = stream.finish()
        finished = true
        if framesDelivered == 0 && (ending.failed || ending.errorCount > 0) {
            throw VideoProbe.classifyFailure(path: info.path, toolOutput: ending.errors.joined(separator: "\n") + "\n" + ending.last, tool: "ffmpeg")
        }
        if ending.failed {
            warnings.append("ffmpeg failed after \(framesDelivered) frame(s): \(ending.last)")
        } else if ending.errorCount > 0 {
            warnings.append("ffmpeg reported \(ending.errorCount) decoding error(s) (the file may be damaged or cut off; frames may be missing), last: \(ending.last)")
        }
        if let planned = plannedIndices, framesDelivered < planned.count {
            let basis = plan.frameCountBasis.map { " (frame count \($0.count) from \($0.source))" } ?? ""
            warnings.append("\(planned.count) frames planned\(basis) but only \(framesDelivered) decoded: the video has fewer frames than expected or is truncated")
        }
    }

    private func warnOnce(_ message: String) {
        if !warnings.contains(message) { warnings.append(message) }
    }
}
