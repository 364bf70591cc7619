import Foundation

/// The Deepfake Detection Challenge (DFDC) training set as shipped on Kaggle: one folder per part, each with its
/// videos and a `metadata.json`:
/// ```
/// root/dfdc_train_part_0/metadata.json   {"aaqaifqrwn.mp4": {"label": "FAKE", "split": "train", "original": "vpmyeepbep.mp4"},
///                                         "vpmyeepbep.mp4": {"label": "REAL", "split": "train", "original": null}, …}
/// root/dfdc_train_part_0/aaqaifqrwn.mp4
/// ```
/// `root` may be one part folder (holding `metadata.json`) or a folder of parts. `label` is `REAL` (0) or `FAKE` (1);
/// `split` is copied; `original` (the real video a fake was made from) becomes `originalVideoID`, so splitting by
/// video keeps a fake with its original. DFDC does not publish actor identities: `identity` stays unset.
/// Videos listed but absent are a `missingMedia` error; videos present but unlisted are not imported (no label).
public struct DFDCImporter: DatasetImporter {
    public static let metadataName = "metadata.json"

    public var root: String
    public var datasetName: String

    public init(root: String, datasetName: String = "DFDC") { (self.root, self.datasetName) = (root, datasetName) }

    /// The part folders of `root` (relative; "" for `root` itself), sorted.
    public static func parts(of root: String) -> [String] {
        if DatasetFiles.isFile(root + "/" + metadataName) { return [""] }
        return DatasetFiles.subfolders(of: root).filter { DatasetFiles.isFile("\(root)/\($0)/\(metadataName)") }
    }

    public func load() throws -> Manifest {
        let root = DatasetFiles.absolute(self.root)
        guard DatasetFiles.isDirectory(root) else { throw DatasetError(.missingFolder, path: root, reason: "dataset folder is absent") }
        let parts = Self.parts(of: root)
        guard !parts.isEmpty else {
            throw DatasetError(.missingFile, path: root, reason: "no \(Self.metadataName) in this folder or its part folders (DFDC layout)")
        }
        var samples: [Sample] = [], missing: [String] = [], firstMissingFile = ""
        for part in parts {
            let folder = part.isEmpty ? root : root + "/" + part
            let file = folder + "/" + Self.metadataName
            let entries = try Self.readMetadata(file)
            if entries.isEmpty { throw DatasetError(.empty, path: file, reason: "metadata lists no videos") }
            for entry in entries {
                let relative = part.isEmpty ? entry.name : part + "/" + entry.name
                guard DatasetFiles.isFile(folder + "/" + entry.name) else {
                    if missing.isEmpty { firstMissingFile = file }
                    missing.append(relative)
                    continue
                }
                samples.append(Sample(id: datasetName + ":" + relative, path: folder + "/" + entry.name, label: entry.label,
                                      dataset: datasetName, videoID: DatasetFiles.stem(entry.name), split: entry.split,
                                      originalVideoID: entry.original.map(DatasetFiles.stem)))
            }
        }
        if !missing.isEmpty {
            let listFile = parts.count == 1 ? firstMissingFile : root + "/*/" + Self.metadataName
            throw DatasetError.missingMedia(listedIn: listFile, missing: missing, what: "videos")
        }
        return Manifest(samples)
    }

    struct Entry { var name: String; var label: Int; var split: String?; var original: String? }

    /// Parses one `metadata.json`, entries sorted by file name. Shape errors name the key path.
    static func readMetadata(_ file: String) throws -> [Entry] {
        guard let object = try DatasetFiles.readJSON(file, what: metadataName) as? [String: Any] else {
            throw DatasetError(.malformedJSON, path: file, reason: "(top level): expected an object {\"<video>.mp4\": {…}}")
        }
        return try object.keys.sorted().map { name in
            let at = "[\"\(name)\"]"
            guard let fields = object[name] as? [String: Any] else {
                throw DatasetError(.malformedJSON, path: file, reason: "\(at): expected an object with \"label\"")
            }
            guard let labelText = fields["label"] as? String else {
                throw DatasetError(.malformedJSON, path: file, reason: "\(at).label: missing or not a string")
            }
            let label: Int
            switch labelText.uppercased() {
            case "REAL": label = 0
            case "FAKE": label = 1
            default: throw DatasetError(.malformedJSON, path: file, reason: "\(at).label: expected \"REAL\" or \"FAKE\", found \"\(labelText)\"")
            }
            func optionalString(_ key: String) throws -> String? {
                switch fields[key] {
                case nil, is NSNull: return nil
                case let s as String: return s
                default: throw DatasetError(.malformedJSON, path: file, reason: "\(at).\(key): expected a string or null")
                }
            }
            return Entry(name: name, label: label, split: try optionalString("split"), original: try optionalString("original"))
        }
    }
}
