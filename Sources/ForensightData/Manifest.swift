import Foundation

/// One media item or face-frame of a dataset (DESIGN §4): real = 0, fake = 1.
///
/// `videoID` is always explicit (set by the importer from the dataset's own naming), never guessed later.
public struct Sample: Codable, Sendable, Equatable, Hashable {
    public var id: String
    public var path: String
    public var label: Int
    public var method: String?
    public var dataset: String
    public var videoID: String?
    public var identity: String?
    public var split: String?
    public var frameIndex: Int?

    public init(id: String, path: String, label: Int, method: String? = nil, dataset: String, videoID: String? = nil,
                identity: String? = nil, split: String? = nil, frameIndex: Int? = nil) {
        precondition(label == 0 || label == 1, "label must be 0 (real) or 1 (fake)")
        (self.id, self.path, self.label, self.method, self.dataset, self.videoID, self.identity, self.split, self.frameIndex) =
            (id, path, label, method, dataset, videoID, identity, split, frameIndex)
    }

    enum CodingKeys: String, CodingKey {
        case id, path, label, method, dataset, videoID = "video_id", identity, split, frameIndex = "frame_index"
    }
}
