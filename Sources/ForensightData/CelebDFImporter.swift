import Foundation

/// Celeb-DF (v2) as its authors ship it (github.com/yuezunli/celeb-deepfakeforensics, `Celeb-DF-v2/README.md`):
/// ```
/// root/Celeb-real/id0_0000.mp4          real, identity id0                       (required)
/// root/YouTube-real/00170.mp4           real, identity unknown                   (optional)
/// root/Celeb-synthesis/id0_id1_0000.mp4 fake, identity id0, source id1,
///                                       made from Celeb-real/id0_0000             (required)
/// root/List_of_testing_videos.txt       "<flag> <folder>/<file>.mp4" per line      (optional)
/// ```
/// **Label semantics of the test list:** its leading flag is **1 for real and 0 for synthesized** — the reverse of
/// Forensight's 0 = real / 1 = fake. The official README does not spell this out; it follows from the file itself
/// (every `Celeb-synthesis/…` line carries 0, every `Celeb-real`/`YouTube-real` line carries 1) and is how the
/// community tools read it. The label of a sample always comes from its folder; the flag is only checked against it,
/// and a disagreement is a `labelConflict` error.
///
/// With the list present, listed videos get split `test` and all others `train` (the official protocol has no
/// validation split); without it, no split is set. Listed videos that are absent are a `missingMedia` error.
public struct CelebDFImporter: DatasetImporter {
    /// The folders of the layout with their label; the first and last are required.
    public static let folders: [(name: String, label: Int)] = [("Celeb-real", 0), ("YouTube-real", 0), ("Celeb-synthesis", 1)]
    public static let testListName = "List_of_testing_videos.txt"

    public var root: String
    /// The test list; nil uses `root/List_of_testing_videos.txt` when present.
    public var testList: String?
    public var datasetName: String

    public init(root: String, testList: String? = nil, datasetName: String = "Celeb-DF-v2") {
        (self.root, self.testList, self.datasetName) = (root, testList, datasetName)
    }

    /// True when `root` has the Celeb-DF folders.
    public static func matches(_ root: String) -> Bool {
        DatasetFiles.isDirectory(root + "/Celeb-real") || DatasetFiles.isDirectory(root + "/Celeb-synthesis")
    }

    public func load() throws -> Manifest {
        let root = DatasetFiles.absolute(self.root)
        guard DatasetFiles.isDirectory(root) else { throw DatasetError(.missingFolder, path: root, reason: "dataset folder is absent") }
        for required in ["Celeb-real", "Celeb-synthesis"] where !DatasetFiles.isDirectory(root + "/" + required) {
            throw DatasetError.missingFolder(required, root: root, layout: "Celeb-DF")
        }
        let listPath = testList.map(DatasetFiles.absolute) ?? root + "/" + Self.testListName
        let testSet: [String: Int]? = (testList != nil || DatasetFiles.isFile(listPath)) ? try Self.readTestList(listPath) : nil

        var samples: [Sample] = [], present = Set<String>()
        for (folder, label) in Self.folders where DatasetFiles.isDirectory(root + "/" + folder) {
            let names = DatasetFiles.mediaFiles(in: root + "/" + folder, extensions: DatasetFiles.videoExtensions)
            if names.isEmpty { throw DatasetError(.empty, path: root + "/" + folder, reason: "no videos in this folder") }
            for name in names {
                let relative = folder + "/" + name
                present.insert(relative)
                var split: String?
                if let testSet {
                    if let flag = testSet[relative] {
                        let listedLabel = flag == 1 ? 0 : 1  // list: 1 = real, 0 = synthesized
                        guard listedLabel == label else {
                            throw DatasetError(.labelConflict, path: listPath,
                                               reason: "\(relative) is flagged \(flag) (\(flag == 1 ? "real" : "synthesized")) but lies in \(folder)")
                        }
                        split = "test"
                    } else {
                        split = "train"
                    }
                }
                let videoID = DatasetFiles.stem(name)
                let naming = VideoNaming.celebDF(videoID)
                samples.append(Sample(id: datasetName + ":" + relative, path: root + "/" + relative, label: label, method: folder,
                                      dataset: datasetName, videoID: videoID, identity: naming?.identity, split: split,
                                      sourceIdentity: naming?.sourceIdentity, originalVideoID: naming?.originalVideoID))
            }
        }
        if let testSet {
            let missing = testSet.keys.filter { !present.contains($0) }.sorted()
            if !missing.isEmpty { throw DatasetError.missingMedia(listedIn: listPath, missing: missing, what: "videos") }
        }
        return Manifest(samples)
    }

    /// Parses the test list into relative path → flag (1 real, 0 synthesized). Malformed lines are errors naming
    /// the line number.
    static func readTestList(_ path: String) throws -> [String: Int] {
        let data = try DatasetFiles.read(path, what: "the Celeb-DF test list")
        guard let text = String(data: data, encoding: .utf8) else {
            throw DatasetError(.malformedList, path: path, reason: "not UTF-8 text")
        }
        var result: [String: Int] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let fields = line.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard fields.count == 2, let flag = Int(fields[0]), flag == 0 || flag == 1 else {
                throw DatasetError(.malformedList, path: path,
                                   reason: "line \(index + 1): expected \"<1 real | 0 synthesized> <folder>/<video>.mp4\", found \"\(line)\"")
            }
            let relative = fields[1].trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\\", with: "/")
            if let previous = result[relative], previous != flag {
                throw DatasetError(.labelConflict, path: path, reason: "line \(index + 1): \(relative) is listed with both flags")
            }
            result[relative] = flag
        }
        if result.isEmpty { throw DatasetError(.empty, path: path, reason: "the test list names no videos") }
        return result
    }
}
