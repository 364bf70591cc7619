/// The id of an analysis: 32 lower-case hex digits (128 random bits). Ids arrive in URLs, so every route checks
/// them with `isValid` before they reach the database or a file name: nothing else (no `..`, no `/`) gets through.
public enum AnalysisID {
    /// A new random id.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let words = [generator.next() as UInt64, generator.next() as UInt64]
        return words.map { word in
            let hex = String(word, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// Whether `text` has the form of an id.
    public static func isValid(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// Whether `text` has the form of a lower-case hex SHA-256 (the media store's file names).
    public static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
