import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Helpers for ffmpeg/ffprobe's stderr text.
enum FFmpegLog {
    /// The last line of a tool's stderr that says something, without the `[demuxer @ 0x…]` context, the `[error]`
    /// level tag or a leading `"<path>: "` (the error already names the file). Nil when stderr is blank.
    static func lastMeaningfulLine(_ text: String, path: String) -> String? {
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).map(String.init)
        for line in lines.reversed() {
            let message = clean(line, path: path)
            if !message.isEmpty, !message.hasPrefix("Last message repeated") { return message }
        }
        return nil
    }

    /// `"[h264 @ 0x55…] [error] Invalid NAL unit size"` → `"h264: Invalid NAL unit size"`.
    static func clean(_ line: String, path: String) -> String {
        var rest = Substring(line).trimmingCharacters(in: .whitespaces)[...]
        var context: String?
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]"), rest[..<close].contains(" @ ") {
            let inside = rest[rest.index(after: rest.startIndex)..<close]
            context = inside.components(separatedBy: " @ ").first
            rest = rest[rest.index(after: close)...].drop { $0 == " " }
        }
        for level in ["[panic] ", "[fatal] ", "[error] ", "[warning] ", "[info] ", "[verbose] ", "[debug] "]
        where rest.hasPrefix(level) {
            rest = rest.dropFirst(level.count)
        }
        for name in [MediaTool.input(path), path] where !path.isEmpty && rest.hasPrefix(name + ": ") {
            rest = rest.dropFirst(name.count + 2)
        }
        let message = String(rest).trimmingCharacters(in: .whitespaces)
        if let context, !message.isEmpty, !context.hasPrefix("NULL") { return "\(context): \(message)" }
        return message
    }
}

/// Reads ffmpeg's stderr on its own thread while frames arrive on stdout.
///
/// ffmpeg runs with `-loglevel repeat+level+info` and two named `showinfo` filters: `showinfo@decoded` before the
/// `select` filter logs every decoded frame (`n:` = the decoder's frame number, `pts_time:`), `showinfo@selected`
/// after it logs each frame that will be written to the pipe. The filter graph handles one frame at a time, so a
/// `selected` line always belongs to the latest `decoded` line; each pairing becomes a ``Stamp`` queued for the
/// reader. showinfo logs before the frame reaches the pipe, so a frame read from stdout always has its stamp
/// already in (or on its way through) the stderr pipe. Memory stays constant: stamps are consumed as frames are.
final class FFmpegLogMonitor: @unchecked Sendable {
    /// Decoder frame number (counted from the first decoded frame), presentation time in seconds, and the exact
    /// timestamp in the filter's time base (the stream's, when ffmpeg runs with `-copyts`).
    struct Stamp: Equatable {
        let n: Int
        let time: Double?
        var pts: Int64? = nil
    }

    static let decodedFilter = "showinfo@decoded"
    static let selectedFilter = "showinfo@selected"
    private static let keptLines = 20

    private let condition = NSCondition()
    /// Stamps not yet taken, per filter chain (the scan has one chain; a seeking run one per input, whose first
    /// frames ffmpeg pushes through every chain before the graph starts, so their log lines interleave).
    private var stamps: [Int: [Stamp]] = [:]
    private var stampHeads: [Int: Int] = [:]
    private var lastDecoded: [Int: Stamp] = [:]
    private var firstDecodedByChain: [Int: Stamp] = [:]
    private var finished = false
    private var errors: [String] = []
    private var errorTotal = 0
    private var decodedTotal = 0
    private let path: String

    /// Starts draining `fileDescriptor` (ffmpeg's stderr) until end of file.
    init(fileDescriptor: Int32, path: String) {
        self.path = path
        Thread.detachNewThread { [self] in drain(fileDescriptor) }
    }

    /// The stamp of the next piped frame of filter chain `chain`; waits for it, at most `timeout` seconds. Nil when
    /// ffmpeg's stderr ended without one or the wait timed out (a log format this parser does not know must not
    /// stall the pipe forever).
    func nextStamp(chain: Int = 0, timeout: TimeInterval) -> Stamp? {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock(); defer { condition.unlock() }
        while stampHeads[chain, default: 0] == stamps[chain, default: []].count && !finished {
            if !condition.wait(until: deadline) { return nil }
        }
        var head = stampHeads[chain, default: 0]
        guard var queue = stamps[chain], head < queue.count else { return nil }
        let stamp = queue[head]
        head += 1
        if head > 64 { queue.removeFirst(head); head = 0 }
        (stamps[chain], stampHeads[chain]) = (queue, head)
        return stamp
    }

