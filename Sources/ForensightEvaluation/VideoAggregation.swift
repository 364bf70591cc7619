/// One detector score for one face crop: frame level = one record.
public struct FrameScore: Codable, Sendable, Equatable {
    public var videoID: String
    /// Index of the frame in its video (the sampled frame, any integer order).
    public var frameIndex: Int
    /// Face (or face track) within the frame; 0 when one face per frame is scored.
    public var faceID: Int
    public var score: Double
    /// 0 real, 1 fake; must be the same for every record of a video.
    public var label: Int

    public init(videoID: String, frameIndex: Int, faceID: Int = 0, score: Double, label: Int) {
        self.videoID = videoID
        self.frameIndex = frameIndex
        self.faceID = faceID
        self.score = score
        self.label = label
    }
}

/// Video-level scores, one per video, sorted by video ID; ready for any `Metrics` function.
public struct VideoScores: Codable, Sendable, Equatable {
    public var rule: VideoAggregation
    public var videoIDs: [String]
    public var scores: [Double]
    public var labels: [Int]
    /// Distinct frames per video.
    public var frameCounts: [Int]
    /// Records (face crops) per video.
    public var recordCounts: [Int]
}

/// How frame (face-crop) scores become one video score. The rule's `rawValue` is its name in reports.
public enum VideoAggregation: String, Codable, CaseIterable, Sendable {
    /// Mean over every record (face crop) of the video: s_v = (1/|R_v|) Σ_{r∈R_v} s_r.
    /// DeepfakeBench's video-level rule (there, one face per frame, so the mean over frames).
    case mean
    /// Per frame the maximum over its faces, then the mean over frames:
    /// s_v = (1/|F_v|) Σ_{f∈F_v} max_{r∈f} s_r. SBI's (Shiohara & Yamasaki 2022) inference rule.
    case maxOverFacesThenMean
    /// Maximum over every record of the video.
    case max
    /// Median over every record of the video (mean of the two middle values when the count is even,
    /// as numpy.median).
    case median
    /// The "confident frames" rule of the DFDC winning solution (Seferbekov, 2020), on per-frame maxima m_f: when
    /// at least 40 % of frames have m_f > 0.8, the mean of those; else when more than 90 % have m_f < 0.2, the mean
    /// of those; else the mean of all frames. A few confidently fake frames are not averaged away.
    case confident

    /// The rule's name as written in reports.
    public var name: String { rawValue }

    /// Groups `records` by video and applies the rule. Inputs are not modified. Within a video, records are
    /// combined in (frameIndex, faceID) order, so the result does not depend on the input order.
    ///
    /// Throws `emptyInput`, `invalidLabel` / `nanScore` (index into `records`), `duplicateRecord` when a
    /// (video, frame, face) repeats, and `inconsistentVideoLabel` when a video's records disagree on the label.
    public func aggregate(_ records: [FrameScore]) throws -> VideoScores {
        guard !records.isEmpty else { throw MetricError.emptyInput }
        var byVideo: [String: [Int]] = [:]
        for (i, r) in records.enumerated() {
            guard r.label == 0 || r.label == 1 else { throw MetricError.invalidLabel(index: i, value: r.label) }
            guard !r.score.isNaN else { throw MetricError.nanScore(index: i) }
            byVideo[r.videoID, default: []].append(i)
        }
        var out = VideoScores(rule: self, videoIDs: [], scores: [], labels: [], frameCounts: [], recordCounts: [])
        for id in byVideo.keys.sorted() {
            let members = byVideo[id]!.sorted {
                (records[$0].frameIndex, records[$0].faceID) < (records[$1].frameIndex, records[$1].faceID)
            }
            let labels = Set(members.map { records[$0].label })
            guard labels.count == 1 else { throw MetricError.inconsistentVideoLabel(videoID: id, labels: labels.sorted()) }
            // Scores grouped by frame, in frame order.
            var frames: [[Double]] = []
            var previous: (frame: Int, face: Int)?
            for i in members {
                let r = records[i]
                if let p = previous, p.frame == r.frameIndex, p.face == r.faceID {
                    throw MetricError.duplicateRecord(videoID: id, frameIndex: r.frameIndex, faceID: r.faceID)
                }
                if previous?.frame == r.frameIndex { frames[frames.count - 1].append(r.score) } else { frames.append([r.score]) }
                previous = (r.frameIndex, r.faceID)
            }
            out.videoIDs.append(id)
            out.scores.append(combine(frames))
            out.labels.append(labels.first!)
            out.frameCounts.append(frames.count)
            out.recordCounts.append(members.count)
        }
        return out
    }

    /// The rule on one video's scores, grouped by frame (non-empty frames, frame order).
    func combine(_ frames: [[Double]]) -> Double {
        switch self {
        case .mean:
            let all = frames.joined()
            return all.reduce(0, +) / Double(all.count)
        case .maxOverFacesThenMean:
            return frames.map { $0.max()! }.reduce(0, +) / Double(frames.count)
        case .max:
            return frames.joined().max()!
        case .confident:
            let maxima = frames.map { $0.max()! }
            let high = maxima.filter { $0 > 0.8 }, low = maxima.filter { $0 < 0.2 }
            if Double(high.count) >= 0.4 * Double(maxima.count) { return high.reduce(0, +) / Double(high.count) }
            if Double(low.count) > 0.9 * Double(maxima.count) { return low.reduce(0, +) / Double(low.count) }
            return maxima.reduce(0, +) / Double(maxima.count)
        case .median:
            let sorted = frames.joined().sorted()
            let m = sorted.count / 2
            return sorted.count % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2
        }
    }
}
