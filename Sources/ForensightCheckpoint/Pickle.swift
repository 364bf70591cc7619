import Foundation

/// Callbacks through which a client gives meaning to persistent ids and globals.
struct UnpicklerHooks {
    /// Resolves the argument of `BINPERSID`/`PERSID`.
    var persistentLoad: (PickleValue) throws -> PickleValue = { pid in
        throw Unpickler.failure("unexpected persistent id (\(pid.kind))")
    }
    /// Calls `module.name(*arguments)`; returns nil to let the unpickler apply its
    /// default (dict/list builtins, otherwise an opaque `PickleObject`).
    var call: (_ module: String, _ name: String, _ arguments: [PickleValue]) throws -> PickleValue? = { _, _, _ in nil }
}

/// A minimal pickle virtual machine for protocols 0-5 (binary opcodes, plus the few
/// text opcodes a protocol-0/1 stream is likely to contain).
///
/// It executes opcodes from `bytes[range]` until `STOP`. Every length and index read
/// from the stream is checked against the remaining input, each opcode consumes at
/// least one byte (so it always terminates), and the memo is a dictionary (so a bogus
/// index cannot force a huge allocation). Out-of-band buffers and extension registries
/// are not supported.
final class Unpickler {
    private let bytes: UnsafeRawBufferPointer
    private let end: Int
    private let hooks: UnpicklerHooks
    /// Offset of the next byte to execute; after `load`, the byte after `STOP`.
    private(set) var position: Int
    private var stack: [PickleValue] = []
    private var metastack: [[PickleValue]] = []
    private var memo: [Int: PickleValue] = [:]

    init(bytes: UnsafeRawBufferPointer, range: Range<Int>, hooks: UnpicklerHooks = UnpicklerHooks()) {
        self.bytes = bytes
        self.end = min(range.upperBound, bytes.count)
        self.position = max(0, range.lowerBound)
        self.hooks = hooks
    }

    static func failure(_ reason: String) -> CheckpointError {
        CheckpointError(operation: "unpickling", reason: reason)
    }

    /// Runs one pickle to `STOP` and hands the result to `body`. Afterwards the object
    /// graph is dismantled iteratively, so deeply nested or cyclic input cannot overflow
    /// the stack or leak when it is released.
    func load<T>(_ body: (PickleValue) throws -> T) throws -> T {
        var result: PickleValue = .none
        defer { release(extra: result) }
        result = try run()
        return try body(result)
    }

    // MARK: - Execution

