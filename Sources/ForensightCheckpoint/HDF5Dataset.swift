import Foundation

extension HDF5Object {
    /// Whether this object is a dataset (its header has a data layout message).
    public var isDataset: Bool { ((try? messages()) ?? []).contains { $0.type == MessageType.layout } }

    /// The dataset's values as Float (any integer or floating-point type), row-major, with its shape.
    public func readFloats() throws -> (values: [Float], shape: [Int]) {
        let (values, shape) = try readNumbers()
        return (values.map { Float($0) }, shape)
    }

    /// The dataset's values (numbers or strings).
    public func read() throws -> HDF5Value {
        let messages = try messages()
        let (type, shape) = try typeAndShape(messages)
        let count = try file.cursor(at: 0).product(shape)
        let raw = try rawData(messages, type: type, shape: shape)
        return try decode(type, count: count, shape: shape, bytes: raw[...], what: "dataset \(name)")
    }

    private func readNumbers() throws -> ([Double], [Int]) {
        let messages = try messages()
        let (type, shape) = try typeAndShape(messages)
        switch type {
        case .integer, .float: break
        default: throw HDF5Error("\(file.path): dataset \(name) is \(type.summary), not numbers")
        }
        let raw = try rawData(messages, type: type, shape: shape)
        return (try numbers(type, count: try file.cursor(at: 0).product(shape), bytes: raw[...], what: "dataset \(name)"), shape)
    }

    private func typeAndShape(_ messages: [Message]) throws -> (HDF5Datatype, [Int]) {
        guard let typeMessage = messages.first(where: { $0.type == MessageType.datatype }),
              let spaceMessage = messages.first(where: { $0.type == MessageType.dataspace }) else {
            throw HDF5Error("\(file.path): \(name) is not a dataset (a group, or a dataset without type or shape)")
        }
        var t = try body(typeMessage), s = try body(spaceMessage)
        let type = try HDF5Datatype.parse(&t)
        let shape = try Self.parseDataspace(&s) ?? [0]
        guard type.size > 0, let total = try? file.cursor(at: 0).product(shape + [type.size]), total <= file.bytes.count * 64 else {
            throw HDF5Error("\(file.path): malformed HDF5 file (dataset \(name) of shape \(shape) cannot fit the file)")
        }
        return (type, shape)
    }

    /// The dataset's bytes in row-major order (chunks assembled; unwritten chunks are zero).
    private func rawData(_ messages: [Message], type: HDF5Datatype, shape: [Int]) throws -> [UInt8] {
        let total = try file.cursor(at: 0).product(shape + [type.size])
        if let filters = messages.first(where: { $0.type == MessageType.filters }) {
            var c = try body(filters)
            let version = try c.u8()
            let count = try c.u8()
            if count > 0 {
                if version == 1 { try c.skip(6) }
                let id = try c.u16()
                throw HDF5Error("\(file.path): dataset \(name) is stored with HDF5 filter \(id) (\(id == 1 ? "gzip" : id == 2 ? "shuffle" : id == 32001 ? "blosc" : "compression")), which this reader does not decode; re-save it without compression")
            }
        }
        guard let layout = messages.first(where: { $0.type == MessageType.layout }) else {
            throw HDF5Error("\(file.path): \(name) is a group, not a dataset")
        }
        var c = try body(layout)
        let version = try c.u8()
        guard version == 3 || version == 4 else {
            throw HDF5Error("\(file.path): dataset \(name) has data layout version \(version), which this reader does not read (versions 3 and 4 are)")
        }
        let layoutClass = try c.u8()
        switch layoutClass {
        case 0:
            let size = try c.u16()
            return try exact(Array(try c.take(size)), total)
        case 1:
            guard let at = try c.address() else { return [UInt8](repeating: 0, count: total) }
            let size = try c.length()
            var d = try file.cursor(at: at)
            return try exact(Array(try d.take(min(size, total))), total)
        case 2:
            return try chunked(&c, version: Int(version), type: type, shape: shape)
        default:
            throw HDF5Error("\(file.path): dataset \(name) has layout class \(layoutClass) (virtual?), which this reader does not read")
        }
    }

    private func exact(_ bytes: [UInt8], _ total: Int) throws -> [UInt8] {
        guard bytes.count == total else { throw HDF5Error("\(file.path): malformed HDF5 file (dataset \(name) holds \(bytes.count) bytes, its shape needs \(total))") }
        return bytes
    }

