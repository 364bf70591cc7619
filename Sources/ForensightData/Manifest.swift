import Foundation

/// One media item or face-frame of a dataset (DESIGN §4): real = 0, fake = 1.
///
/// `videoID` is always explicit (set by the importer from the dataset's own naming), never guessed later.
///
/// Beyond the nine DESIGN §4 keys, two optional keys record what a face swap mixes, so that splits can keep every
/// person on one side: `source_identity` (the person whose face was pasted in, e.g. `097` in FF++ `033_097`) and
/// `original_video_id` (the real video a fake was made from, e.g. DFDC's `original`). They are written only when set.
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
    /// For a fake made by swapping in another person's face: that person. Nil for reals and reenactments' unknowns.
    public var sourceIdentity: String?
    /// For a fake: the `videoID` of the real video it was made from, when the dataset says so.
    public var originalVideoID: String?
    /// For a face crop: its five landmarks (eyes, nose, mouth corners) in crop pixels, as x0, y0, x1, y1, ….
    public var landmarks: [Float]?

    public init(id: String, path: String, label: Int, method: String? = nil, dataset: String, videoID: String? = nil,
                identity: String? = nil, split: String? = nil, frameIndex: Int? = nil, sourceIdentity: String? = nil,
                originalVideoID: String? = nil) {
        precondition(label == 0 || label == 1, "label must be 0 (real) or 1 (fake)")
        (self.id, self.path, self.label, self.method, self.dataset, self.videoID, self.identity, self.split, self.frameIndex) =
            (id, path, label, method, dataset, videoID, identity, split, frameIndex)
        (self.sourceIdentity, self.originalVideoID) = (sourceIdentity, originalVideoID)
    }

    /// True for label 1.
    public var isFake: Bool { label == 1 }

    enum CodingKeys: String, CodingKey {
        case id, path, label, method, dataset, videoID = "video_id", identity, split, frameIndex = "frame_index"
        case sourceIdentity = "source_identity", originalVideoID = "original_video_id", landmarks
    }

    /// Decodes one manifest line; a label other than 0 or 1 is a decoding error at the `label` key.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        path = try c.decode(String.self, forKey: .path)
        label = try c.decode(Int.self, forKey: .label)
        guard label == 0 || label == 1 else {
            throw DecodingError.dataCorruptedError(forKey: .label, in: c, debugDescription: "label must be 0 (real) or 1 (fake), found \(label)")
        }
        dataset = try c.decode(String.self, forKey: .dataset)
        method = try c.decodeIfPresent(String.self, forKey: .method)
        videoID = try c.decodeIfPresent(String.self, forKey: .videoID)
        identity = try c.decodeIfPresent(String.self, forKey: .identity)
        split = try c.decodeIfPresent(String.self, forKey: .split)
        frameIndex = try c.decodeIfPresent(Int.self, forKey: .frameIndex)
        sourceIdentity = try c.decodeIfPresent(String.self, forKey: .sourceIdentity)
        originalVideoID = try c.decodeIfPresent(String.self, forKey: .originalVideoID)
        landmarks = try c.decodeIfPresent([Float].self, forKey: .landmarks)
    }

    /// Writes the nine DESIGN §4 keys always (null when unset, so every line has the same columns), then the two
    /// optional keys only when set. Key order is the encoder's; `Manifest.jsonLines()` writes a fixed order.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(path, forKey: .path)
        try c.encode(label, forKey: .label)
        try c.encode(method, forKey: .method)
        try c.encode(dataset, forKey: .dataset)
        try c.encode(videoID, forKey: .videoID)
        try c.encode(identity, forKey: .identity)
        try c.encode(split, forKey: .split)
        try c.encode(frameIndex, forKey: .frameIndex)
        try c.encodeIfPresent(sourceIdentity, forKey: .sourceIdentity)
        try c.encodeIfPresent(originalVideoID, forKey: .originalVideoID)
        try c.encodeIfPresent(landmarks, forKey: .landmarks)
    }
}

/// An ordered list of samples: what importers produce, what training and benchmarks consume (DESIGN §4).
///
/// Order is meaningful (importers emit a deterministic order) and kept by every operation here.
/// JSON Lines I/O is in `ManifestIO.swift`, checks in `ManifestValidation.swift`, splits in `Splits.swift`.
public struct Manifest: Sendable, Equatable, RandomAccessCollection, ExpressibleByArrayLiteral {
    public var samples: [Sample]

