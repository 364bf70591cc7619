import Foundation

/// One decoded frame.
public struct VideoFrame: Sendable {
    /// The decoder's frame number counted from the first frame of the file (0-based). After a seek (a range with a
    /// `start`), ffmpeg only counts from the seek point, so the frames before it are counted as
    /// `round(time × fps)` of the first delivered frame: exact for constant frame rate, an estimate otherwise (the
    /// reader warns).
    public let index: Int
    /// Presentation time in seconds from the start of the video, from the frame's own timestamp (`pts_time`), so
    /// variable-frame-rate video gets its real times.
    public let time: Double
    /// The frame, upright (rotation applied), `VideoInfo.width × VideoInfo.height`; with a reader's
    /// ``VideoReader/region``, that region of it only (its pixel (0, 0) is the frame's (region.x, region.y)).
    public let image: RGBImage
}

/// What a frame consumer wants next.
public enum FrameAction: Sendable {
    /// Deliver the next frame.
    case `continue`
    /// Stop: the decoder is terminated and reaped at once.
    case stop
}

/// What happened during ``VideoReader/frames(sampling:_:)``.
public struct VideoReadSummary: Sendable {
    /// Frames handed to the consumer.
    public let framesDelivered: Int
    /// For `.uniform`/`.indices`: the frame numbers (from the range start) that were asked of ffmpeg.
    public let plannedIndices: [Int]?
    /// True when the consumer returned `.stop`.
    public let stoppedByConsumer: Bool
    /// Things the caller should know: fewer frames than planned, decoding errors in a damaged file, estimated
    /// indices, a container without a usable index (read by scanning). Empty for a clean read.
    public let warnings: [String]
    /// Frames ffmpeg decoded to deliver these (all its runs; from its `showinfo` log): the cost of the read.
    public var framesDecoded: Int = 0
    /// ffmpeg processes started (one when scanning; one per batch of keyframe groups when seeking).
    public var decoderRuns: Int = 0
    /// Keyframes seeked to (0 when scanning).
    public var seeks: Int = 0
    /// How the frames were reached in the end (`.scan` when seeking was not possible or was given up).
    public var access: VideoFrameAccess = .scan
}

/// How a reader reaches the sampled frames of `.uniform` and `.indices` sampling.
public enum VideoFrameAccess: String, Sendable, Equatable {
    /// Seek to the last keyframe before each group of sampled frames (found in the container's index) and decode
    /// forward to them: the cost follows the number of samples, not the length. Falls back to `.scan`, with a
    /// warning, when the container has no usable index or a seek cannot be verified.
    case seek
    /// `.scan` for files of at most ``VideoReader/autoScanFrames`` frames (by the container's count), `.seek`
    /// otherwise: on a short clip one decoding pass costs less than listing the packets and seeking (measured on a
    /// 10-s 720p clip: 0.52 s to scan, 0.71 s to seek), on a long file seeking wins by far. The default.
    case auto
    /// Decode every frame from the start and keep the sampled ones (a `select` filter). Other strategies (`.all`,
    /// `.everyNth`, `.fps`) and time ranges always scan.
    case scan
}

/// Decodes a video's frames as upright RGB images by running `ffmpeg` as a subprocess.
///
/// The frames stream through a pipe one at a time (`-f rawvideo -pix_fmt rgb24`, exactly `width × height × 3`
/// bytes each), so memory stays constant however long the video is. Sampling (``FrameSampler``) happens inside
/// ffmpeg: unselected frames are never converted nor piped. Planned frames (`.uniform`, `.indices`) are reached by
/// seeking to the keyframe before each group of them (``VideoFrameAccess/seek``), so only those groups of pictures
/// are decoded; the other strategies decode every frame of the file or range.
///
/// ```swift
/// let reader = try VideoReader(path: "clip.mp4")
/// try reader.frames(sampling: .uniform(count: 32)) { frame in
///     detectFaces(in: frame.image)   // frame.index, frame.time
///     return .continue
/// }
/// ```
public final class VideoReader: Sendable {
    /// The probed video.
    public let info: VideoInfo
    /// How planned frames are reached (`.auto` by default; `.scan` is the reference the seeking path is tested
    /// against).
    public let access: VideoFrameAccess
    /// With `.auto`, files of at most this many frames are scanned (about 30 s at 30 frames per second).
    public static let autoScanFrames = 900
    /// When seeking: the most frames decoded between two keyframe groups to read them in one ffmpeg run instead of
    /// two. Nil weighs the frame size (about 60 frames at 854×480, fewer for larger frames); 0 gives every
    /// keyframe group its own run.
    public let seekMergeGap: Int?
    /// When set, every frame is cropped to this region inside ffmpeg (``FrameRegion``), clamped to the frame.
    public let region: FrameRegion?

    /// Probes `path` (see ``VideoProbe/probe(path:countFrames:)`` for the errors thrown).
    public convenience init(path: String, access: VideoFrameAccess = .auto, seekMergeGap: Int? = nil, region: FrameRegion? = nil) throws {
        self.init(info: try VideoProbe.probe(path: path), access: access, seekMergeGap: seekMergeGap, region: region)
    }