    private func chunked(_ c: inout HDF5Cursor, version: Int, type: HDF5Datatype, shape: [Int]) throws -> [UInt8] {
        let check = try file.cursor(at: 0)
        var out = [UInt8](repeating: 0, count: try check.product(shape + [type.size]))
        var chunk: [Int] = []
        if version == 3 {
            let rank = Int(try c.u8()) - 1
            guard rank == shape.count else { throw HDF5Error("\(file.path): malformed HDF5 file (chunks of dataset \(name) have rank \(rank), the data \(shape.count))") }
            let tree = try c.address()
            for _ in 0..<rank { chunk.append(try c.u32()) }
            _ = try check.product(chunk + [type.size])
            guard let tree else { return out }
            var visited = Set<Int>()
            try walkChunkTree(at: tree, chunk: chunk, shape: shape, elementSize: type.size, into: &out, visited: &visited)
            return out
        }
        let flags = try c.u8()
        let rank = Int(try c.u8()) - 1
        let encoded = Int(try c.u8())
        guard rank == shape.count else { throw HDF5Error("\(file.path): malformed HDF5 file (chunks of dataset \(name) have rank \(rank), the data \(shape.count))") }
        for _ in 0..<rank { chunk.append(try c.int(encoded, limit: 1 << 32)) }
        try c.skip(encoded)
        _ = try check.product(chunk + [type.size])
        guard chunk.allSatisfy({ $0 > 0 }) else { throw HDF5Error("\(file.path): malformed HDF5 file (dataset \(name) has an empty chunk)") }
        let index = try c.u8()
        switch index {
        case 1:  // one chunk holding the whole dataset
            if flags & 2 != 0 { try c.skip(file.lengthSize + 4) }
            guard let at = try c.address() else { return out }
            try place(at: at, offsets: [Int](repeating: 0, count: rank), chunk: chunk, shape: shape, elementSize: type.size, into: &out)
        case 2:  // implicit: every chunk allocated, in row-major chunk order
            guard var at = try c.address() else { return out }
            let grid = zip(shape, chunk).map { ($0 + $1 - 1) / max($1, 1) }
            let chunkBytes = chunk.reduce(1, *) * type.size
            for flat in 0..<grid.reduce(1, *) {
                var rest = flat, offsets = [Int](repeating: 0, count: rank)
                for d in stride(from: rank - 1, through: 0, by: -1) { offsets[d] = rest % grid[d] * chunk[d]; rest /= grid[d] }
                try place(at: at, offsets: offsets, chunk: chunk, shape: shape, elementSize: type.size, into: &out)
                at += chunkBytes
            }
        default:
            throw HDF5Error("\(file.path): dataset \(name) indexes its chunks with HDF5 index type \(index) (fixed/extensible array or B-tree v2, from libver=\"latest\"), which this reader does not read; re-save it with h5py's default libver or without chunks")
        }
        return out
    }

    private func walkChunkTree(at address: Int, chunk: [Int], shape: [Int], elementSize: Int, into out: inout [UInt8], visited: inout Set<Int>) throws {
        guard visited.insert(address).inserted, visited.count < 1_000_000 else { throw HDF5Error("\(file.path): malformed HDF5 file (a loop in the chunk B-tree of \(name))") }
        var c = try file.cursor(at: address)
        try c.expect("TREE", what: "a chunk B-tree node of \(name)")
        let type = try c.u8(), level = try c.u8()
        guard type == 1 else { throw HDF5Error("\(file.path): malformed HDF5 file (the chunk B-tree of \(name) has node type \(type))") }
        let entries = try c.u16()
        try c.skip(2 * file.offsetSize)
        for _ in 0..<entries {
            try c.skip(4 + 4)  // chunk size, filter mask
            var offsets: [Int] = []
            for _ in 0..<shape.count { offsets.append(try c.int(8)) }
            try c.skip(8)  // the element-size dimension
            guard let child = try c.address() else { continue }
            if level > 0 {
                try walkChunkTree(at: child, chunk: chunk, shape: shape, elementSize: elementSize, into: &out, visited: &visited)
            } else {
                try place(at: child, offsets: offsets, chunk: chunk, shape: shape, elementSize: elementSize, into: &out)
            }
        }
    }

    /// Copies one chunk (stored whole, `chunk` elements per axis) at dataset position `offsets` into `out`, clipped
    /// to the dataset's bounds.
    private func place(at address: Int, offsets: [Int], chunk: [Int], shape: [Int], elementSize: Int, into out: inout [UInt8]) throws {
        let rank = shape.count
        guard rank > 0 else { var c = try file.cursor(at: address); out = Array(try c.take(elementSize)); return }
        guard zip(offsets, shape).allSatisfy({ $0 >= 0 && $0 < max($1, 1) }) || shape.contains(0) else {
            throw HDF5Error("\(file.path): malformed HDF5 file (a chunk of \(name) at \(offsets) lies outside its shape \(shape))")
        }
        var c = try file.cursor(at: address)
        guard chunk.count == rank, chunk.allSatisfy({ $0 > 0 }) else { throw HDF5Error("\(file.path): malformed HDF5 file (dataset \(name) has an empty chunk)") }
        let stored = try c.take(try c.product(chunk + [elementSize]))
        let base = stored.startIndex
        let rowLength = chunk[rank - 1], rowCopy = min(rowLength, shape[rank - 1] - offsets[rank - 1]) * elementSize
        let rows = chunk.dropLast().reduce(1, *)
        for row in 0..<rows {
            var rest = row, target = 0, inside = true, step = 1
            var index = [Int](repeating: 0, count: rank - 1)
            for d in stride(from: rank - 2, through: 0, by: -1) { index[d] = rest % chunk[d]; rest /= chunk[d] }
            for d in stride(from: rank - 1, through: 0, by: -1) {
                let position = (d == rank - 1 ? 0 : index[d]) + offsets[d]
                if position >= shape[d] { inside = false }
                target += position * step
                step *= shape[d]
            }
            guard inside, rowCopy > 0 else { continue }
            let source = base + row * rowLength * elementSize
            out.replaceSubrange((target * elementSize)..<(target * elementSize + rowCopy), with: stored[source..<(source + rowCopy)])
        }
    }
}
