import Foundation

/// What the first bytes of a file say it is: a still image (`ImageFormat`) or a video container, never the name's
/// extension. Used where files arrive from others (the web app's uploads) to refuse what cannot be media before any
/// decoder runs.
public struct SniffedMedia: Sendable, Equatable {
    /// Images and videos, as `MediaFaces.Kind` names them.
    public enum Kind: String, Sendable { case image, video }

    public var kind: Kind
    /// `jpeg`, `png`, … for images; `mp4` (ISO media: MP4, MOV, 3GP), `matroska` (MKV, WebM), `avi`, `mpeg-ts`,
    /// `mpeg-ps`, `flv`, `ogg` for videos.
    public var format: String

    /// How many leading bytes `sniff` looks at.
    public static let headLength = 400

    /// The media in `head` (a file's first bytes, `headLength` is enough), or nil when no known signature matches.
    public static func sniff(_ head: [UInt8]) -> SniffedMedia? {
        if let image = ImageFormat.sniff(head) { return SniffedMedia(kind: .image, format: image.rawValue) }
        guard let container = ContainerSniffer.sniff(head) else { return nil }
        let name: String
        switch container {
        case .isoMedia: name = "mp4"
        case .matroska: name = "matroska"
        case .riff: name = "avi"
        case .mpegTS: name = "mpeg-ts"
        case .mpegPS: name = "mpeg-ps"
        case .flv: name = "flv"
        case .ogg: name = "ogg"
        }
        return SniffedMedia(kind: .video, format: name)
    }
}
