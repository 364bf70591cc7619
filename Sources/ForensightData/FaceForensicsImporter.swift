import Foundation

/// FaceForensics++ as downloaded with the official `faceforensics_download_v4.py` script, or its flattened re-host.
///
/// Official layout (`compression` picks one of `raw`/`c0`, `c23`, `c40`; `c0` and `raw` name the same thing):
/// ```
/// root/original_sequences/youtube/c23/videos/033.mp4          real, identity 033
/// root/original_sequences/actors/c23/videos/01__hugging.mp4   real (DFD actor 01), only with DeepFakeDetection
/// root/manipulated_sequences/<Method>/c23/videos/033_097.mp4  fake, identity 033 (target), source 097
/// root/{train,val,test}.json  or  root/splits/{…}.json        optional official splits: [["033","097"], …]
/// ```
/// Flattened layout (e.g. `../shared/datasets/ffpp-c23-mini`): `root/original_youtube_c23/NNN.mp4` and
/// `root/<Method>_c23/TTT_SSS.mp4`.
///
/// `videoID` is the file stem, `identity` the target id, `originalVideoID` the target's original. With split files,
/// every video takes the split of its target id (the official pairs keep target and source together); videos the
/// files do not list (DFD, or partial downloads) get no split.
public struct FaceForensicsImporter: DatasetImporter {
    public enum Layout: String, Sendable { case official, flattened }

    /// The manipulation methods FF++ ships (folder names under `manipulated_sequences`).
    public static let knownMethods = ["Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter", "DeepFakeDetection"]

    public var root: String
    /// `c23` (default), `c40`, or `c0`/`raw`.
    public var compression: String
    /// Methods to import; nil imports every method folder present. Listed methods must be present.
    public var methods: [String]?
    /// Folder holding `train.json`, `val.json`, `test.json`; nil looks in `root` and `root/splits`.
    public var splitsFolder: String?
    public var datasetName: String

    public init(root: String, compression: String = "c23", methods: [String]? = nil, splitsFolder: String? = nil,
                datasetName: String = "FaceForensics++") {
        (self.root, self.compression, self.methods, self.splitsFolder, self.datasetName) =
            (root, compression, methods, splitsFolder, datasetName)
    }

    /// The layout of `root`, or nil when it is not FaceForensics++.
    public static func detectLayout(_ root: String) -> Layout? {
        let folders = DatasetFiles.subfolders(of: root)
        if folders.contains("original_sequences") || folders.contains("manipulated_sequences") { return .official }
        let prefixes = ["original_youtube_", "original_actors_"] + knownMethods.map { $0 + "_" }
        return folders.contains { f in prefixes.contains { f.hasPrefix($0) } } ? .flattened : nil
    }

    /// The folder names that may hold `compression` (`c0` and `raw` are aliases).
    var compressionNames: [String] {
        switch compression.lowercased() {
        case "c0", "raw": return ["raw", "c0"]
        default: return [compression]
        }
    }

    public func load() throws -> Manifest {
        let root = DatasetFiles.absolute(self.root)
        guard DatasetFiles.isDirectory(root) else { throw DatasetError(.missingFolder, path: root, reason: "dataset folder is absent") }
        guard let layout = Self.detectLayout(root) else {
            throw DatasetError.missingFolder("original_sequences", root: root, layout: "FaceForensics++",
                                             note: "neither manipulated_sequences nor flattened <Method>_\(compression) folders found either")
        }
        let parts = layout == .official ? try officialParts(root) : try flattenedParts(root)
        let splits = try FaceForensicsSplits.load(root: root, folder: splitsFolder)
        var samples: [Sample] = []
        for part in parts {
            let names = DatasetFiles.mediaFiles(in: root + "/" + part.folder, extensions: DatasetFiles.videoExtensions)
            guard !names.isEmpty else {
                throw DatasetError(.empty, path: root + "/" + part.folder, reason: "no videos in this folder (\(part.method))")
            }
            for name in names {
                let videoID = DatasetFiles.stem(name)
                let youtube = VideoNaming.faceForensics(videoID)
                let naming = youtube ?? VideoNaming.deepFakeDetection(videoID)
                let relative = part.folder + "/" + name
                samples.append(Sample(id: datasetName + ":" + relative, path: root + "/" + relative, label: part.label,
                                      method: part.method, dataset: datasetName, videoID: videoID, identity: naming?.identity,
                                      split: youtube.flatMap { splits?[$0.identity] }, sourceIdentity: naming?.sourceIdentity,
                                      originalVideoID: naming?.originalVideoID))
            }
        }
        return Manifest(samples)
    }

    /// One folder of videos with its label and method.
    struct Part { var folder: String; var label: Int; var method: String }

    private func selectedMethods(present: [String], root: String, where location: (String) -> String) throws -> [String] {
        guard let methods else { return present }
        for m in methods where !present.contains(m) {
            throw DatasetError.missingFolder(location(m), root: root, layout: "FaceForensics++",
                                             note: "method \(m) was asked for; present: \(present.joined(separator: ", "))")
        }
        return methods
    }

