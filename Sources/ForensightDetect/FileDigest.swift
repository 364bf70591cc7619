import Foundation
import Crypto
import ForensightMedia

/// SHA-256 of weights files, to name the exact weights a result came from. The hashing is swift-crypto's; this only
/// streams a file through it in 1 MB chunks, so a large checkpoint is never held in memory whole.
public enum FileDigest {
    /// Lower-case hex SHA-256 of `bytes`.
    public static func sha256Hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        hex(SHA256.hash(data: Array(bytes)))
    }

    /// Lower-case hex SHA-256 of the file at `path`.
    ///
    /// Remembered for the life of the process while the file's device, inode, size and modification time stay the
    /// same: every member of an ensemble or fusion file is loaded from that one file and names its SHA-256, which would
    /// otherwise hash the same bytes once per member.
    public static func sha256Hex(ofFile path: String) throws -> String {
        try memo.value(for: path) { try hashFile(path) }
    }

    private static let memo = FileMemo<String>()

    private static func hashFile(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return hex(hasher.finalize())
    }

    private static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
