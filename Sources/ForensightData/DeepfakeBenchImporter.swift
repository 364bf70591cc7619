import Foundation

/// A dataset JSON written by DeepfakeBench's `preprocessing/rearrange.py` (github.com/SCLBD/DeepfakeBench; format as of
/// commit cf3bc120, the version whose `generate_dataset_file` is followed here):
/// ```
/// { "<dataset>": {                                   e.g. "FaceForensics++", "FF-DF", "Celeb-DF-v2", "DFDC"
///     "<label group>": {                             e.g. "FF-real", "FF-DF", "CelebDFv2_real", "DFDC_Fake"
///       "train" | "val" | "test": {
///         ["c23" | "c40" | "raw":]                   compression level, FaceForensics++ family only
///           "<video>": { "label": "<label group>", "frames": ["…/frames/<video>/000.png", …], "masks": [...] } } } } }
/// ```
/// Labels are DeepfakeBench's group names: a name containing "real" is 0; one containing "fake", or an `FF-` code
/// other than `FF-real`, is 1; anything else must be given in `labelMap`. FF++ codes become FF++ method names
/// (`FF-DF` → `Deepfakes`, `FF-real` → `original_youtube`, …); other groups keep their name as method.
///
/// DeepfakeBench lists some videos under several splits (Celeb-DF test videos under `train`, `val` and `test`; DFD and
/// UADFV under all three). Each video is imported once, under the most held-out split it is listed in
/// (test, then val, then train), so a manifest never holds one video twice. Videos with no frames are skipped, and
/// a split that is itself a bare video entry (the DFDC `val` quirk of that script) is ignored.
public struct DeepfakeBenchImporter: DatasetImporter {
    public enum Granularity: String, Sendable {
        /// One sample per listed frame, with `frameIndex` (the number in the frame's file name, else its position).
        case frames
        /// One sample per video; its path is the folder holding the video's frames.
        case videos
    }

    public var jsonPath: String
    public var granularity: Granularity
    /// Splits to import; nil imports every split.
    public var splits: Set<String>?
    /// Compression level to import from FF++-family files (`c0` and `raw` are aliases); nil imports every level.
    public var compression: String?
    /// Folder that relative frame paths are resolved against (DeepfakeBench's `rgb_dir`); nil uses the JSON's folder.
    public var frameRoot: String?
    /// Extra or overriding label-group → label (0/1) entries.
    public var labelMap: [String: Int]
    /// Whether absent frame files are an error.
    public var checkFiles: Bool
    /// The dataset name; nil takes it from the JSON (FF++ per-method keys such as `FF-DF` become `FaceForensics++`).
    public var datasetNameOverride: String?

    public init(jsonPath: String, granularity: Granularity = .frames, splits: Set<String>? = nil, compression: String? = "c23",
                frameRoot: String? = nil, labelMap: [String: Int] = [:], checkFiles: Bool = true, datasetName: String? = nil) {
        (self.jsonPath, self.granularity, self.splits, self.compression, self.frameRoot, self.labelMap, self.checkFiles) =
            (jsonPath, granularity, splits, compression, frameRoot, labelMap, checkFiles)
        datasetNameOverride = datasetName
    }

    public var datasetName: String { datasetNameOverride ?? "DeepfakeBench" }

    static let ffppMethods = ["FF-DF": "Deepfakes", "FF-F2F": "Face2Face", "FF-FS": "FaceSwap", "FF-NT": "NeuralTextures",
                              "FF-FH": "FaceShifter", "DFD_fake": "DeepFakeDetection", "FF-real": "original_youtube",
                              "DFD_real": "original_actors"]
    static let splitPriority = ["test": 0, "val": 1, "train": 2]

    /// 0 or 1 for a DeepfakeBench label group name, nil when it cannot be told.
    public static func label(ofGroup name: String, labelMap: [String: Int] = [:]) -> Int? {
        if let v = labelMap[name] { return v }
        let lower = name.lowercased()
        if lower.contains("real") { return 0 }
        if lower.contains("fake") || name.hasPrefix("FF-") { return 1 }
        return nil
    }