    private func officialParts(_ root: String) throws -> [Part] {
        func videos(_ base: String) throws -> String {
            let available = DatasetFiles.subfolders(of: root + "/" + base)
            guard let c = compressionNames.first(where: { available.contains($0) }) else {
                throw DatasetError.missingFolder("\(base)/\(compression)/videos", root: root, layout: "FaceForensics++",
                                                 note: "found compressions: \(available.isEmpty ? "none" : available.joined(separator: ", "))")
            }
            guard DatasetFiles.isDirectory(root + "/\(base)/\(c)/videos") else {
                throw DatasetError.missingFolder("\(base)/\(c)/videos", root: root, layout: "FaceForensics++")
            }
            return "\(base)/\(c)/videos"
        }
        guard DatasetFiles.isDirectory(root + "/original_sequences/youtube") else {
            throw DatasetError.missingFolder(DatasetFiles.isDirectory(root + "/original_sequences")
                                             ? "original_sequences/youtube" : "original_sequences", root: root, layout: "FaceForensics++")
        }
        let present = DatasetFiles.subfolders(of: root + "/manipulated_sequences")
        let methods = try selectedMethods(present: present, root: root) { "manipulated_sequences/\($0)" }
        var parts = [Part(folder: try videos("original_sequences/youtube"), label: 0, method: "original_youtube")]
        if methods.contains("DeepFakeDetection") && DatasetFiles.isDirectory(root + "/original_sequences/actors") {
            parts.append(Part(folder: try videos("original_sequences/actors"), label: 0, method: "original_actors"))
        }
        for m in methods { parts.append(Part(folder: try videos("manipulated_sequences/\(m)"), label: 1, method: m)) }
        return parts
    }

    private func flattenedParts(_ root: String) throws -> [Part] {
        let folders = DatasetFiles.subfolders(of: root)
        func folder(_ base: String) -> String? { compressionNames.map { "\(base)_\($0)" }.first(where: folders.contains) }
        guard let originals = folder("original_youtube") else {
            let found = folders.filter { $0.hasPrefix("original_youtube_") }
            throw DatasetError.missingFolder("original_youtube_\(compression)", root: root, layout: "flattened FaceForensics++",
                                             note: found.isEmpty ? nil : "found \(found.joined(separator: ", "))")
        }
        let suffixes = compressionNames.map { "_" + $0 }
        let present = folders.filter { !$0.hasPrefix("original_") }.compactMap { f in
            suffixes.first(where: f.hasSuffix).map { String(f.dropLast($0.count)) }
        }
        let methods = try selectedMethods(present: present, root: root) { "\($0)_\(compression)" }
        var parts = [Part(folder: originals, label: 0, method: "original_youtube")]
        if methods.contains("DeepFakeDetection"), let actors = folder("original_actors") {
            parts.append(Part(folder: actors, label: 0, method: "original_actors"))
        }
        for m in methods { if let f = folder(m) { parts.append(Part(folder: f, label: 1, method: m)) } }
        return parts
    }
}

/// The official FF++ split files: `train.json`, `val.json`, `test.json`, each a list of `[target, source]` id pairs.
enum FaceForensicsSplits {
    static let names = ["train", "val", "test"]

    /// Id → split, or nil when no split files are present. With an explicit `folder`, all three files are required;
    /// otherwise `root` and `root/splits` are searched, and a folder holding some but not all three is an error.
    static func load(root: String, folder: String?) throws -> [String: String]? {
        let candidates = folder.map { [DatasetFiles.absolute($0)] } ?? [root, root + "/splits"]
        guard let dir = candidates.first(where: { c in names.contains { DatasetFiles.isFile("\(c)/\($0).json") } }) else {
            if let folder { throw DatasetError(.missingFile, path: folder, reason: "no train.json, val.json or test.json in this folder") }
            return nil
        }
        let absent = names.filter { !DatasetFiles.isFile("\(dir)/\($0).json") }
        guard absent.isEmpty else {
            throw DatasetError(.missingFile, path: dir, reason: "official split files incomplete: \(absent.map { $0 + ".json" }.joined(separator: ", ")) absent")
        }
        var assignment: [String: String] = [:]
        for split in names {
            let file = "\(dir)/\(split).json"
            guard let pairs = try DatasetFiles.readJSON(file, what: "\(split).json") as? [Any] else {
                throw DatasetError(.malformedJSON, path: file, reason: "(top level): expected a list of [target, source] pairs")
            }
            for (i, pair) in pairs.enumerated() {
                guard let ids = pair as? [Any], ids.count == 2 else {
                    throw DatasetError(.malformedJSON, path: file, reason: "[\(i)]: expected a pair [target, source]")
                }
                for (j, value) in ids.enumerated() {
                    guard let id = value as? String, !id.isEmpty else {
                        throw DatasetError(.malformedJSON, path: file, reason: "[\(i)][\(j)]: expected a video id string such as \"033\"")
                    }
                    if let other = assignment[id], other != split {
                        throw DatasetError(.malformedJSON, path: file, reason: "[\(i)][\(j)]: id \(id) is also listed in \(other).json")
                    }
                    assignment[id] = split
                }
            }
        }
        return assignment
    }
}
