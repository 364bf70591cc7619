import Foundation

/// A one-line progress bar on stderr, drawn only when stderr is a terminal (quiet in pipes and CI).
struct ProgressBar {
    let label: String
    let total: Int?
    private let enabled = isatty(2) != 0
    private var lastDraw = Date.distantPast
    private let start = Date()

    init(_ label: String, total: Int?) { (self.label, self.total) = (label, total) }

    /// Redraws at most ten times a second.
    mutating func update(_ done: Int, detail: String = "") {
        guard enabled, Date().timeIntervalSince(lastDraw) > 0.1 || done == total else { return }
        lastDraw = Date()
        var line = "\r\(label) "
        if let total, total > 0 {
            let width = 24, filled = width * min(done, total) / total
            let elapsed = Date().timeIntervalSince(start)
            let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
            line += "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] \(done)/\(total)"
            if done > 0 && done < total { line += String(format: " eta %.0fs", eta) }
        } else {
            line += "\(done)"
        }
        if !detail.isEmpty { line += " " + detail }
        FileHandle.standardError.write(Data((line.padding(toLength: max(line.count, 79), withPad: " ", startingAt: 0)).utf8))
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
