import Foundation

/// A failure to read an HDF5 file: one line naming the file, what is wrong and, where there is one, the remedy.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A read-only HDF5 file, parsed by Forensight itself: the subset that Keras weight files (`model.save_weights`,
/// `model.save` through h5py) and small h5py files use.
///
/// Why our own reader and not Debian's libhdf5: the subset is small (about 600 lines), a system library would have to
/// be present at build time on every machine (SwiftPM has no optional system targets, so a missing `libhdf5-dev` would
/// break the default build and CI), and a reader we write can check every offset against the file's size, so a
/// truncated or hostile file gives an error, never a crash. What is read:
/// - superblock versions 0 and 1 (h5py's default, `libver="earliest"`) and 2 and 3 (`libver="latest"`), at offset 0
///   or after a user block (512, 1024, … bytes);
/// - object headers version 1 and 2 (with continuation blocks);
/// - groups stored as symbol tables (B-tree version 1, symbol table nodes, local heap) or as compact link messages;
///   "dense" link storage (a fractal heap, what libver="latest" uses for groups of more than 8 links) is reported as
///   such, with the remedy;
/// - attributes (versions 1–3) in the object header, of fixed-length or variable-length strings (global heap) and
///   numbers;
/// - datasets of floating point (16, 32, 64 bit) or integers, stored compact, contiguous or chunked (layout version 3
///   with a version-1 B-tree, layout version 4 with a single-chunk or implicit index), without filters (compression
///   is reported as such).
/// Not read: external links, virtual datasets, compound types, filters (gzip, shuffle, …).
public final class HDF5File {
    /// The path it was read from, for messages.
    public let path: String
    let bytes: [UInt8]
    let offsetSize: Int, lengthSize: Int
    let baseAddress: Int
    let rootAddress: Int
    /// The root group.
    public var root: HDF5Object { HDF5Object(file: self, address: rootAddress, name: "/") }

    /// Reads the file at `path` (entirely into memory: weight files of this kind are small).
    public init(path: String) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else { throw HDF5Error("\(path): cannot be read (missing or not a file)") }
        bytes = [UInt8](data)
        let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        var start = -1
        var candidate = 0
        while candidate + 8 <= bytes.count {
            if Array(bytes[candidate..<(candidate + 8)]) == signature { start = candidate; break }
            candidate = candidate == 0 ? 512 : candidate * 2
        }
        guard start >= 0 else { throw HDF5Error("\(path): not an HDF5 file (no HDF5 superblock signature)") }
        var c = HDF5Cursor(bytes: bytes, position: start + 8, path: path)
        let version = try c.u8()
        switch version {
        case 0, 1:
            try c.skip(4)  // free-space, root symbol table entry and shared header versions, reserved
            (offsetSize, lengthSize) = (Int(try c.u8()), Int(try c.u8()))
            try c.skip(1 + 4 + 4 + (version == 1 ? 4 : 0))  // reserved, group K values, flags, indexed storage K
            try Self.checkSizes(offsetSize, lengthSize, path: path)
            c.offsetSize = offsetSize
            baseAddress = try c.address() ?? 0
            try c.skip(3 * offsetSize)  // free space, end of file and driver information addresses
            _ = try c.address()  // the root's link name offset
            guard let address = try c.address() else { throw HDF5Error("\(path): malformed HDF5 file (the root group has no address)") }
            rootAddress = address
        case 2, 3:
            (offsetSize, lengthSize) = (Int(try c.u8()), Int(try c.u8()))
            try Self.checkSizes(offsetSize, lengthSize, path: path)
            try c.skip(1)  // flags
            c.offsetSize = offsetSize
            baseAddress = try c.address() ?? 0
            try c.skip(2 * offsetSize)  // superblock extension and end of file addresses
            guard let address = try c.address() else { throw HDF5Error("\(path): malformed HDF5 file (the root group has no address)") }
            rootAddress = address
        default:
            throw HDF5Error("\(path): HDF5 superblock version \(version) is not read (versions 0–3 are)")
        }
    }

    private static func checkSizes(_ offsets: Int, _ lengths: Int, path: String) throws {
        guard [2, 4, 8].contains(offsets), [2, 4, 8].contains(lengths) else {
            throw HDF5Error("\(path): malformed HDF5 file (offset size \(offsets), length size \(lengths))")
        }
    }

    /// A cursor at file address `address` (relative to the base address).
    func cursor(at address: Int) throws -> HDF5Cursor {
        let position = baseAddress + address
        guard address >= 0, position < bytes.count else {
            throw HDF5Error("\(path): malformed or truncated HDF5 file (address \(address) beyond its \(bytes.count) bytes)")
        }
        var c = HDF5Cursor(bytes: bytes, position: position, path: path)
        (c.offsetSize, c.lengthSize) = (offsetSize, lengthSize)
        return c
    }

    /// The object at `path` ("a/b/c", from the root).
    public func object(at objectPath: String) throws -> HDF5Object {
        var object: HDF5Object = root
        for part in objectPath.split(separator: "/") where !part.isEmpty {
            guard let child = try object.child(String(part)) else {
                throw HDF5Error("\(path): no object \(objectPath) (\(object.name) has no member \(part))")
            }
            object = child
        }
        return object
    }
}