    public func load() throws -> Manifest {
        let file = DatasetFiles.absolute(jsonPath)
        let json = try DatasetFiles.readJSON(file, what: "the DeepfakeBench dataset JSON")
        guard let top = json as? [String: Any], !top.isEmpty else {
            throw DatasetError(.malformedJSON, path: file, reason: "(top level): expected {\"<dataset>\": {\"<label group>\": {…}}}")
        }
        let base = frameRoot.map(DatasetFiles.absolute) ?? (file as NSString).deletingLastPathComponent
        var chosen: [String: Listing] = [:]      // key: dataset/group/compression/video
        var levelsSeen = Set<String>()
        let wanted = compression.map { c in ["c0", "raw"].contains(c.lowercased()) ? Set(["c0", "raw"]) : [c] }
        for key in top.keys.sorted() {
            let dataset = datasetNameOverride ?? (key.hasPrefix("FF-") ? "FaceForensics++" : key)
            let groups = try object(top[key], at: key, file)
            for group in groups.keys.sorted() {
                guard let groupLabel = Self.label(ofGroup: group, labelMap: labelMap) else {
                    throw DatasetError(.malformedJSON, path: file, reason: "\(key).\(group): cannot tell whether label group \"\(group)\" is real or fake; pass it in labelMap")
                }
                let splitsObject = try object(groups[group], at: "\(key).\(group)", file)
                for split in splitsObject.keys.sorted() where splits?.contains(split) ?? true {
                    let at = "\(key).\(group).\(split)"
                    let content = try object(splitsObject[split], at: at, file)
                    if content["frames"] is [Any] { continue }  // DeepfakeBench's DFDC `val` quirk: a bare entry
                    let isVideoLevel = content.values.allSatisfy { ($0 as? [String: Any])?["frames"] != nil }
                    let levels: [(String?, [String: Any])] = try isVideoLevel ? [(nil, content)]
                        : content.keys.sorted().map { ($0, try object(content[$0], at: "\(at).\($0)", file)) }
                    for (level, videos) in levels {
                        if let level { levelsSeen.insert(level); if let wanted, !wanted.contains(level) { continue } }
                        for video in videos.keys.sorted() {
                            let vat = "\(at)\(level.map { ".\($0)" } ?? "")[\"\(video)\"]"
                            let listing = try entry(videos[video], at: vat, file, groupLabel: groupLabel, base: base,
                                                    dataset: dataset, group: group, level: level, video: video, split: split)
                            let k = [dataset, group, level ?? "", video].joined(separator: "/")
                            if let old = chosen[k], Self.priority(old.split) <= Self.priority(split) { continue }
                            chosen[k] = listing
                        }
                    }
                }
            }
        }
        if let compression, let wanted, !levelsSeen.isEmpty, levelsSeen.isDisjoint(with: wanted) {
            throw DatasetError(.malformedJSON, path: file,
                               reason: "compression \(compression) is not in this file (found \(levelsSeen.sorted().joined(separator: ", ")))")
        }
        let listings = chosen.keys.sorted().compactMap { chosen[$0] }.filter { !$0.frames.isEmpty }
        if checkFiles {
            let missing = DatasetFiles.absent(listings.flatMap { granularity == .frames ? $0.frames.map(\.path) : [$0.folder] })
            if !missing.isEmpty { throw DatasetError.missingMedia(listedIn: file, missing: missing, what: granularity == .frames ? "frames" : "frame folders") }
        }
        if listings.isEmpty { throw DatasetError(.empty, path: file, reason: "no video with frames in the selected splits") }
        return Manifest(listings.flatMap(samples))
    }

    static func priority(_ split: String) -> Int { splitPriority[split] ?? 3 }

    /// One video of the JSON with its resolved frames.
    struct Listing {
        var dataset: String, group: String, level: String?, video: String, split: String, label: Int
        var frames: [(path: String, index: Int)]
        var folder: String { ((frames.first?.path ?? "") as NSString).deletingLastPathComponent }
    }

    private func samples(_ l: Listing) -> [Sample] {
        let naming = VideoNaming.recognize(l.video)
        let method = Self.ffppMethods[l.group] ?? l.group
        let stem = "\(l.dataset):\(l.group)/\(l.level.map { $0 + "/" } ?? "")\(l.video)"
        func sample(id: String, path: String, frame: Int?) -> Sample {
            Sample(id: id, path: path, label: l.label, method: method, dataset: l.dataset, videoID: l.video,
                   identity: naming?.identity, split: l.split, frameIndex: frame, sourceIdentity: naming?.sourceIdentity,
                   originalVideoID: naming?.originalVideoID)
        }
        switch granularity {
        case .videos: return [sample(id: stem, path: l.folder, frame: nil)]
        case .frames:
            return l.frames.map { sample(id: stem + "/" + ($0.path as NSString).lastPathComponent, path: $0.path, frame: $0.index) }
        }
    }

    private func object(_ value: Any?, at path: String, _ file: String) throws -> [String: Any] {
        guard let object = value as? [String: Any] else { throw DatasetError(.malformedJSON, path: file, reason: "\(path): expected an object") }
        return object
    }

    private func entry(_ value: Any?, at path: String, _ file: String, groupLabel: Int, base: String, dataset: String,
                       group: String, level: String?, video: String, split: String) throws -> Listing {
        let fields = try object(value, at: path, file)
        var label = groupLabel
        switch fields["label"] {
        case nil: break
        case let name as String:
            guard let l = Self.label(ofGroup: name, labelMap: labelMap) else {
                throw DatasetError(.malformedJSON, path: file, reason: "\(path).label: cannot tell whether \"\(name)\" is real or fake; pass it in labelMap")
            }
            label = l
        case let n as Int where n == 0 || n == 1: label = n
        default: throw DatasetError(.malformedJSON, path: file, reason: "\(path).label: expected a label group name or 0/1")
        }
        guard let list = fields["frames"] as? [Any] else {
            throw DatasetError(.malformedJSON, path: file, reason: "\(path).frames: missing or not a list")
        }
        var frames: [(path: String, index: Int)] = []
        for (i, item) in list.enumerated() {
            guard let p = item as? String, !p.isEmpty else {
                throw DatasetError(.malformedJSON, path: file, reason: "\(path).frames[\(i)]: expected a frame path string")
            }
            let resolved = DatasetFiles.resolve(p, against: base)
            frames.append((resolved, Self.frameNumber(resolved) ?? i))
        }
        frames.sort { ($0.index, $0.path) < ($1.index, $1.path) }
        return Listing(dataset: dataset, group: group, level: level, video: video, split: split, label: label, frames: frames)
    }

    /// The last run of digits in a file's stem (`frame_0012.png` → 12), or nil.
    static func frameNumber(_ path: String) -> Int? {
        let stem = DatasetFiles.stem(path)
        guard let end = stem.lastIndex(where: \.isASCIIDigit) else { return nil }
        var start = end
        while start > stem.startIndex, stem[stem.index(before: start)].isASCIIDigit { start = stem.index(before: start) }
        return Int(stem[start...end].prefix(18))
    }
}
