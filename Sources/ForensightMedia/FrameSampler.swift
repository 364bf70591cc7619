import Foundation

/// Which frames of a video to decode, and optionally within which time range.
///
/// The selection runs inside ffmpeg (a `select` filter on the decoder's frame number `n`, time `t`, or, when
/// seeking, exact timestamp `pts`), so frames that are not wanted are never converted to RGB nor piped. When
/// scanning they are still decoded (a codec cannot skip them); a seeking read (``VideoFrameAccess/seek``) decodes
/// only from the keyframe before each group of planned frames.
///
/// ```swift
/// try reader.frames(sampling: .uniform(count: 32)) { frame in … ; return .continue }
/// try reader.frames(sampling: .fps(2).within(start: 10, end: 20)) { … }
/// ```
///
/// Frame numbers in a strategy count from the first frame of the range (the first frame of the file when there is
/// no range).
public struct FrameSampler: Sendable, Equatable {
    /// How frames are picked.
    public enum Strategy: Sendable, Equatable {
        /// Every frame.
        case all
        /// `count` frames spread evenly, DeepfakeBench's rule exactly:
        /// `np.linspace(0, total - 1, count, endpoint=True, dtype=int)` with duplicates read once
        /// (see ``FrameSampler/linspaceIndices(frameCount:count:)``).
        case uniform(count: Int)
        /// Frames 0, k, 2k, …
        case everyNth(Int)
        /// At most `f` frames per second of video time: the first decoded frame of each interval
        /// `[start + i/f, start + (i+1)/f)`. Real frames by their timestamps (correct for variable frame rate);
        /// unlike ffmpeg's `fps` filter, nothing is duplicated or re-timed.
        case fps(Double)
        /// These frame numbers (sorted, duplicates dropped).
        case indices([Int])
    }

    /// How frames are picked.
    public var strategy: Strategy
    /// Start of the range in seconds from the start of the video (inclusive); nil = from the beginning.
    /// ffmpeg seeks there (`-ss` before `-i`: fast, then decodes exactly from the first frame at or after `start`).
    public var start: Double?
    /// End of the range in seconds (exclusive); nil = to the end.
    public var end: Double?

    /// A sampler with a strategy and an optional range.
    public init(_ strategy: Strategy, start: Double? = nil, end: Double? = nil) {
        switch strategy {
        case .uniform(let count): precondition(count > 0, "uniform sampling needs count > 0, got \(count)")
        case .everyNth(let k): precondition(k > 0, "everyNth needs k > 0, got \(k)")
        case .fps(let f): precondition(f > 0 && f.isFinite, "fps sampling needs a positive rate, got \(f)")
        case .indices(let list): precondition(list.allSatisfy { $0 >= 0 }, "frame indices must be ≥ 0")
        case .all: break
        }
        precondition(start.map { $0 >= 0 && $0.isFinite } ?? true, "range start must be ≥ 0")
        precondition(end.map { $0 > (start ?? 0) } ?? true, "range end must be after its start")
        (self.strategy, self.start, self.end) = (strategy, start, end)
    }

    /// Every frame.
    public static var all: FrameSampler { FrameSampler(.all) }
    /// `count` frames spread evenly over the video (DeepfakeBench: 32).
    public static func uniform(count: Int) -> FrameSampler { FrameSampler(.uniform(count: count)) }
    /// Every `k`-th frame, starting with the first.
    public static func everyNth(_ k: Int) -> FrameSampler { FrameSampler(.everyNth(k)) }
    /// At most `f` frames per second of video time.
    public static func fps(_ f: Double) -> FrameSampler { FrameSampler(.fps(f)) }
    /// Exactly these frame numbers.
    public static func indices(_ list: [Int]) -> FrameSampler { FrameSampler(.indices(list)) }

    /// The same strategy restricted to `[start, end)` seconds.
    public func within(start: Double? = nil, end: Double? = nil) -> FrameSampler {
        FrameSampler(strategy, start: start, end: end)
    }

    /// DeepfakeBench's frame indices: `np.linspace(0, frameCount - 1, count, endpoint=True, dtype=int)`, each
    /// index once, ascending (its loop reads every frame and keeps those `in frame_idxs`, so duplicates collapse).
    ///
    /// numpy computes `step = (stop − start) / (count − 1)`, `y_i = i · step + start`, sets the last value to
    /// `stop` exactly, then floors to integers; this reproduces it in `Double`. `count == 1` gives `[0]`; fewer
    /// frames than `count` gives every frame.
    ///
    /// ```swift
    /// FrameSampler.linspaceIndices(frameCount: 50, count: 32)  // [0, 1, 3, 4, 6, 7, 9, 11, …, 47, 49]
    /// ```
    public static func linspaceIndices(frameCount: Int, count: Int) -> [Int] {
        precondition(count > 0, "count must be > 0")
        guard frameCount > 0 else { return [] }
        let stop = Double(frameCount - 1)
        guard count > 1 else { return [0] }
        let step = stop / Double(count - 1)
        var result: [Int] = []
        result.reserveCapacity(count)
        for i in 0..<count {
            let value = i == count - 1 ? stop : (step == 0 ? 0 : Double(i) * step)
            let index = Int(value.rounded(.down))
            if result.last != index { result.append(index) }
        }
        return result
    }
}