/// Reads little-endian fields of an HDF5 file with bounds checks: a read past the end throws.
struct HDF5Cursor {
    let bytes: [UInt8]
    var position: Int
    let path: String
    var offsetSize = 8, lengthSize = 8

    init(bytes: [UInt8], position: Int, path: String) { (self.bytes, self.position, self.path) = (bytes, position, path) }

    func truncated() -> HDF5Error { HDF5Error("\(path): malformed or truncated HDF5 file (a structure runs past byte \(bytes.count))") }

    mutating func skip(_ n: Int) throws {
        guard n >= 0, position + n <= bytes.count else { throw truncated() }
        position += n
    }

    mutating func u8() throws -> UInt8 {
        guard position < bytes.count else { throw truncated() }
        defer { position += 1 }
        return bytes[position]
    }

    /// An unsigned little-endian integer of `size` bytes (at most 8).
    mutating func uint(_ size: Int) throws -> UInt64 {
        guard size >= 0, size <= 8, position + size <= bytes.count else { throw truncated() }
        var value: UInt64 = 0
        for i in 0..<size { value |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += size
        return value
    }

    /// An unsigned integer of `size` bytes as Int, checked to be at most `limit` (a count or extent, never trusted).
    mutating func int(_ size: Int, limit: Int = 1 << 40) throws -> Int {
        let value = try uint(size)
        guard value <= UInt64(limit) else { throw HDF5Error("\(path): malformed HDF5 file (a field of \(value) where at most \(limit) makes sense)") }
        return Int(value)
    }

    /// The product of `extents`, or an error when it overflows or exceeds `limit`.
    func product(_ extents: [Int], limit: Int = 1 << 40) throws -> Int {
        var p = 1
        for e in extents {
            let (next, overflow) = p.multipliedReportingOverflow(by: e)
            guard !overflow, next <= limit else { throw HDF5Error("\(path): malformed HDF5 file (extents \(extents) are too large)") }
            p = next
        }
        return p
    }

    mutating func u16() throws -> Int { Int(try uint(2)) }
    mutating func u32() throws -> Int { Int(try uint(4)) }

    /// A length field (the superblock's size of lengths), checked to fit the file.
    mutating func length() throws -> Int {
        let value = try uint(lengthSize)
        guard value <= UInt64(bytes.count) else { throw HDF5Error("\(path): malformed HDF5 file (a length of \(value) in a file of \(bytes.count) bytes)") }
        return Int(value)
    }

    /// An address field; nil for HDF5's undefined address (all bits set).
    mutating func address() throws -> Int? {
        let value = try uint(offsetSize)
        let undefined: UInt64 = offsetSize == 8 ? .max : (1 << UInt64(8 * offsetSize)) - 1
        if value == undefined { return nil }
        guard value <= UInt64(bytes.count) else { throw HDF5Error("\(path): malformed HDF5 file (an address of \(value) in a file of \(bytes.count) bytes)") }
        return Int(value)
    }

    mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, position + n <= bytes.count else { throw truncated() }
        defer { position += n }
        return bytes[position..<(position + n)]
    }

    /// Checks a 4-byte signature such as "TREE".
    mutating func expect(_ signature: String, what: String) throws {
        let found = try take(4)
        guard Array(found) == Array(signature.utf8) else { throw HDF5Error("\(path): malformed HDF5 file (\(what) lacks its \(signature) signature)") }
    }

    /// A NUL-terminated string starting at the cursor.
    mutating func cString(limit: Int = 1 << 16) throws -> String {
        var end = position
        while end < bytes.count && bytes[end] != 0 && end - position < limit { end += 1 }
        guard end < bytes.count else { throw truncated() }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }
}
