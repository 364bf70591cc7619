/// A dataset or manifest that cannot be used as it is: which file or folder, and what exactly is wrong.
///
/// `description` is one line, suitable for a CLI error, e.g.
/// `/data/ffpp: expected folder original_sequences/youtube/c23/videos is absent (found compressions: c40)`.
public struct DatasetError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What kind of failure, for programs (and tests) that branch on it.
    public enum Kind: String, Sendable {
        /// An expected folder of the layout is absent.
        case missingFolder
        /// An expected file (list, metadata, split file) is absent.
        case missingFile
        /// A label/list/metadata file names media files that are absent.
        case missingMedia
        /// A folder (or list) that must hold media holds none.
        case empty
        /// A JSON file is not valid JSON or does not have the expected shape; the reason names the key path.
        case malformedJSON
        /// A text list or CSV line is malformed; the reason names the line.
        case malformedList
        /// Two sources of a label disagree (e.g. a Celeb-DF test-list flag against its folder).
        case labelConflict
        /// A manifest fails validation (duplicate ids, bad labels, missing files, leakage).
        case invalidManifest
        /// No supported layout was recognised.
        case unrecognizedLayout
        /// A file could not be read or written.
        case io
    }

    public let kind: Kind
    /// The dataset root, file or folder concerned.
    public let path: String
    public let reason: String

    public init(_ kind: Kind, path: String, reason: String) {
        (self.kind, self.path, self.reason) = (kind, path, reason)
    }

    public var description: String { "\(path): \(reason)" }

    /// How many missing names a `missingMedia` reason lists before "…".
    public static let listedExamples = 5

    /// `file` names media that are not on disk: the reason gives the count and the first few names.
    static func missingMedia(listedIn file: String, missing: [String], what: String = "files") -> DatasetError {
        let shown = missing.prefix(listedExamples).joined(separator: ", ")
        let more = missing.count > listedExamples ? ", …" : ""
        return DatasetError(.missingMedia, path: file,
                            reason: "names \(missing.count) \(what) that are absent: \(shown)\(more)")
    }

    /// `folder` (relative to `root`) is required by `layout` but absent.
    static func missingFolder(_ folder: String, root: String, layout: String, note: String? = nil) -> DatasetError {
        DatasetError(.missingFolder, path: root,
                     reason: "expected folder \(folder) is absent (\(layout) layout)" + (note.map { "; \($0)" } ?? ""))
    }
}