    /// A reader for an already probed video.
    public init(info: VideoInfo, access: VideoFrameAccess = .auto, seekMergeGap: Int? = nil, region: FrameRegion? = nil) {
        (self.info, self.access, self.seekMergeGap) = (info, access, seekMergeGap)
        self.region = region?.clamped(frameWidth: info.width, frameHeight: info.height)
    }

    /// Starts ffmpeg and returns an iterator over the sampled frames. Call `close()` (or drop the iterator) to stop
    /// early; ffmpeg is terminated and reaped either way.
    ///
    /// - Throws: `MediaError` `.toolMissing`, or the probe errors when a uniform plan needs to count frames.
    public func makeIterator(sampling: FrameSampler = .all) throws -> VideoFrameIterator {
        let planned: Bool
        switch sampling.strategy {
        case .uniform, .indices: planned = sampling.start == nil && sampling.end == nil
        default: planned = false
        }
        let seeks = access == .seek || (access == .auto && (info.frameCount.map { $0 > Self.autoScanFrames } ?? true))
        guard seeks, planned else {
            let plan = SamplingPlan(sampler: sampling, frameCount: try uniformBasis(for: sampling))
            return try VideoFrameIterator(info: info, sampler: sampling, plan: plan, region: region)
        }
        switch try VideoFrameIndex.read(info: info) {
        case .failure(let problem):
            let plan = SamplingPlan(sampler: sampling, frameCount: try uniformBasis(for: sampling))
            let note = "no usable index in the container (\(problem.reason)): frames were read by decoding from the start"
            return try VideoFrameIterator(info: info, sampler: sampling, plan: plan, region: region, notes: [note])
        case .success(let index):
            let plan = SamplingPlan(sampler: sampling, frameCount: try uniformBasis(for: sampling, index: index))
            var seekPlan = SeekPlan(indices: plan.plannedIndices ?? [], index: index, framePixels: info.width * info.height,
                                    mergeGap: seekMergeGap)
            seekPlan.decoderOptions = DecoderHints.inputOptions(info: info)
            return try VideoFrameIterator(info: info, sampler: sampling, plan: plan, region: region, seek: (index, seekPlan))
        }
    }

    /// Calls `body` with each sampled frame, in order, until the frames run out or `body` returns `.stop`.
    ///
    /// - Throws: what `body` throws; `MediaError` when ffmpeg cannot start or fails before delivering any frame
    ///   (`.corrupt`, `.truncated`, `.unsupportedFormat`). A file damaged part-way delivers the frames that decode and
    ///   reports the damage in ``VideoReadSummary/warnings``.
    @discardableResult
    public func frames(sampling: FrameSampler = .all, _ body: (VideoFrame) throws -> FrameAction) throws -> VideoReadSummary {
        let iterator = try makeIterator(sampling: sampling)
        defer { iterator.close() }
        var stopped = false
        while let frame = try iterator.next() {
            if try body(frame) == .stop { stopped = true; break }
        }
        iterator.close()
        return VideoReadSummary(framesDelivered: iterator.framesDelivered, plannedIndices: iterator.plannedIndices,
                                stoppedByConsumer: stopped, warnings: iterator.warnings,
                                framesDecoded: iterator.framesDecoded, decoderRuns: iterator.decoderRuns, seeks: iterator.seeks,
                                access: iterator.access)
    }

    /// All sampled frames in an array (mind the memory with `.all` on long videos: prefer ``frames(sampling:_:)``).
    public func readFrames(sampling: FrameSampler) throws -> (frames: [VideoFrame], summary: VideoReadSummary) {
        var collected: [VideoFrame] = []
        let summary = try frames(sampling: sampling) { collected.append($0); return .continue }
        return (collected, summary)
    }

    /// The frame count a uniform plan is spread over, and where it comes from.
    ///
    /// Whole video: the container's count (what DeepfakeBench/OpenCV use), else an exact packet count. A range:
    /// the frames of a constant-rate grid `k / fps` that fall in `[start, end)`.
    /// With an `index` (already read for seeking), its frame count replaces a second demuxing pass.
    func uniformBasis(for sampler: FrameSampler, index: VideoFrameIndex? = nil) throws -> (count: Int, source: String)? {
        guard case .uniform = sampler.strategy else { return nil }
        var count = info.frameCount
        var source = info.frameCountSource.rawValue
        if info.frameCountSource == .estimated || info.frameCountSource == .unknown {
            count = try index?.framePTS.count ?? VideoProbe.countPackets(path: info.path, streamIndex: info.streamIndex)
            source = VideoInfo.FrameCountSource.packetCount.rawValue
        }
        guard sampler.start != nil || sampler.end != nil else { return (count ?? 0, source) }
        guard info.fps > 0 else {
            throw MediaError(.unsupportedFormat, path: info.path,
                             reason: "frame rate unknown, so frames in a time range cannot be planned for uniform sampling")
        }
        let videoEnd = info.duration ?? Double(count ?? 0) / info.fps
        let start = sampler.start ?? 0, end = min(sampler.end ?? videoEnd, videoEnd)
        let first = Int((start * info.fps - 1e-6).rounded(.up)), last = Int((end * info.fps - 1e-6).rounded(.up))
        return (max(0, last - first), "time range × fps")
    }
}
