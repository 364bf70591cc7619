import Foundation

/// Every frame's exact timestamp and where a decoder may start, read from the container's index without decoding.
///
/// Frame `k` is the `k`-th smallest presentation timestamp among the stream's packets: a decoder outputs frames in
/// presentation order, so sorting undoes B-frame reordering, and real timestamps are kept for variable frame rate.
/// Keyframes are the packets the container flags `K`: the points `ffmpeg -ss` can start decoding from.
///
/// Built by ``read(info:)``: from an MP4 or QuickTime file's sample table where ours reads it (`MP4SampleTable`),
/// otherwise from `ffprobe -select_streams <i> -show_entries packet=pts,flags`, which demuxes the file once (reads
/// it, decodes nothing).
public struct VideoFrameIndex: Sendable, Equatable {
    /// The stream's time base: a timestamp `p` is `p × num / den` seconds.
    public let timeBase: (num: Int64, den: Int64)
    /// Presentation timestamps of all frames, ascending (frame index → timestamp).
    public let framePTS: [Int64]
    /// Presentation timestamps of the keyframes, ascending.
    public let keyframePTS: [Int64]

    public static func == (a: Self, b: Self) -> Bool {
        a.timeBase == b.timeBase && a.framePTS == b.framePTS && a.keyframePTS == b.keyframePTS
    }

    /// Builds an index from parsed packets; nil with the reason when it cannot place frames exactly.
    ///
    /// Unusable: no packets, a packet without a timestamp, two frames with the same timestamp, no keyframe, or
    /// frames shown before the first keyframe (a decoder drops those, so frame numbers would shift).
    static func make(timeBase: (num: Int64, den: Int64), packets: [(pts: Int64?, key: Bool)]) -> Result<VideoFrameIndex, IndexProblem> {
        guard timeBase.num > 0, timeBase.den > 0 else { return .failure(.init("no time base")) }
        guard !packets.isEmpty else { return .failure(.init("no packets")) }
        var frames: [Int64] = [], keys: [Int64] = []
        frames.reserveCapacity(packets.count)
        for packet in packets {
            guard let pts = packet.pts else { return .failure(.init("a packet has no timestamp")) }
            frames.append(pts)
            if packet.key { keys.append(pts) }
        }
        frames.sort()
        keys.sort()
        for i in frames.indices.dropFirst() where frames[i] == frames[i - 1] {
            return .failure(.init("two frames share the timestamp \(frames[i])"))
        }
        guard let firstKey = keys.first else { return .failure(.init("no keyframe is flagged")) }
        guard frames[0] == firstKey else {
            return .failure(.init("frames are shown before the first keyframe"))
        }
        return .success(VideoFrameIndex(timeBase: timeBase, framePTS: frames, keyframePTS: keys))
    }

    /// Why an index cannot be used (said in the read's warnings).
    struct IndexProblem: Error { let reason: String; init(_ reason: String) { self.reason = reason } }

    /// Seconds of timestamp `pts`.
    public func seconds(_ pts: Int64) -> Double { Double(pts) * Double(timeBase.num) / Double(timeBase.den) }

    /// The frame whose timestamp is `pts`, if any.
    public func frameIndex(ofPTS pts: Int64) -> Int? {
        let i = lowerBound(framePTS, pts)
        return i < framePTS.count && framePTS[i] == pts ? i : nil
    }

    /// The last keyframe shown at or before `pts` (where decoding towards that frame starts).
    public func keyframe(atOrBefore pts: Int64) -> Int64? {
        let i = lowerBound(keyframePTS, pts + 1)
        return i > 0 ? keyframePTS[i - 1] : nil
    }

    private func lowerBound(_ array: [Int64], _ value: Int64) -> Int {
        var (low, high) = (0, array.count)
        while low < high {
            let mid = (low + high) / 2
            if array[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

extension VideoFrameIndex {
    /// Reads the index of `info`'s stream.
    ///
    /// - Returns: the index, or the reason it cannot be used (the caller then scans).
    /// - Throws: `MediaError` when ffprobe is missing or cannot read the file.
    ///
    /// Remembered for the rest of the process per unchanged file (as ``VideoProbe/probe(path:countFrames:)``), so
    /// the readers of one file in turn (a fusion's face read and mouth read) list its packets once.
    static func read(info: VideoInfo) throws -> Result<VideoFrameIndex, IndexProblem> {
        try memo.value(for: info.path, variant: "\(info.streamIndex)") {
            if let table = MP4SampleTable.frameIndex(path: info.path, stream: info.streamIndex) { return .success(table) }
            return try listPackets(info: info)
        }
    }

    private static let memo = FileMemo<Result<VideoFrameIndex, IndexProblem>>()

    /// The index from ffprobe's packet listing alone (nil when that index is unusable), for comparing with the
    /// sample-table reader.
    public static func listedByFFprobe(info: VideoInfo) throws -> VideoFrameIndex? { try? listPackets(info: info).get() }

    /// The index from ffprobe's packet listing (demuxes the whole file).
    static func listPackets(info: VideoInfo) throws -> Result<VideoFrameIndex, IndexProblem> {
        let path = info.path
        let output = try MediaTool.ffprobe.run(
            ["-v", "error", "-select_streams", String(info.streamIndex),
             "-show_entries", "stream=time_base:packet=pts,flags", "-of", "compact=p=0:nk=1", MediaTool.input(path)],
            mediaPath: path)
        guard output.status == 0 else { throw VideoProbe.classifyFailure(path: path, toolOutput: output.errorText, tool: "ffprobe") }
        return parse(String(decoding: output.stdout, as: UTF8.self))
    }

    /// Parses ffprobe's compact output: one `pts|flags` line per packet and one `num/den|…` line for the time base
    /// (a packet's `pts` is a number or `N/A`, never a ratio).
    /// Packets flagged `D` (dropped by the demuxer's edit list) are not frames.
    static func parse(_ text: String) -> Result<VideoFrameIndex, IndexProblem> {
        var timeBase: (num: Int64, den: Int64)?
        var packets: [(pts: Int64?, key: Bool)] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: "|", omittingEmptySubsequences: false)
            let ratio = fields[0].split(separator: "/")
            if ratio.count == 2, let num = Int64(ratio[0]), let den = Int64(ratio[1]) {
                // The stream line: its time base, then empty fields for side data (a rotation, for example).
                timeBase = (num, den)
            } else if fields.count >= 2 {
                let flags = fields[1]
                if flags.contains("D") { continue }
                packets.append((Int64(fields[0]), flags.contains("K")))
            }
        }
        guard let timeBase else { return .failure(.init("ffprobe gave no time base")) }
        return make(timeBase: timeBase, packets: packets)
    }
}
