import Foundation

/// Frames to read by seeking: the planned frame numbers grouped by the keyframe decoding starts from.
///
/// Each group is one `ffmpeg` run: seek to the group's keyframe (its exact timestamp), decode forward, pipe the
/// group's frames, picked by their exact timestamps. Consecutive groups merge when the frames decoded between them
/// cost less than starting another run, so a short clip is still one run.
struct SeekPlan {
    /// One ffmpeg run.
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

    /// Decoded pixels that cost about as much as launching ffmpeg and seeking once (about 60 frames at 854×480,
    /// measured on a 2-core machine: a one-frame seeking run took as long as decoding 60–90 such frames).
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

    /// ffmpeg's arguments for one group: seek to the keyframe's own timestamp (`-seek_timestamp 1`: not offset by
    /// the file's start time; `-copyts`: frames keep the stream's timestamps; `-noaccurate_seek`: no trimming, so
    /// `showinfo@decoded` sees the first frame the decoder really produced), select the targets by exact `pts`, stop
    /// after the last one.
    func arguments(group: Group, index: VideoFrameIndex, info: VideoInfo, fpsMode: Bool) -> [String] {
        var arguments = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "repeat+level+info"] + decoderOptions
        arguments += ["-seek_timestamp", "1", "-noaccurate_seek", "-copyts",
                         "-ss", Self.microseconds(group.keyframePTS, index.timeBase),
                         "-i", MediaTool.input(info.path), "-map", "0:\(info.streamIndex)"]
        let terms = group.targets.map { "eq(pts,\($0.pts))" }
        let filters = ["\(FFmpegLogMonitor.decodedFilter)=checksum=0",
                       "select='\(SamplingPlan.balancedSum(terms))'",
                       "\(FFmpegLogMonitor.selectedFilter)=checksum=0",
                       "scale=\(info.width):\(info.height)", "format=rgb24"]
        arguments += ["-vf", filters.joined(separator: ",")]
        arguments += fpsMode ? ["-fps_mode", "passthrough"] : ["-vsync", "passthrough"]
        arguments += ["-frames:v", String(group.targets.count), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
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
