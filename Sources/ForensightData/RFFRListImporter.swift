import Foundation

/// A label list in the format of RFFR (Real Face Foundation Representation Learning, Shi et al., Pattern Recognition
/// 2024) and the code built on it: a JSON array of `{"path": "<image or video>", "label": 0 | 1}` (0 real, 1 fake),
/// usually one file per type and split, named `<type>_<split>_label.json`:
/// ```
/// data_label/ff_270/train/real_train_label.json
/// data_label/Faceforensics/excludes_hq/df_test_label.json     [{"path": "/…/images/033_097/0003.png", "label": 1}, …]
/// ```
/// `split` and `method` default to what the file name says (`_train_`/`_val_`/`_test_`; type `df` → `Deepfakes`,
/// `f2f` → `Face2Face`, `fsw` → `FaceSwap`, `nt` → `NeuralTextures`, `fs` → `FaceShifter`, `real` → none).
/// Relative paths are resolved against `pathRoot` (default: the list's folder). Each entry is one media item
/// (`frameIndex` unset); a frame stored in a folder named like a video (FF++/DFD/Celeb-DF) gets that folder as
/// `videoID` and the identity its name encodes.
public struct RFFRListImporter: DatasetImporter {
    static let methodCodes = ["df": "Deepfakes", "f2f": "Face2Face", "fsw": "FaceSwap", "nt": "NeuralTextures", "fs": "FaceShifter"]

    public var listPath: String
    public var datasetName: String
    /// nil: from the file name (or unset).
    public var split: String?
    /// nil: from the file name's type code (or unset).
    public var method: String?
    public var pathRoot: String?
    /// Whether listed files that are absent are an error.
    public var checkFiles: Bool

    public init(listPath: String, datasetName: String = "RFFR", split: String? = nil, method: String? = nil,
                pathRoot: String? = nil, checkFiles: Bool = true) {
        (self.listPath, self.datasetName, self.split, self.method, self.pathRoot, self.checkFiles) =
            (listPath, datasetName, split, method, pathRoot, checkFiles)
    }

    /// Split and method read from a list's file name, e.g. `df_test_label.json` → ("test", "Deepfakes").
    public static func nameHints(_ path: String) -> (split: String?, method: String?) {
        let tokens = DatasetFiles.stem(path).lowercased().split(separator: "_").map(String.init)
        let split = tokens.first { ["train", "val", "test"].contains($0) }
        let method = tokens.first.flatMap { methodCodes[$0] }
        return (split, method)
    }

    public func load() throws -> Manifest {
        let file = DatasetFiles.absolute(listPath)
        guard let items = try DatasetFiles.readJSON(file, what: "the label list") as? [Any] else {
            throw DatasetError(.malformedJSON, path: file, reason: "(top level): expected a list of {\"path\", \"label\"} objects")
        }
        if items.isEmpty { throw DatasetError(.empty, path: file, reason: "the label list has no entries") }
        let base = pathRoot.map(DatasetFiles.absolute) ?? (file as NSString).deletingLastPathComponent
        let hints = Self.nameHints(file)
        var samples: [Sample] = []
        for (i, item) in items.enumerated() {
            guard let fields = item as? [String: Any] else {
                throw DatasetError(.malformedJSON, path: file, reason: "[\(i)]: expected an object {\"path\", \"label\"}")
            }
            guard let listed = fields["path"] as? String, !listed.isEmpty else {
                throw DatasetError(.malformedJSON, path: file, reason: "[\(i)].path: missing or not a path string")
            }
            guard let label = fields["label"] as? Int, label == 0 || label == 1 else {
                throw DatasetError(.malformedJSON, path: file, reason: "[\(i)].label: expected 0 (real) or 1 (fake), found \(fields["label"].map { "\($0)" } ?? "nothing")")
            }
            let path = DatasetFiles.resolve(listed, against: base)
            let relative = path.hasPrefix(base + "/") ? String(path.dropFirst(base.count + 1)) : path
            let (videoID, naming) = VideoNaming.describe(relativePath: relative)
            samples.append(Sample(id: datasetName + ":" + relative, path: path, label: label,
                                  method: method ?? (label == 1 ? hints.method : nil), dataset: datasetName, videoID: videoID,
                                  identity: naming?.identity, split: split ?? hints.split, sourceIdentity: naming?.sourceIdentity,
                                  originalVideoID: naming?.originalVideoID))
        }
        if checkFiles {
            let missing = DatasetFiles.absent(samples.map(\.path))
            if !missing.isEmpty { throw DatasetError.missingMedia(listedIn: file, missing: missing) }
        }
        return Manifest(samples)
    }
}
