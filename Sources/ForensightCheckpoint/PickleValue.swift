import Foundation

/// A value produced by `Unpickler`.
///
/// Containers are reference types: pickle memoizes a container and mutates it later
/// (e.g. `EMPTY_DICT`, `BINPUT`, ..., `SETITEMS`), so every copy must see the mutation.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer wider than 64 bits: minimal little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(PickleList)
    case list(PickleList)
    case dict(PickleDict)
    /// A class or function reference from `GLOBAL`/`STACK_GLOBAL`.
    case global(module: String, name: String)
    /// An instance of a class the unpickler does not know (kept, not interpreted).
    case object(PickleObject)
    /// A value produced by a hook (e.g. a torch storage or tensor).
    case external(AnyObject)

    /// A short name of the value's kind, for error messages.
    var kind: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case let .global(module, name): "global \(module).\(name)"
        case .object: "object"
        case .external(let object): String(describing: type(of: object))
        }
    }
}

/// Items of a list, tuple or set.
final class PickleList {
    var items: [PickleValue]
    init(_ items: [PickleValue] = []) { self.items = items }
}

/// An insertion-ordered dictionary. String and integer keys are deduplicated as in
/// Python; other keys are kept as given.
final class PickleDict {
    private(set) var keys: [PickleValue] = []
    private(set) var values: [PickleValue] = []
    private var index: [HashKey: Int] = [:]

    private enum HashKey: Hashable { case string(String), int(Int) }

    private static func hashKey(_ key: PickleValue) -> HashKey? {
        switch key {
        case .string(let text): .string(text)
        case .int(let number): .int(number)
        case .bool(let flag): .int(flag ? 1 : 0)
        default: nil
        }
    }

    /// Sets `value` for `key`, replacing an existing equal key in place.
    func set(_ key: PickleValue, _ value: PickleValue) {
        if let hash = Self.hashKey(key) {
            if let existing = index[hash] { values[existing] = value; return }
            index[hash] = keys.count
        }
        keys.append(key)
        values.append(value)
    }

    /// The value for string key `key`, if present.
    subscript(key: String) -> PickleValue? { index[.string(key)].map { values[$0] } }

    /// Removes every entry and returns the keys and values that were held.
    func removeAll() -> [PickleValue] {
        defer { keys = []; values = []; index = [:] }
        return keys + values
    }
}

/// An object built by `REDUCE`/`NEWOBJ`/`OBJ` from a callable the unpickler does not
/// interpret, with the state given to it by `BUILD`.
final class PickleObject {
    var callable: PickleValue
    var arguments: [PickleValue]
    var state: PickleValue = .none
    init(callable: PickleValue, arguments: [PickleValue]) {
        self.callable = callable
        self.arguments = arguments
    }
}