    private func run() throws -> PickleValue {
        while true {
            let at = position
            let opcode = try byte()
            switch opcode {
            case 0x80: // PROTO
                let version = try byte()
                guard version <= 5 else { throw Self.failure("unsupported pickle protocol \(version)") }
            case 0x95: _ = try length(8) // FRAME: only a buffering hint; its length is validated and ignored
            case 0x2E: return try pop() // STOP
            case 0x28: metastack.append(stack); stack = [] // MARK
            case 0x30: if stack.isEmpty { _ = try popMark() } else { _ = try pop() } // POP
            case 0x31: _ = try popMark() // POP_MARK
            case 0x32: stack.append(try top()) // DUP
            case 0x4E: stack.append(.none) // NONE
            case 0x88: stack.append(.bool(true)) // NEWTRUE
            case 0x89: stack.append(.bool(false)) // NEWFALSE
            case 0x4A: stack.append(.int(Int(Int32(bitPattern: UInt32(try unsigned(4)))))) // BININT
            case 0x4B: stack.append(.int(Int(try unsigned(1)))) // BININT1
            case 0x4D: stack.append(.int(Int(try unsigned(2)))) // BININT2
            case 0x8A: stack.append(integer(try take(try length(1)))) // LONG1
            case 0x8B: stack.append(integer(try take(try length(4)))) // LONG4
            case 0x47: stack.append(.float(Double(bitPattern: try bigEndian64()))) // BINFLOAT
            case 0x49: stack.append(try textInt(try line())) // INT
            case 0x4C: stack.append(try textInt(String(try line().prefix { $0 != "L" }))) // LONG
            case 0x46: // FLOAT
                guard let value = Double(try line()) else { throw Self.failure("bad FLOAT at \(at)") }
                stack.append(.float(value))
            case 0x58: stack.append(.string(try utf8(try take(try length(4))))) // BINUNICODE
            case 0x8C: stack.append(.string(try utf8(try take(try length(1))))) // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(try utf8(try take(try length(8))))) // BINUNICODE8
            case 0x54: stack.append(.string(latin1(try take(try length(4))))) // BINSTRING
            case 0x55: stack.append(.string(latin1(try take(try length(1))))) // SHORT_BINSTRING
            case 0x42: stack.append(.bytes(Array(try take(try length(4))))) // BINBYTES
            case 0x43: stack.append(.bytes(Array(try take(try length(1))))) // SHORT_BINBYTES
            case 0x8E, 0x96: stack.append(.bytes(Array(try take(try length(8))))) // BINBYTES8, BYTEARRAY8
            case 0x7D: stack.append(.dict(PickleDict())) // EMPTY_DICT
            case 0x5D, 0x8F: stack.append(.list(PickleList())) // EMPTY_LIST, EMPTY_SET
            case 0x29: stack.append(.tuple(PickleList())) // EMPTY_TUPLE
            case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
                let count = Int(opcode - 0x84)
                guard stack.count >= count else { throw Self.failure("stack underflow at \(at)") }
                let items = Array(stack.suffix(count))
                stack.removeLast(count)
                stack.append(.tuple(PickleList(items)))
            case 0x74: stack.append(.tuple(PickleList(try popMark()))) // TUPLE
            case 0x6C, 0x91: stack.append(.list(PickleList(try popMark()))) // LIST, FROZENSET
            case 0x64: // DICT
                let dict = PickleDict()
                try setItems(try popMark(), into: dict)
                stack.append(.dict(dict))
            case 0x61: // APPEND
                let value = try pop()
                try list(try top()).items.append(value)
            case 0x65, 0x90: // APPENDS, ADDITEMS
                let items = try popMark()
                try list(try top()).items.append(contentsOf: items)
            case 0x73: // SETITEM
                let value = try pop(), key = try pop()
                try setItems([key, value], into: try dict(try top()))
            case 0x75: // SETITEMS
                let items = try popMark()
                try setItems(items, into: try dict(try top()))
            case 0x71: try put(Int(try unsigned(1))) // BINPUT
            case 0x72: try put(Int(try unsigned(4))) // LONG_BINPUT
            case 0x94: try put(memo.count) // MEMOIZE
            case 0x70: try put(try decimal(try line())) // PUT
            case 0x68: try get(Int(try unsigned(1))) // BINGET
            case 0x6A: try get(Int(try unsigned(4))) // LONG_BINGET
            case 0x67: try get(try decimal(try line())) // GET
            case 0x63: // GLOBAL
                let module = try line(), name = try line()
                stack.append(.global(module: module, name: name))
            case 0x93: // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard case .string(let nameText) = name, case .string(let moduleText) = module else {
                    throw Self.failure("STACK_GLOBAL operands are not strings at \(at)")
                }
                stack.append(.global(module: moduleText, name: nameText))
            case 0x52: // REDUCE
                let arguments = try pop(), callable = try pop()
                stack.append(try call(callable, try tupleItems(arguments, at: at)))
            case 0x81: // NEWOBJ
                let arguments = try pop(), cls = try pop()
                stack.append(try call(cls, try tupleItems(arguments, at: at)))
            case 0x92: // NEWOBJ_EX (keyword arguments are ignored)
                _ = try pop()
                let arguments = try pop(), cls = try pop()
                stack.append(try call(cls, try tupleItems(arguments, at: at)))
            case 0x6F: // OBJ
                var items = try popMark()
                guard !items.isEmpty else { throw Self.failure("OBJ without a class at \(at)") }
                let cls = items.removeFirst()
                stack.append(try call(cls, items))
            case 0x62: // BUILD: only opaque objects keep their state; dict attributes
                let state = try pop() // such as OrderedDict._metadata are dropped.
                if case .object(let object) = try top() { object.state = state }
            case 0x51: stack.append(try hooks.persistentLoad(try pop())) // BINPERSID
            case 0x50: stack.append(try hooks.persistentLoad(.string(try line()))) // PERSID
            case 0x98: _ = try top() // READONLY_BUFFER: no-op on the value
            default:
                throw Self.failure("unsupported opcode 0x\(String(opcode, radix: 16)) at offset \(at)")
            }
        }
    }

    /// Applies `callable` to `arguments`: first through the hooks, then the builtin
    /// containers, otherwise as an opaque object.
    private func call(_ callable: PickleValue, _ arguments: [PickleValue]) throws -> PickleValue {
        guard case let .global(module, name) = callable else {
            return .object(PickleObject(callable: callable, arguments: arguments))
        }
        if let value = try hooks.call(module, name, arguments) { return value }
        switch (module, name) {
        case ("collections", "OrderedDict"), ("builtins", "dict"), ("__builtin__", "dict"):
            let dict = PickleDict()
            if case .list(let pairs)? = arguments.first {
                for pair in pairs.items {
                    guard case .tuple(let kv) = pair, kv.items.count == 2 else { throw Self.failure("bad dict item") }
                    dict.set(kv.items[0], kv.items[1])
                }
            }
            return .dict(dict)
        case ("builtins", "list"), ("builtins", "set"), ("builtins", "frozenset"), ("__builtin__", "set"):
            if case .list(let items)? = arguments.first { return .list(PickleList(items.items)) }
            return .list(PickleList())
        default:
            return .object(PickleObject(callable: callable, arguments: arguments))
        }
    }

    // MARK: - Stack and memo

    private func pop() throws -> PickleValue {
        guard let value = stack.popLast() else { throw Self.failure("stack underflow at offset \(position - 1)") }
        return value
    }

    private func top() throws -> PickleValue {
        guard let value = stack.last else { throw Self.failure("stack underflow at offset \(position - 1)") }
        return value
    }

    private func popMark() throws -> [PickleValue] {
        guard let previous = metastack.popLast() else { throw Self.failure("no MARK on the stack at offset \(position - 1)") }
        defer { stack = previous }
        return stack
    }

    private func put(_ index: Int) throws { memo[index] = try top() }

    private func get(_ index: Int) throws {
        guard let value = memo[index] else { throw Self.failure("memo index \(index) is not set (offset \(position - 1))") }
        stack.append(value)
    }

    private func list(_ value: PickleValue) throws -> PickleList {
        guard case .list(let list) = value else { throw Self.failure("cannot append to \(value.kind) at offset \(position - 1)") }
        return list
    }

    private func dict(_ value: PickleValue) throws -> PickleDict {
        guard case .dict(let dict) = value else { throw Self.failure("cannot set items on \(value.kind) at offset \(position - 1)") }
        return dict
    }

    private func setItems(_ items: [PickleValue], into dict: PickleDict) throws {
        guard items.count % 2 == 0 else { throw Self.failure("odd number of dict items at offset \(position - 1)") }
        for pair in stride(from: 0, to: items.count, by: 2) { dict.set(items[pair], items[pair + 1]) }
    }

    private func tupleItems(_ value: PickleValue, at offset: Int) throws -> [PickleValue] {
        guard case .tuple(let tuple) = value else { throw Self.failure("call arguments are \(value.kind), not a tuple, at offset \(offset)") }
        return tuple.items
    }

    // MARK: - Reading operands

    private func byte() throws -> UInt8 {
        guard position < end else { throw Self.failure("pickle is truncated (no STOP before offset \(end))") }
        defer { position += 1 }
        return bytes[position]
    }

    /// Reads a little-endian unsigned integer of `width` bytes.
    private func unsigned(_ width: Int) throws -> UInt64 {
        let raw = try take(width)
        return raw.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    private func bigEndian64() throws -> UInt64 {
        try take(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Reads a length prefix of `width` bytes and checks it against the remaining input.
    private func length(_ width: Int) throws -> Int {
        let value = try unsigned(width)
        guard value <= UInt64(end - position) else {
            throw Self.failure("length \(value) at offset \(position - width) exceeds the \(end - position) remaining bytes")
        }
        return Int(value)
    }

    private func take(_ count: Int) throws -> Slice<UnsafeRawBufferPointer> {
        guard count >= 0, count <= end - position else {
            throw Self.failure("pickle is truncated (needed \(count) bytes at offset \(position))")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    /// Reads a newline-terminated ASCII/UTF-8 line (without the newline).
    private func line() throws -> String {
        guard let newline = bytes[position..<end].firstIndex(of: 0x0A) else {
            throw Self.failure("unterminated text operand at offset \(position)")
        }
        let text = try utf8(bytes[position..<newline])
        position = newline + 1
        return text
    }

    private func utf8(_ raw: Slice<UnsafeRawBufferPointer>) throws -> String {
        guard let text = String(bytes: raw, encoding: .utf8) else {
            throw Self.failure("invalid UTF-8 string before offset \(position)")
        }
        return text
    }

    private func latin1(_ raw: Slice<UnsafeRawBufferPointer>) -> String {
        String(String.UnicodeScalarView(raw.map { Unicode.Scalar($0) }))
    }

    private func decimal(_ text: String) throws -> Int {
        guard let value = Int(text), value >= 0 else { throw Self.failure("bad memo index '\(text)'") }
        return value
    }

    private func textInt(_ text: String) throws -> PickleValue {
        if text == "00" { return .bool(false) }
        if text == "01" { return .bool(true) }
        guard let value = Int(text) else { throw Self.failure("bad integer literal '\(text)'") }
        return .int(value)
    }

    /// Decodes a little-endian two's-complement integer (LONG1/LONG4).
    private func integer(_ raw: Slice<UnsafeRawBufferPointer>) -> PickleValue {
        var digits = Array(raw)
        // Drop redundant sign-extension bytes.
        while digits.count > 1 {
            let last = digits[digits.count - 1], previous = digits[digits.count - 2]
            guard (last == 0 && previous & 0x80 == 0) || (last == 0xFF && previous & 0x80 != 0) else { break }
            digits.removeLast()
        }
        guard digits.count <= 8 else { return .bigInt(digits) }
        guard let last = digits.last else { return .int(0) }
        var value: UInt64 = last & 0x80 != 0 ? ~0 : 0
        for digit in digits.reversed() { value = value << 8 | UInt64(digit) }
        return .int(Int(Int64(bitPattern: value)))
    }

    // MARK: - Teardown

    /// Empties every container reachable from the VM and `extra`, breaking cycles and
    /// making each container's deinitialization shallow.
    private func release(extra: PickleValue) {
        var work = stack + metastack.joined() + Array(memo.values) + [extra]
        stack = []; metastack = []; memo = [:]
        while let value = work.popLast() {
            switch value {
            case .tuple(let list), .list(let list):
                work.append(contentsOf: list.items)
                list.items = []
            case .dict(let dict):
                work.append(contentsOf: dict.removeAll())
            case .object(let object):
                work.append(object.callable)
                work.append(contentsOf: object.arguments)
                work.append(object.state)
                object.callable = .none; object.arguments = []; object.state = .none
            default:
                break
            }
        }
    }
}
