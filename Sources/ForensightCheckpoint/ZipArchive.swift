import Foundation

/// A minimal, read-only ZIP reader for archives held in memory, sufficient for the
/// zip-format checkpoints written by `torch.save`.
///
/// Only the central directory is trusted for names and sizes; local headers are used
/// solely to find where each entry's data begins. Entries must be *stored*
/// (compression method 0), which is what PyTorch writes. ZIP64 end-of-central-directory
/// records and ZIP64 extra fields are understood, so archives over 4 GiB work.
/// Every offset and size read from the file is validated against the buffer before use.
struct ZipArchive {
    /// One entry of the central directory.
    struct Entry {
        /// The entry's path inside the archive, e.g. `archive/data/0`.
        let name: String
        /// Compression method (0 = stored; anything else is rejected on read).
        let method: UInt16
        /// General-purpose flags (bit 0 = encrypted).
        let flags: UInt16
        /// CRC-32 of the uncompressed data as recorded in the central directory.
        let crc32: UInt32
        /// Size of the data as stored in the archive.
        let compressedSize: Int
        /// Size of the data after decompression.
        let uncompressedSize: Int
        /// Offset of the entry's local file header.
        let localHeaderOffset: Int
    }

    private let bytes: UnsafeRawBufferPointer
    /// Entries in central-directory order.
    private(set) var entries: [Entry] = []
    private var indexByName: [String: Int] = [:]

    private static let localHeaderSignature: UInt32 = 0x0403_4b50
    private static let centralHeaderSignature: UInt32 = 0x0201_4b50
    private static let endSignature: UInt32 = 0x0605_4b50
    private static let zip64EndSignature: UInt32 = 0x0606_4b50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4b50

    /// Whether `bytes` begins like a ZIP archive (a local file header signature).
    static func looksLikeZip(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4b && bytes[2] == 0x03 && bytes[3] == 0x04
    }

