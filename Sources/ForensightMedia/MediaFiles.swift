import Foundation
import Synchronization

/// Expands command-line inputs (files and folders) into the media files to process.
public enum MediaFiles {
    /// Still-image file extensions.
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"]
    /// Video file extensions.
    public static let videoExtensions: Set<String> = ["mp4", "mov", "avi", "mkv", "webm", "m4v", "mpg", "mpeg", "wmv", "flv", "3gp"]
    /// File extensions taken from folders (single files named directly are always taken, whatever their name).
    public static let extensions = imageExtensions.union(videoExtensions)

    /// Whether `path` names a video by its extension (no file access).
    public static func isVideo(path: String) -> Bool { videoExtensions.contains((path as NSString).pathExtension.lowercased()) }

    /// The files under `inputs`, sorted within each folder, with one `MediaError` per input that cannot be used.
    ///
    /// Folders are walked recursively without following symbolic links to folders (so a symlink loop cannot trap
    /// the walk); hidden files are skipped.
    public static func collect(_ inputs: [String]) -> (files: [String], problems: [MediaError]) {
        var files: [String] = [], problems: [MediaError] = []
        let fm = FileManager.default
        for input in inputs {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: input, isDirectory: &isDirectory) else {
                let dangling = (try? fm.destinationOfSymbolicLink(atPath: input)) != nil
                problems.append(MediaError(.notFound, path: input, reason: dangling ? "broken symbolic link" : "no such file or folder"))
                continue
            }
            guard isDirectory.boolValue else { files.append(input); continue }
            guard let walker = fm.enumerator(at: URL(fileURLWithPath: input), includingPropertiesForKeys: [.isRegularFileKey, .isSymbolicLinkKey],
                                             options: [.skipsHiddenFiles]) else {
                problems.append(MediaError(.unreadable, path: input, reason: "cannot list the folder"))
                continue
            }
            var found: [String] = []
            for case let url as URL in walker {
                let values = try? url.resourceValues(forKeys: [.isRegularFileKey, .isSymbolicLinkKey])
                if values?.isSymbolicLink == true {
                    // A link to a file is taken; a link to a folder is not walked into.
                    var linkIsDir: ObjCBool = false
                    if fm.fileExists(atPath: url.path, isDirectory: &linkIsDir), linkIsDir.boolValue { walker.skipDescendants(); continue }
                } else if values?.isRegularFile != true { continue }
                if extensions.contains(url.pathExtension.lowercased()) { found.append(url.path) }
            }
            if found.isEmpty { problems.append(MediaError(.empty, path: input, reason: "no images or videos in this folder")) }
            files += found.sorted()
        }
        return (files, problems)
    }
}

/// Values computed from a file's bytes (a probe, an index, a digest), remembered for the rest of the process while the
/// file stays the same: same path, device, inode, size and modification time. Readers that open one file in turn (a
/// fusion's face and mouth reads, an ensemble's members) then do the work once. Only returned values are kept, never
/// errors; at most `capacity` entries (the table is emptied when full).
public final class FileMemo<Value: Sendable>: Sendable {
    private let table = Mutex<[String: Value]>([:])
    public let capacity: Int

    public init(capacity: Int = 64) { self.capacity = capacity }

    /// The remembered value for `path` (and `variant`, for values that depend on more than the file), or
    /// `compute()`'s, remembered. A file that cannot be stat'ed is computed every time.
    public func value(for path: String, variant: String = "", _ compute: () throws -> Value) rethrows -> Value {
        guard let key = Self.identity(of: path).map({ $0 + "|" + variant }) else { return try compute() }
        if let known = table.withLock({ $0[key] }) { return known }
        let value = try compute()
        table.withLock { table in
            if table.count >= capacity { table.removeAll() }
            table[key] = value
        }
        return value
    }

    /// What tells one unchanged file from any other cheaply (nil when it cannot be stat'ed).
    static func identity(of path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return "\(path)|\(info.st_dev)|\(info.st_ino)|\(info.st_size)|\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    }
}
