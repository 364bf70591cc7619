import Foundation
import XCTest
import ForensightData

/// Scratch trees for the importer tests: each test builds the dataset layout it needs from empty placeholder files.
enum DataTestSupport {
    /// `../shared/datasets` from the repository root.
    static let sharedDatasets = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/datasets").standardizedFileURL.path

    /// A fresh, empty scratch folder for `test`, removed when the test ends.
    static func scratch(for test: XCTestCase) throws -> String {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("forensight-data-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    /// Creates empty files (and their folders) at `relativePaths` under `root`.
    static func touch(_ root: String, _ relativePaths: [String]) throws {
        for relative in relativePaths {
            let url = URL(fileURLWithPath: root + "/" + relative)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: url.path, contents: Data())
        }
    }

    /// Writes `text` to `root/relative`, creating folders.
    static func write(_ text: String, _ root: String, _ relative: String) throws {
        let url = URL(fileURLWithPath: root + "/" + relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    /// Writes a JSON value to `root/relative`.
    static func writeJSON(_ value: Any, _ root: String, _ relative: String) throws {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
        try write(String(decoding: data, as: UTF8.self), root, relative)
    }

    /// Runs `body`, expecting a `DatasetError` of `kind`; returns it for further checks.
    @discardableResult
    static func expectError(_ kind: DatasetError.Kind, file: StaticString = #filePath, line: UInt = #line,
                            _ body: () throws -> Any) -> DatasetError? {
        do {
            let value = try body()
            XCTFail("expected DatasetError.\(kind), got \(value)", file: file, line: line)
        } catch let error as DatasetError {
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            return error
        } catch {
            XCTFail("expected DatasetError.\(kind), got \(error)", file: file, line: line)
        }
        return nil
    }

    /// Counts of the `labels.csv` of a shared dataset: (real, fake, method → count).
    static func labelsCSVCounts(_ folder: String) throws -> (real: Int, fake: Int, methods: [String: Int]) {
        let text = try String(contentsOfFile: folder + "/labels.csv", encoding: .utf8)
        var real = 0, fake = 0, methods: [String: Int] = [:]
        for line in text.split(whereSeparator: \.isNewline).dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            if fields[1] == "real" { real += 1 } else { fake += 1 }
            methods[fields[2], default: 0] += 1
        }
        return (real, fake, methods)
    }
}
