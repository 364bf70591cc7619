import Foundation

/// The value of an HDF5 attribute or dataset, as this reader understands it.
public enum HDF5Value: Equatable, Sendable {
    /// Numbers (any integer or floating-point type, widened to Double), row-major, with their shape ([] for a scalar).
    case numbers([Double], shape: [Int])
    /// Strings (fixed or variable length), row-major.
    case strings([String])

    /// The strings, or nil for numbers; an empty array of numbers (how Keras stores an empty name list) is [].
    public var stringList: [String]? {
        switch self {
        case .strings(let s): s
        case .numbers(let n, _): n.isEmpty ? [] : nil
        }
    }
}

/// An HDF5 datatype: the classes this reader decodes.
enum HDF5Datatype {
    case integer(size: Int, signed: Bool, bigEndian: Bool)
    case float(size: Int, bigEndian: Bool)
    case fixedString(size: Int)
    case variableString(size: Int)
    case other(class: Int, size: Int)

    var size: Int {
        switch self {
        case .integer(let s, _, _), .float(let s, _), .fixedString(let s), .variableString(let s), .other(_, let s): s
        }
    }

    var summary: String {
        switch self {
        case .integer(let s, let signed, _): "\(signed ? "int" : "uint")\(8 * s)"
        case .float(let s, _): "float\(8 * s)"
        case .fixedString, .variableString: "string"
        case .other(let c, _): "HDF5 type class \(c)"
        }
    }

    static func parse(_ c: inout HDF5Cursor) throws -> HDF5Datatype {
        let classAndVersion = try c.u8()
        let bits = try c.uint(3)
        let size = try c.u32()
        switch classAndVersion & 0x0F {
        case 0:
            try c.skip(4)
            return .integer(size: size, signed: bits & 0x08 != 0, bigEndian: bits & 1 != 0)
        case 1:
            try c.skip(12)
            return .float(size: size, bigEndian: bits & 1 != 0)
        case 3:
            return .fixedString(size: size)
        case 9 where bits & 0x0F == 1:
            return .variableString(size: size)
        default:
            return .other(class: Int(classAndVersion & 0x0F), size: size)
        }
    }
}

extension HDF5Object {
    /// The dataspace's shape ([] for a scalar; nil for a null dataspace).
    static func parseDataspace(_ c: inout HDF5Cursor) throws -> [Int]? {
        let version = try c.u8()
        let rank = Int(try c.u8())
        let flags = try c.u8()
        if version == 1 { try c.skip(5) } else {
            let kind = try c.u8()
            if kind == 2 { return nil }
        }
        guard rank <= 32 else { throw HDF5Error("\(c.path): malformed HDF5 file (a dataspace of rank \(rank))") }
        var shape: [Int] = []
        for _ in 0..<rank { shape.append(try c.int(c.lengthSize, limit: c.bytes.count * 8)) }
        if flags & 1 != 0 { try c.skip(rank * c.lengthSize) }
        guard shape.allSatisfy({ $0 <= c.bytes.count * 8 }) else { throw HDF5Error("\(c.path): malformed HDF5 file (a dataspace of shape \(shape))") }
        return shape
    }

    /// The object's attributes stored in its header, by name.
    public func attributes() throws -> [String: HDF5Value] {
        var out: [String: HDF5Value] = [:]
        let messages = try messages()
        for message in messages where message.type == MessageType.attributeInfo {
            var c = try body(message)
            try c.skip(1)
            let flags = try c.u8()
            if flags & 1 != 0 { try c.skip(2) }
            if try c.address() != nil {
                throw HDF5Error("\(file.path): \(name) keeps its attributes in dense storage (a fractal heap), which this reader does not read; re-save the file with h5py's default libver=\"earliest\"")
            }
        }
        for message in messages where message.type == MessageType.attribute {
            var c = try body(message)
            let version = try c.u8()
            guard (1...3).contains(version) else { throw HDF5Error("\(file.path): an attribute of \(name) has version \(version), not 1–3") }
            try c.skip(1)
            let nameSize = try c.u16(), typeSize = try c.u16(), spaceSize = try c.u16()
            if version == 3 { try c.skip(1) }
            let pad = { (n: Int) in version == 1 ? (n + 7) / 8 * 8 : n }
            let nameStart = c.position
            let attributeName = try c.cString(limit: nameSize)
            c.position = nameStart + pad(nameSize)
            var t = c
            let type = try HDF5Datatype.parse(&t)
            c.position += pad(typeSize)
            var s = c
            let shape = try Self.parseDataspace(&s)
            c.position += pad(spaceSize)
            guard let shape else { out[attributeName] = .numbers([], shape: [0]); continue }
            let count = try c.product(shape)
            out[attributeName] = try decode(type, count: count, shape: shape, bytes: try c.take(try c.product([count, type.size])), what: "attribute \(attributeName) of \(name)")
        }
        return out
    }

