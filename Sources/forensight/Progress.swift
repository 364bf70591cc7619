import Foundation

/// A one-line progress bar on stderr, redrawn in place when stderr is a terminal. In a pipe or a log file, work that
/// runs longer than a minute gets one plain status line a minute (a short run stays quiet).
struct ProgressBar {
    let label: String
    let total: Int?
    private let enabled = isatty(2) != 0
    private var lastDraw = Date.distantPast
    private let start = Date()
    /// Seconds between status lines when stderr is not a terminal.
    static let logInterval: TimeInterval = 60

    init(_ label: String, total: Int?) { (self.label, self.total) = (label, total) }

    /// Redraws at most ten times a second (a terminal), or writes a status line at most once a minute (otherwise).
    mutating func update(_ done: Int, detail: String = "") {
        guard enabled else { logLine(done, detail: detail); return }
        guard Date().timeIntervalSince(lastDraw) > 0.1 || done == total else { return }
        lastDraw = Date()
        var line = "\r\(label) "
        if let total, total > 0 {
            let width = 24, filled = width * min(done, total) / total
            line += "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] \(done)/\(total)"
            if let eta = secondsLeft(done, of: total) { line += String(format: " eta %.0fs", eta) }
        } else {
            line += "\(done)"
        }
        if !detail.isEmpty { line += " " + detail }
        FileHandle.standardError.write(Data((line.padding(toLength: max(line.count, 79), withPad: " ", startingAt: 0)).utf8))
    }

    /// The non-terminal form: "label 230/690 (33 %, eta 412 s) detail", once a minute after the first minute.
    private mutating func logLine(_ done: Int, detail: String) {
        let now = Date()
        guard now.timeIntervalSince(start) >= Self.logInterval, now.timeIntervalSince(lastDraw) >= Self.logInterval else { return }
        lastDraw = now
        var line = "\(label) \(done)"
        if let total, total > 0 {
            line += "/\(total) (\(100 * done / total) %"
            if let eta = secondsLeft(done, of: total) { line += String(format: ", eta %.0f s", eta) }
            line += ")"
        }
        if !detail.isEmpty { line += " " + detail }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Seconds left at the rate so far, while the work is under way.
    private func secondsLeft(_ done: Int, of total: Int) -> TimeInterval? {
        guard done > 0 && done < total else { return nil }
        return Date().timeIntervalSince(start) / Double(done) * Double(total - done)
    }

    /// Clears the bar's line.
    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: 79) + "\r").utf8))
    }
}

/// Writes one line to stderr.
func note(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