    /// Waits until stderr has been read to its end (ffmpeg exited and closed it).
    func waitUntilFinished() {
        condition.lock(); defer { condition.unlock() }
        while !finished { condition.wait() }
    }

    /// The last error/fatal lines (at most 20, cleaned) and how many there were in all.
    var errorLines: (last: [String], total: Int) {
        condition.lock(); defer { condition.unlock() }
        return (errors, errorTotal)
    }

    /// The first frame decoded into the filter chain `showinfo@decoded<chain>` (no number = chain 0), nil before
    /// any. A seeking run has one chain per input.
    func firstDecoded(chain: Int) -> Stamp? {
        condition.lock(); defer { condition.unlock() }
        return firstDecodedByChain[chain]
    }

    /// Number of frames the decoder produced so far (selected or not).
    var decodedFrames: Int {
        condition.lock(); defer { condition.unlock() }
        return decodedTotal
    }

    private func drain(_ fd: Int32) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            var start = 0
            for i in 0..<count where buffer[i] == 0x0A || buffer[i] == 0x0D {
                pending.append(contentsOf: buffer[start..<i])
                if !pending.isEmpty { handle(String(decoding: pending, as: UTF8.self)) }
                pending.removeAll(keepingCapacity: true)
                start = i + 1
            }
            pending.append(contentsOf: buffer[start..<count])
        }
        if !pending.isEmpty { handle(String(decoding: pending, as: UTF8.self)) }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    private func handle(_ line: String) {
        if line.contains(Self.decodedFilter) {
            guard let stamp = Self.parseShowinfo(line) else { return }
            let chain = Self.chainNumber(line, after: Self.decodedFilter)
            condition.lock()
            lastDecoded[chain] = stamp
            if firstDecodedByChain[chain] == nil { firstDecodedByChain[chain] = stamp }
            decodedTotal += 1
            condition.unlock()
        } else if line.contains(Self.selectedFilter) {
            guard Self.parseShowinfo(line) != nil else { return }  // config lines, side data
            let chain = Self.chainNumber(line, after: Self.selectedFilter)
            condition.lock()
            stamps[chain, default: []].append(lastDecoded[chain] ?? Stamp(n: -1, time: nil))
            condition.broadcast()
            condition.unlock()
        } else if line.contains("[error]") || line.contains("[fatal]") || line.contains("[panic]") {
            let message = FFmpegLog.clean(line, path: path)
            condition.lock()
            errorTotal += 1
            errors.append(message)
            if errors.count > Self.keptLines { errors.removeFirst() }
            condition.unlock()
        }
    }

    /// The number right after `name` in `line` (`showinfo@decoded3 @ 0x…` → 3); 0 when there is none.
    static func chainNumber(_ line: String, after name: String) -> Int {
        guard let range = line.range(of: name) else { return 0 }
        return Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
    }

    /// `n`, `pts` and `pts_time` of a showinfo frame line (`… n:  12 pts:  6144 pts_time:0.48 …`); nil for other
    /// lines.
    static func parseShowinfo(_ line: String) -> Stamp? {
        guard let nRange = line.range(of: " n:") else { return nil }
        let nText = line[nRange.upperBound...].drop { $0 == " " }.prefix { $0.isNumber }
        guard let n = Int(nText) else { return nil }
        var pts: Int64?
        if let ptsRange = line.range(of: " pts:", range: nRange.upperBound..<line.endIndex) {
            pts = Int64(line[ptsRange.upperBound...].drop { $0 == " " }.prefix { $0.isNumber || $0 == "-" })
        }
        var time: Double?
        if let timeRange = line.range(of: "pts_time:") {
            let token = line[timeRange.upperBound...].prefix { $0 != " " }
            time = Double(token).flatMap { $0.isFinite ? $0 : nil }
        }
        return Stamp(n: n, time: time, pts: pts)
    }
}