    /// Parses the central directory of the archive in `bytes`.
    init(bytes: UnsafeRawBufferPointer) throws {
        self.bytes = bytes
        let end = try findEndRecord()
        let (count, directoryOffset, directorySize, directoryLimit) = try readDirectoryLocation(endRecord: end)
        guard directoryOffset <= directoryLimit, directorySize <= directoryLimit - directoryOffset else {
            throw Self.failure("central directory (offset \(directoryOffset), size \(directorySize)) lies outside the file")
        }
        // Each central header is at least 46 bytes, so the count is bounded by the directory size.
        guard count <= directorySize / 46 else {
            throw Self.failure("central directory claims \(count) entries but is only \(directorySize) bytes")
        }
        var cursor = directoryOffset
        let directoryEnd = directoryOffset + directorySize
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let entry = try readCentralHeader(at: &cursor, limit: directoryEnd)
            guard indexByName[entry.name] == nil else {
                throw Self.failure("duplicate entry '\(entry.name)'")
            }
            indexByName[entry.name] = entries.count
            entries.append(entry)
        }
    }

    /// The entry named `name`, if present.
    func entry(named name: String) -> Entry? {
        indexByName[name].map { entries[$0] }
    }

    /// The byte range of `entry`'s data within the archive buffer.
    ///
    /// - Parameter verifyChecksum: when true and the recorded CRC-32 is non-zero, the data
    ///   is checksummed and a mismatch throws.
    func dataRange(of entry: Entry, verifyChecksum: Bool = true) throws -> Range<Int> {
        guard entry.flags & 1 == 0 else { throw Self.failure("entry '\(entry.name)' is encrypted") }
        guard entry.method == 0, entry.compressedSize == entry.uncompressedSize else {
            throw Self.failure("entry '\(entry.name)' is compressed (method \(entry.method)); only stored entries are supported")
        }
        let header = entry.localHeaderOffset
        guard try u32(header) == Self.localHeaderSignature else {
            throw Self.failure("bad local header signature for '\(entry.name)' at offset \(header)")
        }
        let nameLength = Int(try u16(header + 26))
        let extraLength = Int(try u16(header + 28))
        let start = header + 30 + nameLength + extraLength
        guard start <= bytes.count, try u16(header + 8) == entry.method,
              bytes[(header + 30)..<(header + 30 + nameLength)].elementsEqual(entry.name.utf8) else {
            throw Self.failure("local header of '\(entry.name)' at offset \(header) does not match the central directory")
        }
        guard entry.compressedSize <= bytes.count - start else {
            throw Self.failure("data of '\(entry.name)' (\(entry.compressedSize) bytes at \(start)) runs past the end of the file")
        }
        let range = start..<(start + entry.compressedSize)
        if verifyChecksum && entry.crc32 != 0 {
            let actual = ZipCRC32.checksum(bytes, range)
            guard actual == entry.crc32 else {
                throw Self.failure("CRC-32 mismatch for '\(entry.name)' (expected \(hex(entry.crc32)), got \(hex(actual)))")
            }
        }
        return range
    }

    // MARK: - Directory parsing

    /// Offset of the end-of-central-directory record, searched backwards over the
    /// maximum comment length.
    private func findEndRecord() throws -> Int {
        guard bytes.count >= 22 else { throw Self.failure("file is too short (\(bytes.count) bytes) to be a ZIP archive") }
        let lowest = max(0, bytes.count - 22 - 0xFFFF)
        var offset = bytes.count - 22
        while offset >= lowest {
            if bytes[offset] == 0x50, try u32(offset) == Self.endSignature {
                let commentLength = Int(try u16(offset + 20))
                if offset + 22 + commentLength <= bytes.count { return offset }
            }
            offset -= 1
        }
        throw Self.failure("no end-of-central-directory record found")
    }

    /// Entry count, directory offset and size, and the offset the directory must end
    /// before, preferring ZIP64 values when a ZIP64 locator is present.
    private func readDirectoryLocation(endRecord end: Int) throws -> (Int, Int, Int, Int) {
        var count = Int(try u16(end + 10))
        var size = Int(try u32(end + 12))
        var offset = Int(try u32(end + 16))
        var limit = end
        let locator = end - 20
        if locator >= 0, try u32(locator) == Self.zip64LocatorSignature {
            let record = try int(fromU64: try u64(locator + 8), "ZIP64 end record offset")
            guard record <= locator - 56, try u32(record) == Self.zip64EndSignature else {
                throw Self.failure("ZIP64 locator points to an invalid end record at \(record)")
            }
            count = try int(fromU64: try u64(record + 32), "ZIP64 entry count")
            size = try int(fromU64: try u64(record + 40), "ZIP64 directory size")
            offset = try int(fromU64: try u64(record + 48), "ZIP64 directory offset")
            limit = record
        } else if count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
            throw Self.failure("archive needs ZIP64 records but has no ZIP64 locator")
        }
        return (count, offset, size, limit)
    }

    /// Reads one central directory header at `cursor` and advances past it.
    private func readCentralHeader(at cursor: inout Int, limit: Int) throws -> Entry {
        let at = cursor
        guard limit - at >= 46, try u32(at) == Self.centralHeaderSignature else {
            throw Self.failure("bad central directory header at offset \(at)")
        }
        let flags = try u16(at + 8)
        let method = try u16(at + 10)
        let crc = try u32(at + 16)
        var compressed = UInt64(try u32(at + 20))
        var uncompressed = UInt64(try u32(at + 24))
        let nameLength = Int(try u16(at + 28))
        let extraLength = Int(try u16(at + 30))
        let commentLength = Int(try u16(at + 32))
        var localOffset = UInt64(try u32(at + 42))
        let nameStart = at + 46
        let extraStart = nameStart + nameLength
        let next = extraStart + extraLength + commentLength
        guard next <= limit else { throw Self.failure("central directory header at \(at) runs past the directory") }
        guard let name = String(bytes: bytes[nameStart..<extraStart], encoding: .utf8) else {
            throw Self.failure("entry name at offset \(nameStart) is not valid UTF-8")
        }
        // ZIP64 extra field (id 1): 8-byte values for each field saturated at 0xFFFFFFFF, in order.
        var extra = extraStart
        let extraEnd = extraStart + extraLength
        while extraEnd - extra >= 4 {
            let id = try u16(extra)
            let length = Int(try u16(extra + 2))
            let body = extra + 4
            guard length <= extraEnd - body else { throw Self.failure("extra field of '\(name)' is truncated") }
            if id == 0x0001 {
                var field = body
                func next64() throws -> UInt64 {
                    guard field + 8 <= body + length else { throw Self.failure("ZIP64 extra field of '\(name)' is too short") }
                    defer { field += 8 }
                    return try u64(field)
                }
                if uncompressed == 0xFFFF_FFFF { uncompressed = try next64() }
                if compressed == 0xFFFF_FFFF { compressed = try next64() }
                if localOffset == 0xFFFF_FFFF { localOffset = try next64() }
            }
            extra = body + length
        }
        cursor = next
        return Entry(
            name: name, method: method, flags: flags, crc32: crc,
            compressedSize: try int(fromU64: compressed, "size of '\(name)'"),
            uncompressedSize: try int(fromU64: uncompressed, "size of '\(name)'"),
            localHeaderOffset: try int(fromU64: localOffset, "offset of '\(name)'"))
    }

    // MARK: - Bounds-checked little-endian reads

    private func u16(_ offset: Int) throws -> UInt16 {
        guard offset >= 0, offset <= bytes.count - 2 else { throw Self.truncated(offset) }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    private func u32(_ offset: Int) throws -> UInt32 {
        guard offset >= 0, offset <= bytes.count - 4 else { throw Self.truncated(offset) }
        var value: UInt32 = 0
        for index in (0..<4).reversed() { value = value << 8 | UInt32(bytes[offset + index]) }
        return value
    }

    private func u64(_ offset: Int) throws -> UInt64 {
        guard offset >= 0, offset <= bytes.count - 8 else { throw Self.truncated(offset) }
        var value: UInt64 = 0
        for index in (0..<8).reversed() { value = value << 8 | UInt64(bytes[offset + index]) }
        return value
    }

    private func int(fromU64 value: UInt64, _ what: String) throws -> Int {
        guard let result = Int(exactly: value), result <= bytes.count else {
            throw Self.failure("\(what) (\(value)) exceeds the file size (\(bytes.count))")
        }
        return result
    }

    private static func truncated(_ offset: Int) -> CheckpointError {
        failure("read past the end of the file at offset \(offset)")
    }

    private static func failure(_ reason: String) -> CheckpointError {
        CheckpointError(operation: "reading ZIP archive", reason: reason)
    }
}

private func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }

/// The CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) used by ZIP.
enum ZipCRC32 {
    private static let table: [UInt32] = (0..<256).map { index -> UInt32 in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? (value >> 1) ^ 0xEDB8_8320 : value >> 1 }
        return value
    }

    /// CRC-32 of `bytes[range]`.
    static func checksum(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { table in
            for index in range {
                crc = table[Int((crc ^ UInt32(bytes[index])) & 0xFF)] ^ (crc >> 8)
            }
        }
        return crc ^ 0xFFFF_FFFF
    }
}
