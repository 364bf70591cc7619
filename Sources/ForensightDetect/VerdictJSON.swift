import Foundation

extension Verdict {
    /// The record as `detect --json` prints it: one line of JSON, keys sorted, slashes unescaped. The web app serves
    /// the same bytes, so a record reads the same from the command line and from the API.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}
