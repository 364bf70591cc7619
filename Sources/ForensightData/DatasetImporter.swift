import Foundation
import ForensightMedia

/// Reads one dataset exactly as its owners ship it and lists its media as a `Manifest`.
///
/// Importers never decode media: they read folder layouts, names and label files only, so they are fast and work on
/// placeholder files. Sample paths are the dataset root (made absolute) joined with the file's path inside it; sample
/// ids are `<dataset>:<path inside the dataset>` so manifests of several datasets can be merged. A dataset that does
/// not match its layout throws a `DatasetError` naming the absent folder, the absent files or the malformed entry.
public protocol DatasetImporter: Sendable {
    /// The dataset name written into every sample's `dataset`.
    var datasetName: String { get }
    /// Lists the dataset. Throws `DatasetError`.
    func load() throws -> Manifest
}

/// File-system helpers shared by the importers.
enum DatasetFiles {
    static var imageExtensions: Set<String> { MediaFiles.imageExtensions }
    static var videoExtensions: Set<String> { MediaFiles.videoExtensions }

    static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    static func isFile(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
    }

    /// `path` made absolute (against the current directory) and standardized (no `.`/`..`, no trailing slash).
    static func absolute(_ path: String) -> String {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        var result = url.path
        while result.count > 1 && result.hasSuffix("/") { result.removeLast() }
        return result
    }

    /// `relative` resolved against `root`; absolute paths are kept as they are. Backslashes become slashes.
    static func resolve(_ relative: String, against root: String) -> String {
        let normalized = relative.replacingOccurrences(of: "\\", with: "/")
        if normalized.hasPrefix("/") { return normalized }
        return absolute(root + "/" + normalized)
    }

    /// Names of the visible entries of `folder` (files and folders), sorted; empty when it cannot be listed.
    static func entries(of folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// Names of the visible subfolders of `folder`, sorted.
    static func subfolders(of folder: String) -> [String] {
        entries(of: folder).filter { isDirectory(folder + "/" + $0) }
    }

    /// Names of the media files directly in `folder` whose extension is in `extensions`, sorted.
    static func mediaFiles(in folder: String, extensions: Set<String>) -> [String] {
        entries(of: folder).filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) && isFile(folder + "/" + $0) }
    }

    /// Media files under `folder`, recursively (via `MediaFiles.collect`), as paths relative to `folder`, sorted.
    static func mediaFilesRecursively(in folder: String) -> [String] {
        let root = absolute(folder)
        return MediaFiles.collect([root]).files.map { path -> String in
            let full = absolute(path)
            return full.hasPrefix(root + "/") ? String(full.dropFirst(root.count + 1)) : full
        }.sorted()
    }

    /// The file name without its extension (`033_097.mp4` → `033_097`).
    static func stem(_ name: String) -> String {
        ((name as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    /// The contents of a file, or a `DatasetError` naming it.
    static func read(_ path: String, what: String) throws -> Data {
        guard isFile(path) else { throw DatasetError(.missingFile, path: path, reason: "\(what) is absent") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DatasetError(.io, path: path, reason: "cannot read \(what)")
        }
        return data
    }

    /// Parses JSON (any top-level value) or throws `malformedJSON` naming the file.
    static func readJSON(_ path: String, what: String) throws -> Any {
        let data = try read(path, what: what)
        do {
            return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw DatasetError(.malformedJSON, path: path, reason: "\(what) is not valid JSON")
        }
    }

    /// The paths among `paths` that do not exist, in order.
    static func absent(_ paths: [String]) -> [String] {
        paths.filter { !FileManager.default.fileExists(atPath: $0) }
    }
}