    public init(_ samples: [Sample] = []) { self.samples = samples }
    public init(arrayLiteral elements: Sample...) { samples = elements }

    public var startIndex: Int { samples.startIndex }
    public var endIndex: Int { samples.endIndex }
    public subscript(position: Int) -> Sample { samples[position] }

    /// Appends `other`'s samples. With `skippingDuplicateIDs`, a sample whose id is already present is dropped
    /// (e.g. the shared FF-real group when several DeepfakeBench per-method files are merged).
    public mutating func append(contentsOf other: Manifest, skippingDuplicateIDs: Bool = false) {
        guard skippingDuplicateIDs else { samples += other.samples; return }
        var seen = Set(samples.map(\.id))
        for sample in other.samples where seen.insert(sample.id).inserted { samples.append(sample) }
    }

    /// The samples for which `isIncluded` holds, in order.
    public func filter(_ isIncluded: (Sample) throws -> Bool) rethrows -> Manifest {
        Manifest(try samples.filter(isIncluded))
    }

    /// The samples matching every given criterion (a nil criterion matches everything).
    /// `method`/`split` match the sample's value exactly; use `filter(_:)` to select unset values.
    public func filter(dataset: String? = nil, method: String? = nil, label: Int? = nil, split: String? = nil) -> Manifest {
        filter { s in
            (dataset == nil || s.dataset == dataset) && (method == nil || s.method == method)
                && (label == nil || s.label == label) && (split == nil || s.split == split)
        }
    }

    /// Every sample with `transform` applied (e.g. to rewrite paths or set splits).
    public func map(_ transform: (Sample) throws -> Sample) rethrows -> Manifest { Manifest(try samples.map(transform)) }

    /// Counts per dataset, method, label and split.
    public var summary: ManifestSummary { ManifestSummary(self) }
}

/// Sample counts of a manifest. Unset methods and splits are counted under `ManifestSummary.unset`.
public struct ManifestSummary: Sendable, Equatable, CustomStringConvertible {
    /// The key under which unset methods and splits are counted.
    public static let unset = "(none)"

    public var total = 0, real = 0, fake = 0
    public var byDataset: [String: Int] = [:]
    public var byMethod: [String: Int] = [:]
    public var bySplit: [String: Int] = [:]
    /// Keyed by split, then by label (0/1).
    public var bySplitAndLabel: [String: [Int: Int]] = [:]
    /// Distinct videos (dataset + videoID) and identities (dataset + identity) among the samples that set them.
    public var videos = 0, identities = 0

    public init(_ manifest: Manifest) {
        var videoKeys = Set<String>(), identityKeys = Set<String>()
        for s in manifest {
            total += 1
            if s.label == 1 { fake += 1 } else { real += 1 }
            byDataset[s.dataset, default: 0] += 1
            byMethod[s.method ?? Self.unset, default: 0] += 1
            let split = s.split ?? Self.unset
            bySplit[split, default: 0] += 1
            bySplitAndLabel[split, default: [:]][s.label, default: 0] += 1
            if let v = s.videoID { videoKeys.insert(s.dataset + "\u{1}" + v) }
            if let i = s.identity { identityKeys.insert(s.dataset + "\u{1}" + i) }
        }
        (videos, identities) = (videoKeys.count, identityKeys.count)
    }

    /// Counts per label (0 real, 1 fake).
    public var byLabel: [Int: Int] { [0: real, 1: fake] }

    /// A small plain-text table, e.g. for `forensight data summary`.
    public var description: String {
        func block(_ title: String, _ counts: [String: Int]) -> String {
            counts.sorted { $0.key < $1.key }.map { "  \(title) \($0.key): \($0.value)" }.joined(separator: "\n")
        }
        var lines = ["samples: \(total) (real \(real), fake \(fake)); videos: \(videos); identities: \(identities)"]
        lines.append(block("dataset", byDataset))
        lines.append(block("method", byMethod))
        lines.append(bySplitAndLabel.sorted { $0.key < $1.key }
            .map { "  split \($0.key): \(($0.value[0] ?? 0) + ($0.value[1] ?? 0)) (real \($0.value[0] ?? 0), fake \($0.value[1] ?? 0))" }
            .joined(separator: "\n"))
        return lines.filter { !$0.isEmpty }.joined(separator: "\n")
    }
}
