/// A media file that could not be read or written: which file, what was being done, why, and what to do about it.
///
/// `description` is one line, suitable for a CLI error (`forensight: clip.mp4: not a video (no video stream)`).
public struct MediaError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What kind of failure, for programs that branch on it.
    public enum Kind: String, Sendable {
        case notFound, unreadable, empty, truncated, corrupt, unsupportedFormat, tooLarge, noVideoStream, toolMissing, writeFailed
    }

    public let kind: Kind
    public let path: String
    public let reason: String
    /// What the user can do, when there is something (e.g. how to install ffmpeg).
    public let hint: String?

    public init(_ kind: Kind, path: String, reason: String, hint: String? = nil) {
        (self.kind, self.path, self.reason, self.hint) = (kind, path, reason, hint)
    }

    public var description: String { "\(path): \(reason)" + (hint.map { " (\($0))" } ?? "") }
}