    /// Decodes `count` elements of `type`.
    func decode(_ type: HDF5Datatype, count: Int, shape: [Int], bytes: ArraySlice<UInt8>, what: String) throws -> HDF5Value {
        let base = bytes.startIndex
        switch type {
        case .fixedString(let size):
            return .strings((0..<count).map { i in
                let raw = bytes[(base + i * size)..<(base + (i + 1) * size)]
                return String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self).trimmingCharacters(in: .init(charactersIn: " "))
            })
        case .variableString(let size):
            guard size == 8 + file.offsetSize else { throw HDF5Error("\(file.path): \(what) has variable-length elements of \(size) bytes, not \(8 + file.offsetSize)") }
            var c = HDF5Cursor(bytes: Array(bytes), position: 0, path: file.path)
            (c.offsetSize, c.lengthSize) = (file.offsetSize, file.lengthSize)
            var strings: [String] = []
            for _ in 0..<count {
                let length = try c.u32()
                let collection = try c.uint(file.offsetSize)
                let index = try c.u32()
                guard length > 0, collection < UInt64(file.bytes.count) else { strings.append(""); continue }
                strings.append(String(decoding: try globalHeapObject(collection: Int(collection), index: index).prefix(length), as: UTF8.self))
            }
            return .strings(strings)
        case .integer, .float:
            return .numbers(try numbers(type, count: count, bytes: bytes, what: what), shape: shape)
        case .other(let c, _):
            throw HDF5Error("\(file.path): \(what) has HDF5 type class \(c), which this reader does not decode")
        }
    }

    /// Numbers of an integer or floating-point type, widened to Double.
    func numbers(_ type: HDF5Datatype, count: Int, bytes: ArraySlice<UInt8>, what: String) throws -> [Double] {
        let base = bytes.startIndex
        guard bytes.count >= count * type.size else { throw HDF5Error("\(file.path): malformed HDF5 file (\(what) is short of data)") }
        func raw(_ i: Int, _ size: Int, _ bigEndian: Bool) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<size { v |= UInt64(bytes[base + i * size + (bigEndian ? size - 1 - k : k)]) << (8 * UInt64(k)) }
            return v
        }
        switch type {
        case .float(4, let be): return (0..<count).map { Double(Float(bitPattern: UInt32(raw($0, 4, be)))) }
        case .float(8, let be): return (0..<count).map { Double(bitPattern: raw($0, 8, be)) }
        case .float(2, let be): return (0..<count).map { Double(Float(Self.half(UInt16(raw($0, 2, be))))) }
        case .integer(let size, let signed, let be) where [1, 2, 4, 8].contains(size):
            return (0..<count).map { i in
                let v = raw(i, size, be)
                guard signed, size < 8 else { return signed ? Double(Int64(bitPattern: v)) : Double(v) }
                let shift = UInt64(64 - 8 * size)
                return Double(Int64(bitPattern: v << shift) >> Int64(shift))
            }
        default:
            throw HDF5Error("\(file.path): \(what) is \(type.summary), which this reader does not decode")
        }
    }

    private static func half(_ h: UInt16) -> Float {
        let sign: Float = h & 0x8000 != 0 ? -1 : 1
        let exponent = Int((h >> 10) & 0x1F), fraction = Float(h & 0x3FF)
        if exponent == 0 { return sign * fraction * pow(2, -24) }
        if exponent == 31 { return fraction == 0 ? sign * .infinity : .nan }
        return sign * (1 + fraction / 1024) * pow(2, Float(exponent - 15))
    }

    /// Object `index` of the global heap collection at `collection` (variable-length data).
    private func globalHeapObject(collection: Int, index: Int) throws -> ArraySlice<UInt8> {
        var c = try file.cursor(at: collection)
        try c.expect("GCOL", what: "a global heap collection")
        try c.skip(4)
        let end = c.position - 8 + (try c.length())
        while c.position + 8 + file.lengthSize <= end {
            let objectIndex = try c.u16()
            try c.skip(6)
            let size = try c.length()
            if objectIndex == 0 { break }
            if objectIndex == index { return try c.take(size) }
            try c.skip((size + 7) / 8 * 8)
        }
        throw HDF5Error("\(file.path): malformed HDF5 file (global heap object \(index) is missing)")
    }
}
