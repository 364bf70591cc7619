import Foundation

/// Reads planned frames by seeking: short `ffmpeg` runs of a few keyframe groups
/// (``SeekPlan/groupsPerRun(framePixels:)``), each group an input of its own that starts at a keyframe.
///
/// Every run is checked: the first frame the decoder produced must be the group's keyframe or an earlier keyframe
/// (never a point that is not a keyframe, which would give damaged pictures), ffmpeg must have logged no decoding
/// error, and every piped frame must carry its target's exact timestamp. When a check fails the reader stops and
/// hands back the frames it has not delivered, for the caller to scan for.
///
/// Two runs are under way at once for frames up to 1080p: the next run's ffmpeg starts with the current one, and
/// each run's frames are taken off its pipe by a thread of their own (`PrefetchedRun`, at most
/// ``bufferBytes`` of frames per run), so the next run decodes on the second core while the consumer works.
final class SeekingFrameReader {
    let info: VideoInfo
    let index: VideoFrameIndex
    let plan: SeekPlan
    /// The part of each frame delivered (nil: the whole frame).
    let region: FrameRegion?
    /// Problems met so far.
    private(set) var warnings: [String] = []
    /// Frames decoded by the finished runs.
    private var decodedByFinishedRuns = 0
    /// ffmpeg runs started.
    private(set) var runs = 0
    /// Keyframe groups (inputs) in the runs started.
    private(set) var seeks = 0
    /// Set when a check failed: the planned frames not delivered, and why.
    private(set) var abandoned: (remaining: [Int], reason: String)?

    private let executable: URL
    private let fpsMode: Bool
    private let runPlan: [[SeekPlan.Group]]
    private var runNumber = 0
    private var groupNumber = 0
    private var targetNumber = 0
    /// The run being delivered, and the one after it, already decoding.
    private var current: PrefetchedRun?
    private var upcoming: PrefetchedRun?
    /// Whether a second run may decode beside the current one (frames up to 1920×1080).
    private let overlapsRuns: Bool
    /// Frame bytes one run may hold in memory ahead of the consumer.
    static let bufferBytes = 8 << 20

    init(info: VideoInfo, index: VideoFrameIndex, plan: SeekPlan, region: FrameRegion? = nil) throws {
        (self.info, self.index, self.plan, self.region) = (info, index, plan, region)
        runPlan = plan.runs(framePixels: info.width * info.height)
        executable = try MediaTool.ffmpeg.executableURL(for: info.path)
        fpsMode = FFmpegCapabilities.supportsFpsMode(executable)
        overlapsRuns = info.width * info.height <= 1920 * 1088
    }

    deinit { close() }

    /// Frames the decoder produced in all runs so far.
    var decodedFrames: Int { decodedByFinishedRuns + (current?.stream.decodedFrames ?? 0) + (upcoming?.stream.decodedFrames ?? 0) }
    /// The running ffmpeg, if any.
    var currentStream: FFmpegFrameStream? { current?.stream }

    /// The next planned frame, or nil when the plan is done or was abandoned (see ``abandoned``).
    ///
    /// - Throws: `MediaError` when ffmpeg cannot be launched.
    func next() throws -> VideoFrame? {
        guard abandoned == nil, runNumber < runPlan.count else { return nil }
        let run = runPlan[runNumber]
        if current == nil { try start(run: runNumber) }
        guard let current else { return nil }
        let stream = current.stream
        let group = run[groupNumber]
        let target = group.targets[targetNumber]
        let output = info.output(region)
        let pixels = current.next()
        guard pixels.count == output.bytes else {
            return abandon(at: target, "ffmpeg ended before frame \(target.index) (\(runEnding(stream)))")
        }
        let stamp = stream.nextStamp(chain: groupNumber, timeout: 5)
        if targetNumber == 0, !startedAtKeyframe(stream.firstDecoded(chain: groupNumber)?.pts, group: group) {
            let first = stream.firstDecoded(chain: groupNumber)?.pts.map(String.init) ?? "unknown"
            return abandon(at: target, "the decoder started at timestamp \(first), not at the keyframe \(group.keyframePTS)")
        }
        if stream.errorCount > 0 {
            return abandon(at: target, "ffmpeg reported decoding errors after seeking to \(SeekPlan.microseconds(group.keyframePTS, index.timeBase)) s")
        }
        guard let stamp, stamp.pts == target.pts else {
            return abandon(at: target, "frame \(target.index) came with timestamp \(stamp?.pts.map(String.init) ?? "unknown"), expected \(target.pts)")
        }
        targetNumber += 1
        if targetNumber == group.targets.count { (groupNumber, targetNumber) = (groupNumber + 1, 0) }
        if groupNumber == run.count {
            finishRun()
            (runNumber, groupNumber) = (runNumber + 1, 0)
            if runNumber < runPlan.count { try start(run: runNumber) }
        }
        let time = index.seconds(target.pts) - info.startTime
        return VideoFrame(index: target.index, time: time, image: RGBImage(width: output.width, height: output.height, pixels: pixels))
    }