/// What ffmpeg is asked to do for one read, derived from a sampler and the probed video.
struct SamplingPlan {
    /// `select` expression on `n` (frames since the range start) and `t` (seconds since the range start); nil = all.
    var selectExpression: String?
    /// For `.uniform`/`.indices`: the frame numbers (since the range start) that will be delivered, ascending.
    var plannedIndices: [Int]?
    /// `-ss` input option (seconds), when the range has a start.
    var seek: Double?
    /// `-t` input option (seconds of input to read), when the range has an end.
    var readDuration: Double?
    /// The frame count the uniform plan was computed from, and where it came from.
    var frameCountBasis: (count: Int, source: String)?
    /// Set when the planned list is too long for one command-line argument: ffmpeg then pipes every frame between
    /// the first and the last planned one, and the reader drops the others by their frame number.
    var filterInReader = false

    /// Longest `select` expression passed on the command line (Linux caps one argument at 128 KiB).
    static let maxExpressionLength = 60_000

    /// Builds the plan. `frameCount` is the number of frames in the range for `.uniform`.
    init(sampler: FrameSampler, frameCount: (count: Int, source: String)?) {
        let start = sampler.start ?? 0
        seek = start > 0 ? start : nil
        readDuration = sampler.end.map { $0 - start }
        var condition: String?
        switch sampler.strategy {
        case .all:
            condition = nil
        case .uniform(let count):
            let indices = FrameSampler.linspaceIndices(frameCount: frameCount?.count ?? 0, count: count)
            plannedIndices = indices
            frameCountBasis = frameCount
            condition = anyOf(indices)
        case .indices(let list):
            let indices = Array(Set(list)).sorted()
            plannedIndices = indices
            condition = anyOf(indices)
        case .everyNth(let k):
            condition = k == 1 ? nil : "not(mod(n,\(k)))"
        case .fps(let f):
            // First frame of each 1/f interval; the epsilon keeps exact boundaries (t = i/f) in their own interval.
            let rate = Self.number(f)
            condition = "isnan(prev_selected_t)+gte(floor(t*\(rate)+1e-6),floor(prev_selected_t*\(rate)+1e-6)+1)"
        }
        if let duration = readDuration {
            // `-t` keeps a frame exactly at the end; the range is half-open.
            let endTest = "lt(t,\(Self.number(duration - 1e-6)))"
            condition = condition.map { "(\($0))*\(endTest)" } ?? endTest
        }
        selectExpression = condition
    }

    /// `eq(n,a)+between(n,b,c)+…` over the runs of consecutive numbers in a sorted list; `0` (nothing) when empty.
    /// A list too long for the command line becomes `between(n,first,last)`, filtered further by the reader.
    private mutating func anyOf(_ indices: [Int]) -> String {
        guard let first = indices.first, let last = indices.last else { return "0" }
        var terms: [String] = []
        var runStart = first, previous = first
        for index in indices.dropFirst() + [Int.max] {
            if index == previous + 1 { previous = index; continue }
            terms.append(runStart == previous ? "eq(n,\(runStart))" : "between(n,\(runStart),\(previous))")
            (runStart, previous) = (index, index)
        }
        let expression = Self.balancedSum(terms)
        guard expression.utf8.count > Self.maxExpressionLength else { return expression }
        filterInReader = true
        return "between(n,\(first),\(last))"
    }

    /// `a+b+…` nested in parenthesised groups of at most 16, so the expression's depth grows with the logarithm of
    /// the term count: ffmpeg's evaluator fails ("Cannot allocate memory") on a flat sum of about 105 or more terms.
    static func balancedSum(_ terms: [String]) -> String {
        guard terms.count > 16 else { return terms.joined(separator: "+") }
        let groups = stride(from: 0, to: terms.count, by: 16).map { "(" + terms[$0..<min($0 + 16, terms.count)].joined(separator: "+") + ")" }
        return balancedSum(groups)
    }

    /// A plain decimal (ffmpeg's expression parser also reads exponents, but plain is unambiguous).
    static func number(_ value: Double) -> String { String(format: "%.9f", value) }
}
