import Foundation

/// Frames to read by seeking: the planned frame numbers grouped by the keyframe decoding starts from.
///
/// Each group is one seek: an input of an `ffmpeg` run that starts at the group's keyframe (its exact timestamp),
/// decodes forward and pipes the group's frames, picked by their exact timestamps. Consecutive groups merge when
/// the frames decoded between them cost less than another seek, so a short clip is read in one go.
struct SeekPlan {
    /// One seek.
    struct Group: Equatable {
        /// Where decoding starts.
        var keyframePTS: Int64
        /// The keyframe's frame number.
        var keyframeIndex: Int
        /// Frame numbers and their timestamps, ascending.
        var targets: [Target]
    }
    struct Target: Equatable { var index: Int; var pts: Int64 }

    var groups: [Group]
    /// Planned frame numbers past the last frame of the index (never delivered).
    var missing: [Int]
    /// Input options every run needs (``DecoderHints``).
    var decoderOptions: [String] = []

    /// Decoded pixels that cost about as much as one more seek (about 60 frames at 854×480). Measured on a 2-core
    /// machine when every seek was its own process: a one-frame seeking run took as long as decoding 60–90 such
    /// frames. Within a batched run a seek costs less (opening the input and its decoder), so this errs towards
    /// merging.
    static let mergePixelBudget = 24_000_000

    /// Groups `indices` (ascending) by the last keyframe at or before each frame.
    ///
    /// - Parameters:
    ///   - framePixels: pixels of one frame, to weigh decoding the frames between groups against a new run.
    ///   - mergeGap: the most frames decoded between groups to keep them in one run; nil = from `framePixels`.
    init(indices: [Int], index: VideoFrameIndex, framePixels: Int, mergeGap: Int? = nil) {
        groups = []
        missing = []
        let mergeGap = mergeGap ?? max(2, Self.mergePixelBudget / max(1, framePixels))
        for frame in indices {
            guard frame >= 0, frame < index.framePTS.count else { missing.append(frame); continue }
            let pts = index.framePTS[frame]
            // The first frame is a keyframe (the index guarantees it), so every frame has one at or before it.
            let key = index.keyframe(atOrBefore: pts) ?? index.framePTS[0]
            let keyIndex = index.frameIndex(ofPTS: key) ?? 0
            let target = Target(index: frame, pts: pts)
            if var last = groups.last {
                let decodedBetween = keyIndex - (last.targets.last?.index ?? last.keyframeIndex)
                if last.keyframePTS == key || decodedBetween <= mergeGap {
                    last.targets.append(target)
                    groups[groups.count - 1] = last
                    continue
                }
            }
            groups.append(Group(keyframePTS: key, keyframeIndex: keyIndex, targets: [target]))
        }
    }

    /// Most keyframe groups read by one ffmpeg run. Each group is an input of its own (opened and seeked once, its
    /// index held in memory, its decoder set up before the run starts), so the cap bounds ffmpeg's memory, while
    /// batching saves most of the 0.1–0.2 s that starting an ffmpeg process costs (loading its libraries), which
    /// dominated reads of long files.
    static let maximumGroupsPerRun = 8
    /// Decoded pixels per frame of all a run's inputs together: 8 inputs at 854×480, 4 at 1920×1080, 1 at 4K.
    static let runPixelBudget = 8_400_000

    /// Groups per run for frames of `framePixels` pixels.
    static func groupsPerRun(framePixels: Int) -> Int {
        min(maximumGroupsPerRun, max(1, runPixelBudget / max(1, framePixels)))
    }

    /// The groups cut into runs (``groupsPerRun(framePixels:)``).
    func runs(framePixels: Int) -> [[Group]] {
        let size = Self.groupsPerRun(framePixels: framePixels)
        return stride(from: 0, to: groups.count, by: size).map { Array(groups[$0..<min($0 + size, groups.count)]) }
    }

    /// ffmpeg's arguments for one run: each group is an input seeked to its keyframe's own timestamp
    /// (`-seek_timestamp 1`: not offset by the file's start time; `-noaccurate_seek`: no trimming, so
    /// `showinfo@decoded<i>` sees the first frame the decoder really produced), frames keep the stream's timestamps
    /// (`-copyts`), the chain ends before the frame after the group's last target (`trim` first in the chain: a
    /// chain ended further down keeps ffmpeg reading its input to the end), the targets are picked by exact `pts`, and
    /// `concat` strings the chains together in order. ffmpeg stops after the run's last frame.
    func arguments(run: [Group], index: VideoFrameIndex, info: VideoInfo, fpsMode: Bool, region: FrameRegion? = nil) -> [String] {
        var arguments = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "repeat+level+info", "-copyts"]
        var chains: [String] = []
        for (number, group) in run.enumerated() {
            arguments += decoderOptions
            arguments += ["-seek_timestamp", "1", "-noaccurate_seek", "-ss", Self.microseconds(group.keyframePTS, index.timeBase),
                          "-i", MediaTool.input(info.path)]
            let terms = group.targets.map { "eq(pts,\($0.pts))" }
            var filters: [String] = []
            if let last = group.targets.last, last.index + 1 < index.framePTS.count {
                // Ends the chain at the frame after the last target: ffmpeg then stops reading this input.
                filters.append("trim=end_pts=\(index.framePTS[last.index + 1])")
            }
            filters += ["\(FFmpegLogMonitor.decodedFilter)\(number)=checksum=0",
                        "select='\(SamplingPlan.balancedSum(terms))'",
                           "\(FFmpegLogMonitor.selectedFilter)\(number)=checksum=0"]
            filters += FrameRegion.filters(region, info: info) + ["format=rgb24"]
            chains.append("[\(number):\(info.streamIndex)]" + filters.joined(separator: ",") + "[v\(number)]")
        }
        let labels = run.indices.map { "[v\($0)]" }.joined()
        let graph = chains.joined(separator: ";") + ";" + labels + "concat=n=\(run.count):v=1:a=0[out]"
        arguments += ["-filter_complex", graph, "-map", "[out]"]
        arguments += fpsMode ? ["-fps_mode", "passthrough"] : ["-vsync", "passthrough"]
        let frames = run.reduce(0) { $0 + $1.targets.count }
        arguments += ["-frames:v", String(frames), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
        return arguments
    }

    /// `pts × timeBase` seconds rounded up to the microsecond (ffmpeg's `-ss` resolution), so the seek target is
    /// never before the keyframe and stays before the next frame. Written as plain decimals.
    static func microseconds(_ pts: Int64, _ timeBase: (num: Int64, den: Int64)) -> String {
        let product = pts.multipliedReportingOverflow(by: timeBase.num * 1_000_000)
        let micros: Int64
        if product.overflow {
            micros = Int64((Double(pts) * Double(timeBase.num) * 1e6 / Double(timeBase.den)).rounded(.up))
        } else {
            let (q, r) = product.partialValue.quotientAndRemainder(dividingBy: timeBase.den)
            micros = r > 0 ? q + 1 : q
        }
        let sign = micros < 0 ? "-" : ""
        let magnitude = micros.magnitude
        return sign + String(magnitude / 1_000_000) + "." + String(format: "%06llu", UInt64(magnitude % 1_000_000))
    }
}
