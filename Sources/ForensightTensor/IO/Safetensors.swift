import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failure reading or writing a safetensors file: which file, and what is wrong with it.
public struct SafetensorsError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}

/// Element type of a safetensors entry (the ones Forensight reads; all convert to Float32).
public enum SafetensorsDType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16"
    var size: Int { self == .f32 ? 4 : 2 }
}

/// A memory-mapped `.safetensors` file (format: u64 little-endian header length, JSON header, raw data).
///
/// The header is validated completely on open: every entry's dtype, shape and byte range must be consistent and
/// inside the file. Tensors are decoded (F16/BF16 widened to F32) when asked for.
public final class SafetensorsFile: @unchecked Sendable {
    /// One entry of the header.
    public struct Entry: Sendable {
        public let dtype: SafetensorsDType
        public let shape: [Int]
        let range: Range<Int>
    }

    public let path: String
    /// Names to entries.
    public let entries: [String: Entry]
    /// The `__metadata__` strings.
    public let metadata: [String: String]
    private let base: UnsafeRawPointer
    private let mappedSize: Int
    private let dataStart: Int
    /// The file whose mapping a view (`subset`) shares; nil for a file that owns its mapping.
    private let owner: SafetensorsFile?

    /// Opens and validates `path`.
    public init(path: String) throws {
        func fail(_ reason: String) -> SafetensorsError { SafetensorsError(path: path, reason: reason) }
        self.path = path
        owner = nil
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw fail("cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { throw fail("not a regular file") }
        let size = Int(info.st_size)
        guard size >= 8 else { throw fail("truncated: \(size) bytes, no header length") }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else { throw fail("cannot map file") }
        base = UnsafeRawPointer(map)
        mappedSize = size
        var ok = false
        defer { if !ok { munmap(map, size) } }
        let headerLength = Int(clamping: base.loadUnaligned(as: UInt64.self).littleEndian)
        guard headerLength > 1, headerLength <= size - 8 else { throw fail("header length \(headerLength) does not fit a file of \(size) bytes") }
        dataStart = 8 + headerLength
        let headerData = Data(bytes: base + 8, count: headerLength)
        guard let json = try? JSONSerialization.jsonObject(with: headerData), let header = json as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        var entries: [String: Entry] = [:], metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                for (k, v) in value as? [String: Any] ?? [:] { if let s = v as? String { metadata[k] = s } }
                continue
            }
            guard let fields = value as? [String: Any], let dt = fields["dtype"] as? String,
                  let shape = fields["shape"] as? [Int], let offsets = fields["data_offsets"] as? [Int], offsets.count == 2 else {
                throw fail("entry '\(name)' lacks dtype, shape or data_offsets")
            }
            guard let dtype = SafetensorsDType(rawValue: dt) else { throw fail("entry '\(name)' has unsupported dtype \(dt)") }
            guard shape.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }) else { throw fail("entry '\(name)' has bad shape \(shape)") }
            let (elements, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d); return (p, acc.1 || o)
            }
            guard !overflow, offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] - offsets[0] == elements * dtype.size else {
                throw fail("entry '\(name)': byte range \(offsets) does not hold \(shape) of \(dt)")
            }
            guard offsets[1] <= size - dataStart else { throw fail("truncated: entry '\(name)' ends past the end of the file") }
            entries[name] = Entry(dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
        }
        self.entries = entries
        self.metadata = metadata
        ok = true
    }

    /// A view of `parent`: the entries `entries` (ranges relative to the parent's data) and `metadata`.
    private init(viewOf parent: SafetensorsFile, entries: [String: Entry], metadata: [String: String]) {
        (path, self.entries, self.metadata) = (parent.path, entries, metadata)
        (base, mappedSize, dataStart, owner) = (parent.base, parent.mappedSize, parent.dataStart, parent.owner ?? parent)
    }

    deinit { if owner == nil { munmap(UnsafeMutableRawPointer(mutating: base), mappedSize) } }

    /// The entries whose names start with `prefix`, under their names without it, with `metadata` in place of the
    /// file's: a file stored inside this one (an ensemble's member), read through the same mapping without copying.
    public func subset(prefix: String, metadata: [String: String]) -> SafetensorsFile {
        var selected: [String: Entry] = [:]
        for (name, entry) in entries where name.hasPrefix(prefix) && name.count > prefix.count {
            selected[String(name.dropFirst(prefix.count))] = entry
        }
        return SafetensorsFile(viewOf: self, entries: selected, metadata: metadata)
    }

    /// Entry names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// Decodes entry `name` to a Float32 tensor.
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw SafetensorsError(path: path, reason: "no tensor named '\(name)'") }
        let out = Tensor.zeros(e.shape)
        let src = base + dataStart + e.range.lowerBound
        switch e.dtype {
        case .f32: memcpy(out.data, src, e.range.count)
        case .f16: for i in 0..<out.count { out.data[i] = floatFromHalfBits(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .bf16:
            for i in 0..<out.count {
                out.data[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
            }
        }
        return out
    }

    /// Every tensor, decoded.
    public func allTensors() throws -> [String: Tensor] {
        try Dictionary(uniqueKeysWithValues: names.map { ($0, try tensor($0)) })
    }
}

/// Writing safetensors files.
public enum Safetensors {
    /// Writes `tensors` to `path` (atomically: a temporary file renamed into place), stored as `dtype`.
    public static func write(_ tensors: [String: Tensor], to path: String, dtype: SafetensorsDType = .f32,
                             metadata: [String: String] = [:]) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let bytes = tensors[name]!.count * dtype.size
            header[name] = ["dtype": dtype.rawValue, "shape": tensors[name]!.shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var file = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        for name in names {
            let t = tensors[name]!
            switch dtype {
            case .f32: file.append(UnsafeBufferPointer(start: t.data, count: t.count))
            case .f16: file.append(contentsOf: (0..<t.count).flatMap { i -> [UInt8] in let h = halfBits(from: t.data[i]); return [UInt8(h & 0xFF), UInt8(h >> 8)] })
            case .bf16:
                file.append(contentsOf: (0..<t.count).flatMap { i -> [UInt8] in
                    let b = t.data[i].bitPattern, r = UInt16(truncatingIfNeeded: (b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16)
                    return [UInt8(r & 0xFF), UInt8(r >> 8)]
                })
            }
        }
        do {
            let tmp = path + ".tmp-\(getpid())"
            try file.write(to: URL(fileURLWithPath: tmp))
            guard rename(tmp, path) == 0 else { throw SafetensorsError(path: path, reason: "cannot move the written file into place") }
        } catch let error as SafetensorsError { throw error } catch {
            throw SafetensorsError(path: path, reason: "cannot write (\(error.localizedDescription))")
        }
    }

    /// Reads every tensor of `path` as Float32.
    public static func read(path: String) throws -> [String: Tensor] { try SafetensorsFile(path: path).allTensors() }
}

/// IEEE 754 binary16 → binary32.
public func floatFromHalfBits(_ h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31, exp = UInt32((h >> 10) & 0x1F), mant = UInt32(h & 0x3FF)
    if exp == 0 {
        if mant == 0 { return Float(bitPattern: sign) }
        let v = Float(mant) * (1.0 / 16_777_216.0)   // subnormal: mant · 2^-24
        return sign != 0 ? -v : v
    }
    if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
    return Float(bitPattern: sign | ((exp + 112) << 23) | (mant << 13))
}

/// IEEE 754 binary32 → binary16, round to nearest even, overflow to ∞.
public func halfBits(from f: Float) -> UInt16 {
    let bits = f.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    if f.isNaN { return sign | 0x7E00 }
    let a = Swift.abs(f)
    if a >= 65520 { return sign | 0x7C00 }
    if a < 6.103515625e-05 {   // subnormal half
        let m = (a * 16_777_216.0).rounded(.toNearestOrEven)
        return sign | UInt16(m)
    }
    let e = Int((bits >> 23) & 0xFF) - 127 + 15
    var mant = (bits & 0x7F_FFFF) >> 13
    let rest = bits & 0x1FFF
    var out = UInt32(e) << 10 | mant
    if rest > 0x1000 || (rest == 0x1000 && (mant & 1) == 1) { out += 1 }
    mant = 0
    return sign | UInt16(out)
}
