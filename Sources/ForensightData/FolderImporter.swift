import Foundation

/// A plain folder of labelled media: `real/` and `fake/` (any letter case), each walked recursively for images and
/// videos (hidden files skipped, symbolic links to folders not followed):
/// ```
/// root/real/clip.mp4                      real, method unset
/// root/fake/Deepfakes/033_097.mp4         fake, method Deepfakes (first subfolder, unless it is named like a video)
/// root/fake/033_097/0001.png              fake, videoID 033_097 (frame in a folder named like a video)
/// ```
/// With `label` set, the layout is instead "every media file under `root` has this label" (e.g. a folder of real
/// face chips such as UTKFace). `videoID` is the file stem (or the video-named folder of a frame); identity is set
/// when the name follows FF++/DFD/Celeb-DF naming. Both folders are required, and each must hold media.
public struct FolderImporter: DatasetImporter {
    public var root: String
    public var datasetName: String
    /// nil: the `real/` + `fake/` layout. 0 or 1: every media file under `root` has this label.
    public var label: Int?

    /// `datasetName` defaults to the root folder's name.
    public init(root: String, datasetName: String? = nil, label: Int? = nil) {
        precondition(label == nil || label == 0 || label == 1, "label must be 0 (real) or 1 (fake)")
        self.root = root
        self.datasetName = datasetName ?? (DatasetFiles.absolute(root) as NSString).lastPathComponent
        self.label = label
    }

    /// The `real` and `fake` folder names of `root` (matched case-insensitively), when both exist.
    public static func labelFolders(of root: String) -> (real: String?, fake: String?) {
        let folders = DatasetFiles.subfolders(of: root)
        return (folders.first { $0.lowercased() == "real" }, folders.first { $0.lowercased() == "fake" })
    }

    public func load() throws -> Manifest {
        let root = DatasetFiles.absolute(self.root)
        guard DatasetFiles.isDirectory(root) else { throw DatasetError(.missingFolder, path: root, reason: "dataset folder is absent") }
        let parts: [(folder: String, label: Int)]
        if let label {
            parts = [("", label)]
        } else {
            let (real, fake) = Self.labelFolders(of: root)
            guard let real else { throw DatasetError.missingFolder("real/", root: root, layout: "real/ + fake/ folders") }
            guard let fake else { throw DatasetError.missingFolder("fake/", root: root, layout: "real/ + fake/ folders") }
            parts = [(real, 0), (fake, 1)]
        }
        var samples: [Sample] = []
        for (folder, label) in parts {
            let base = folder.isEmpty ? root : root + "/" + folder
            let files = DatasetFiles.mediaFilesRecursively(in: base)
            guard !files.isEmpty else { throw DatasetError(.empty, path: base, reason: "no images or videos in this folder") }
            for inner in files {
                let relative = folder.isEmpty ? inner : folder + "/" + inner
                let (videoID, naming) = VideoNaming.describe(relativePath: inner)
                let components = inner.split(separator: "/").map(String.init)
                let first = components.count >= 2 ? components[0] : nil
                let method = (folder.isEmpty || first == videoID) ? nil : first
                samples.append(Sample(id: datasetName + ":" + relative, path: root + "/" + relative, label: label, method: method,
                                      dataset: datasetName, videoID: videoID, identity: naming?.identity,
                                      sourceIdentity: naming?.sourceIdentity, originalVideoID: naming?.originalVideoID))
            }
        }
        return Manifest(samples)
    }
}
