import Foundation

/// Who is in a video, read from the official file naming of the datasets that encode it.
///
/// - FaceForensics++ YouTube: `033` (an original; person 033), `033_097` (target 033's video with source 097's face
///   or expressions; made from original `033`).
/// - FaceForensics++ DeepFakeDetection (Google DFD): `01__exit_phone_room` (actor 01), and
///   `01_02__exit_phone_room__YVGY8LOK` (target actor 01, source actor 02; made from `01__exit_phone_room`).
/// - Celeb-DF: `id0_0003` (celebrity id0), `id0_id1_0003` (target id0's video 0003 with id1's face; made from
///   `id0_0003`). YouTube-real names (`00170`) carry no identity.
public struct VideoNaming: Sendable, Equatable {
    /// The person whose video it is (the target of a manipulation).
    public var identity: String
    /// The person whose face or expressions were transferred, for fakes.
    public var sourceIdentity: String?
    /// The real video the fake was made from, for fakes.
    public var originalVideoID: String?

    public init(identity: String, sourceIdentity: String? = nil, originalVideoID: String? = nil) {
        (self.identity, self.sourceIdentity, self.originalVideoID) = (identity, sourceIdentity, originalVideoID)
    }

    /// FF++ YouTube names: `NNN` or `TTT_SSS` (three digits each).
    public static func faceForensics(_ videoID: String) -> VideoNaming? {
        let parts = videoID.split(separator: "_", omittingEmptySubsequences: false).map(String.init)
        guard parts.allSatisfy(isThreeDigits) else { return nil }
        switch parts.count {
        case 1: return VideoNaming(identity: parts[0])
        case 2: return VideoNaming(identity: parts[0], sourceIdentity: parts[1], originalVideoID: parts[0])
        default: return nil
        }
    }

    /// DFD names: `AA__scene` (original) or `AA_BB__scene__CODE` (fake), actors as digits.
    public static func deepFakeDetection(_ videoID: String) -> VideoNaming? {
        let parts = videoID.components(separatedBy: "__")
        guard parts.count >= 2, !parts[1].isEmpty else { return nil }
        let actors = parts[0].split(separator: "_", omittingEmptySubsequences: false).map(String.init)
        guard actors.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }) else { return nil }
        switch (actors.count, parts.count) {
        case (1, 2): return VideoNaming(identity: actors[0])
        case (2, 3): return VideoNaming(identity: actors[0], sourceIdentity: actors[1], originalVideoID: actors[0] + "__" + parts[1])
        default: return nil
        }
    }

    /// Celeb-DF names: `idX_NNNN` (real) or `idX_idY_NNNN` (synthesis).
    public static func celebDF(_ videoID: String) -> VideoNaming? {
        let parts = videoID.split(separator: "_", omittingEmptySubsequences: false).map(String.init)
        guard let number = parts.last, !number.isEmpty, number.allSatisfy(\.isASCIIDigit) else { return nil }
        let ids = parts.dropLast()
        guard ids.allSatisfy(isCelebID) else { return nil }
        switch ids.count {
        case 1: return VideoNaming(identity: parts[0])
        case 2: return VideoNaming(identity: parts[0], sourceIdentity: parts[1], originalVideoID: parts[0] + "_" + number)
        default: return nil
        }
    }

    /// The first of the FF++, DFD and Celeb-DF rules that matches, for datasets of unknown origin (CSV, lists,
    /// folders, DeepfakeBench JSON). Nil when no rule matches (identity unknown).
    public static func recognize(_ videoID: String) -> VideoNaming? {
        faceForensics(videoID) ?? deepFakeDetection(videoID) ?? celebDF(videoID)
    }

    private static func isThreeDigits(_ s: String) -> Bool { s.count == 3 && s.allSatisfy(\.isASCIIDigit) }

    private static func isCelebID(_ s: String) -> Bool {
        s.count > 2 && s.hasPrefix("id") && s.dropFirst(2).allSatisfy(\.isASCIIDigit)
    }

    /// The video a media file belongs to and its naming: a frame inside a folder named like a video (FF++/DFD/
    /// Celeb-DF) belongs to that folder's video; otherwise the file is its own video (its stem).
    static func describe(relativePath: String) -> (videoID: String, naming: VideoNaming?) {
        let components = relativePath.split(separator: "/").map(String.init)
        let stem = DatasetFiles.stem(relativePath)
        let isImage = DatasetFiles.imageExtensions.contains((relativePath as NSString).pathExtension.lowercased())
        if isImage, components.count >= 2, let naming = recognize(components[components.count - 2]) {
            return (components[components.count - 2], naming)
        }
        return (stem, recognize(stem))
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