    /// Stops the running ffmpeg runs, if any.
    func close() {
        for run in [current, upcoming].compactMap({ $0 }) {
            run.cancel()
            decodedByFinishedRuns += run.stream.decodedFrames
        }
        (current, upcoming) = (nil, nil)
    }

    /// Whether a run whose decoder produced `pts` first started where it may: at the group's keyframe, or at an
    /// earlier keyframe of the index (a demuxer whose own index lists fewer keyframes, such as Matroska's cues at
    /// cluster starts, lands there; the frames are the same, only more are decoded). Anything else, for example a
    /// frame that is not a keyframe, could give damaged pictures.
    private func startedAtKeyframe(_ pts: Int64?, group: SeekPlan.Group) -> Bool {
        guard let pts, pts <= group.keyframePTS else { return false }
        return pts == group.keyframePTS || index.keyframe(atOrBefore: pts) == pts
    }

    /// Makes run `number` the current one (started already as the upcoming run, or now), and starts the run after it.
    private func start(run number: Int) throws {
        current = try upcoming ?? launch(runPlan[number])
        upcoming = nil
        if overlapsRuns, number + 1 < runPlan.count { upcoming = try launch(runPlan[number + 1]) }
    }

    private func launch(_ run: [SeekPlan.Group]) throws -> PrefetchedRun {
        let arguments = plan.arguments(run: run, index: index, info: info, fpsMode: fpsMode, region: region)
        let stream = try FFmpegFrameStream(executable: executable, arguments: arguments, path: info.path)
        runs += 1
        seeks += run.count
        let bytes = info.output(region).bytes
        return PrefetchedRun(stream: stream, frameBytes: bytes, count: run.reduce(0) { $0 + $1.targets.count },
                             capacity: Self.bufferBytes / max(1, bytes))
    }

    /// The group's frames are all in: let ffmpeg exit (it stops after its last frame) and keep its complaints.
    private func finishRun() {
        guard let current else { return }
        current.waitForReader()
        let stream = current.stream
        let ending = stream.finish()
        decodedByFinishedRuns += stream.decodedFrames
        self.current = nil
        if ending.failed {
            warnings.append("ffmpeg failed after seeking: \(ending.last)")
        } else if ending.errorCount > 0 {
            warnings.append("ffmpeg reported \(ending.errorCount) decoding error(s) (the file may be damaged), last: \(ending.last)")
        }
    }

    private func runEnding(_ stream: FFmpegFrameStream) -> String {
        let ending = stream.finish(timeout: 2)
        return ending.failed || ending.errorCount > 0 ? ending.last : "no error"
    }

    /// Gives up seeking: the frames from `target` on are left for a scan.
    private func abandon(at target: SeekPlan.Target, _ reason: String) -> VideoFrame? {
        close()
        let remaining = runPlan[runNumber...].joined().flatMap(\.targets).map(\.index).filter { $0 >= target.index }
        abandoned = (remaining + plan.missing, reason)
        return nil
    }
}
