import Foundation

/// One object of an `HDF5File` (a group or a dataset), found by its object header's address.
public struct HDF5Object {
    let file: HDF5File
    /// The object header's address.
    public let address: Int
    /// Its path in the file, for messages.
    public let name: String

    /// One header message: its type and where its body lies.
    struct Message { var type: Int; var start: Int; var size: Int }

    /// Message types this reader understands.
    enum MessageType {
        static let dataspace = 0x01, linkInfo = 0x02, datatype = 0x03, link = 0x06, layout = 0x08, filters = 0x0B
        static let attribute = 0x0C, continuation = 0x10, symbolTable = 0x11, attributeInfo = 0x15
    }

    /// The object header's messages, continuation blocks followed (version 1 or 2 headers).
    func messages() throws -> [Message] {
        var c = try file.cursor(at: address)
        var out: [Message] = []
        var blocks: [(start: Int, end: Int)] = []
        let version: Int
        if try c.u8() == 0x4F {  // "OHDR": version 2
            c.position -= 1
            try c.expect("OHDR", what: "the object header of \(name)")
            version = Int(try c.u8())
            guard version == 2 else { throw HDF5Error("\(file.path): object header version \(version) of \(name) is not read") }
            let flags = try c.u8()
            if flags & 0x20 != 0 { try c.skip(16) }
            if flags & 0x10 != 0 { try c.skip(4) }
            let size = try c.int(1 << Int(flags & 3), limit: file.bytes.count)
            blocks.append((c.position, c.position + size))
            try parseV2(&out, &blocks, trackOrder: flags & 0x04 != 0)
        } else {
            c.position -= 1
            version = Int(try c.u8())
            guard version == 1 else { throw HDF5Error("\(file.path): malformed HDF5 file (no object header at \(address) for \(name))") }
            try c.skip(1)
            let count = try c.u16()
            try c.skip(4)
            let size = try c.u32()
            try c.skip(4)  // alignment of the first message to 8 bytes
            blocks.append((c.position, c.position + size))
            var index = 0
            while index < blocks.count && out.count < count {
                guard index < 64 else { throw HDF5Error("\(file.path): malformed HDF5 file (too many continuation blocks in \(name))") }
                var m = HDF5Cursor(bytes: file.bytes, position: blocks[index].start, path: file.path)
                (m.offsetSize, m.lengthSize) = (file.offsetSize, file.lengthSize)
                while m.position + 8 <= blocks[index].end && out.count < count {
                    let type = try m.u16(), size = try m.u16()
                    try m.skip(4)
                    let message = Message(type: type, start: m.position, size: size)
                    try m.skip(size)
                    try record(message, into: &out, blocks: &blocks, signature: nil)
                }
                index += 1
            }
        }
        return out
    }

    private func parseV2(_ out: inout [Message], _ blocks: inout [(start: Int, end: Int)], trackOrder: Bool) throws {
        var index = 0
        while index < blocks.count {
            guard index < 64 else { throw HDF5Error("\(file.path): malformed HDF5 file (too many continuation blocks in \(name))") }
            var m = HDF5Cursor(bytes: file.bytes, position: blocks[index].start, path: file.path)
            (m.offsetSize, m.lengthSize) = (file.offsetSize, file.lengthSize)
            let headerSize = trackOrder ? 6 : 4
            while m.position + headerSize <= blocks[index].end - (index == 0 ? 0 : 4) {
                let type = Int(try m.u8()), size = try m.u16()
                try m.skip(1 + (trackOrder ? 2 : 0))
                let message = Message(type: type, start: m.position, size: size)
                try m.skip(size)
                try record(message, into: &out, blocks: &blocks, signature: "OCHK")
            }
            index += 1
        }
    }

    /// Keeps a message; a continuation message adds the block it points to.
    private func record(_ message: Message, into out: inout [Message], blocks: inout [(start: Int, end: Int)], signature: String?) throws {
        guard message.type == MessageType.continuation else { out.append(message); return }
        var c = try body(message)
        guard let at = try c.address() else { return }
        let length = try c.length()
        var block = try file.cursor(at: at)
        if let signature { try block.expect(signature, what: "a continuation block of \(name)") }
        let end = file.baseAddress + at + length
        guard end <= file.bytes.count else { throw block.truncated() }
        blocks.append((block.position, end))
    }

