import Foundation
import ForensightEvaluation

/// The items `evaluate` has scored so far, one JSON line each in `OUT.partial.jsonl`, appended as they come, so an
/// interrupted run loses at most the item in progress and `--resume` scores only the rest. Removed once the results
/// file is written.
struct EvaluationJournal {
    let path: String

    /// The key of one scored item: model name, run, condition, sample id.
    static func key(model: String, run: Int, condition: String, id: String) -> String {
        [model, String(run), condition, id].joined(separator: "\u{1F}")
    }

    static func key(_ item: EvaluationResults.Item) -> String { key(model: item.model, run: item.run, condition: item.condition, id: item.id) }

    /// Every complete line that decodes; a line cut short by the interruption is ignored.
    func read() -> [EvaluationResults.Item] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(EvaluationResults.Item.self, from: Data($0.utf8)) }
    }

    /// Appends one item as a line (the file is created when absent).
    func append(_ item: EvaluationResults.Item) {
        guard var line = try? JSONEncoder().encode(item) else { return }
        line.append(0x0A)
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: line)
    }

    /// Starts an empty journal.
    func reset() { try? FileManager.default.removeItem(atPath: path) }

    /// Removes the journal (the results file now holds everything).
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
