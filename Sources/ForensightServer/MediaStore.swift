import Foundation
import Crypto
import Hummingbird
import ForensightMedia
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Uploaded media on disk, one file per content: `<data>/media/<sha256>`. An upload is written to `<data>/tmp/`
/// while it streams in (hashed and size-checked chunk by chunk), flushed to the disk (fsync), then renamed to its
/// hash and the folder flushed too, so a file that has a name in `media/` is whole after any crash.
public struct MediaStore: Sendable {
    public let mediaDirectory: String
    public let temporaryDirectory: String

    /// Creates the folders under `dataDirectory` and removes partial uploads a previous run left in `tmp/`: none of
    /// them was acknowledged, since the `202` goes out only after `finish`. Processes that share the folder with a
    /// running server (workers, `enqueue`) pass `removingPartialUploads: false`.
    public init(dataDirectory: String, removingPartialUploads: Bool = true) throws {
        mediaDirectory = (dataDirectory as NSString).appendingPathComponent("media")
        temporaryDirectory = (dataDirectory as NSString).appendingPathComponent("tmp")
        let fm = FileManager.default
        for folder in [mediaDirectory, temporaryDirectory] { try fm.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        for leftover in removingPartialUploads ? (try? fm.contentsOfDirectory(atPath: temporaryDirectory)) ?? [] : [] {
            try? fm.removeItem(atPath: (temporaryDirectory as NSString).appendingPathComponent(leftover))
        }
    }

    /// Where the media with this hash lives (the hash is checked: nothing but 64 hex digits makes a path).
    public func path(sha256: String) -> String? {
        AnalysisID.isSHA256(sha256) ? (mediaDirectory as NSString).appendingPathComponent(sha256) : nil
    }

    /// Starts receiving an upload of at most `limit` bytes.
    func beginUpload(limit: Int) throws -> UploadWriter {
        try UploadWriter(temporaryPath: (temporaryDirectory as NSString).appendingPathComponent(AnalysisID.make()), limit: limit, store: self)
    }

    /// Deletes the media with this hash (when no analysis refers to it any more).
    public func remove(sha256: String) {
        if let path = path(sha256: sha256) { try? FileManager.default.removeItem(atPath: path) }
    }
}

/// A stored upload: its hash, size and first bytes (for sniffing).
struct StoredMedia: Sendable {
    var sha256: String
    var size: Int
    var head: [UInt8]
}

/// One upload streaming to disk. Not shared: it lives in the request that receives it.
final class UploadWriter {
    /// The upload passed the limit; what was received is discarded.
    struct TooLarge: Error {}

    private let handle: FileHandle
    private let temporaryPath: String
    private let limit: Int
    private let store: MediaStore
    private var hasher = SHA256()
    private(set) var size = 0
    private(set) var head: [UInt8] = []
    private var isOpen = true

    init(temporaryPath: String, limit: Int, store: MediaStore) throws {
        guard FileManager.default.createFile(atPath: temporaryPath, contents: nil),
              let handle = FileHandle(forWritingAtPath: temporaryPath) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporaryPath])
        }
        (self.handle, self.temporaryPath, self.limit, self.store) = (handle, temporaryPath, limit, store)
    }

    /// Appends a chunk; throws `TooLarge` (and discards the file) as soon as the total passes the limit.
    func write(_ buffer: ByteBuffer) throws {
        guard buffer.readableBytes > 0 else { return }
        size += buffer.readableBytes
        guard size <= limit else { abandon(); throw TooLarge() }
        try buffer.withUnsafeReadableBytes { raw in
            hasher.update(bufferPointer: raw)
            if head.count < SniffLength.bytes { head += raw.prefix(SniffLength.bytes - head.count) }
            try handle.write(contentsOf: Data(raw))
        }
    }

    /// Flushes the file to the disk, names it by its hash (an existing file with that name already holds the same
    /// bytes and is kept) and flushes the folder.
    func finish() throws -> StoredMedia {
        try handle.synchronize()
        try handle.close()
        isOpen = false
        let sha = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        let target = store.path(sha256: sha)!
        if FileManager.default.fileExists(atPath: target) {
            try? FileManager.default.removeItem(atPath: temporaryPath)
        } else {
            guard rename(temporaryPath, target) == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: target]) }
            Self.syncDirectory(store.mediaDirectory)
        }
        return StoredMedia(sha256: sha, size: size, head: head)
    }

    /// Closes and deletes the partial file.
    func abandon() {
        if isOpen { try? handle.close(); isOpen = false }
        try? FileManager.default.removeItem(atPath: temporaryPath)
    }

    deinit { if isOpen { abandon() } }

    /// fsync of a folder, so a rename inside it survives a power cut.
    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        _ = close(fd)
    }
}

/// Bytes kept from the start of an upload for content sniffing.
enum SniffLength { static let bytes = SniffedMedia.headLength }