    /// A cursor over a message's body.
    func body(_ message: Message) throws -> HDF5Cursor {
        guard message.start + message.size <= file.bytes.count else { throw HDF5Error("\(file.path): malformed or truncated HDF5 file (a message of \(name) runs past the end)") }
        var c = HDF5Cursor(bytes: file.bytes, position: message.start, path: file.path)
        (c.offsetSize, c.lengthSize) = (file.offsetSize, file.lengthSize)
        return c
    }

    // MARK: Groups

    /// The group's members (name → object header address), in the order stored.
    public func members() throws -> [(name: String, address: Int)] {
        let messages = try messages()
        var out: [(String, Int)] = []
        if let table = messages.first(where: { $0.type == MessageType.symbolTable }) {
            var c = try body(table)
            guard let tree = try c.address(), let heap = try c.address() else { return [] }
            let heapData = try localHeapData(at: heap)
            var visited = Set<Int>()
            try walkGroupTree(at: tree, heapData: heapData, into: &out, visited: &visited)
            return out
        }
        for message in messages where message.type == MessageType.linkInfo {
            var c = try body(message)
            try c.skip(1)
            let flags = try c.u8()
            if flags & 1 != 0 { try c.skip(8) }
            if try c.address() != nil {
                throw HDF5Error("\(file.path): group \(name) keeps its links in dense storage (a fractal heap), which this reader does not read; re-save the file with h5py's default libver=\"earliest\" (h5py.File(..., libver=\"earliest\")) or with fewer than 9 members per group")
            }
        }
        for message in messages where message.type == MessageType.link {
            if let link = try parseLink(message) { out.append(link) }
        }
        return out
    }

    /// The member named `child`, if any.
    public func child(_ child: String) throws -> HDF5Object? {
        try members().first { $0.name == child }.map { HDF5Object(file: file, address: $0.address, name: name == "/" ? "/" + child : name + "/" + child) }
    }

    private func localHeapData(at address: Int) throws -> Int {
        var c = try file.cursor(at: address)
        try c.expect("HEAP", what: "the local heap of group \(name)")
        try c.skip(4)
        _ = try c.length()
        _ = try c.length()
        guard let data = try c.address() else { throw HDF5Error("\(file.path): malformed HDF5 file (group \(name)'s heap has no data)") }
        return data
    }

    private func walkGroupTree(at address: Int, heapData: Int, into out: inout [(String, Int)], visited: inout Set<Int>) throws {
        guard visited.insert(address).inserted, visited.count < 100_000 else { throw HDF5Error("\(file.path): malformed HDF5 file (a loop in group \(name)'s B-tree)") }
        var c = try file.cursor(at: address)
        try c.expect("TREE", what: "a B-tree node of group \(name)")
        let type = try c.u8(), level = try c.u8()
        guard type == 0 else { throw HDF5Error("\(file.path): malformed HDF5 file (group \(name)'s B-tree has node type \(type))") }
        let entries = try c.u16()
        try c.skip(2 * file.offsetSize)
        for _ in 0..<entries {
            _ = try c.length()  // key: a heap offset
            guard let child = try c.address() else { continue }
            if level > 0 { try walkGroupTree(at: child, heapData: heapData, into: &out, visited: &visited); continue }
            var node = try file.cursor(at: child)
            try node.expect("SNOD", what: "a symbol table node of group \(name)")
            try node.skip(2)
            let symbols = try node.u16()
            for _ in 0..<symbols {
                let nameOffset = try node.length()
                let objectAddress = try node.address()
                try node.skip(4 + 4 + 16)
                var n = try file.cursor(at: heapData + nameOffset)
                let member = try n.cString()
                if let objectAddress { out.append((member, objectAddress)) }
            }
        }
    }

    /// A link message's name and target; nil for soft and external links.
    private func parseLink(_ message: Message) throws -> (String, Int)? {
        var c = try body(message)
        guard try c.u8() == 1 else { throw HDF5Error("\(file.path): a link message of \(name) has an unknown version") }
        let flags = try c.u8()
        let linkType = flags & 0x08 != 0 ? try c.u8() : 0
        if flags & 0x04 != 0 { try c.skip(8) }
        if flags & 0x10 != 0 { try c.skip(1) }
        let nameLength = try c.int(1 << Int(flags & 3), limit: file.bytes.count)
        let linkName = String(decoding: try c.take(nameLength), as: UTF8.self)
        guard linkType == 0, let target = try c.address() else { return nil }
        return (linkName, target)
    }
}
