import Foundation

/// Storage type of a tensor read from a checkpoint.
public enum CheckpointDType: String, Sendable {
    case float32 = "F32", float16 = "F16", bfloat16 = "BF16", float64 = "F64", int64 = "I64", int32 = "I32", uint8 = "U8", int8 = "I8", bool = "BOOL"

    /// Bytes per element.
    var byteWidth: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16: 2
        case .uint8, .int8, .bool: 1
        }
    }

    /// The dtype of a storage class named in a persistent id, e.g. `FloatStorage`.
    /// `UntypedStorage` holds raw bytes and maps to `uint8`.
    init?(storageClass name: String) {
        let table: [String: CheckpointDType] = [
            "FloatStorage": .float32, "HalfStorage": .float16, "BFloat16Storage": .bfloat16,
            "DoubleStorage": .float64, "LongStorage": .int64, "IntStorage": .int32,
            "ByteStorage": .uint8, "CharStorage": .int8, "BoolStorage": .bool, "UntypedStorage": .uint8,
        ]
        guard let dtype = table[name] else { return nil }
        self = dtype
    }

    /// The dtype named by a `torch.<name>` global such as `torch.float16`.
    init?(torchName name: String) {
        let table: [String: CheckpointDType] = [
            "float32": .float32, "float": .float32, "float16": .float16, "half": .float16,
            "bfloat16": .bfloat16, "float64": .float64, "double": .float64, "int64": .int64,
            "long": .int64, "int32": .int32, "int": .int32, "uint8": .uint8, "int8": .int8, "bool": .bool,
        ]
        guard let dtype = table[name] else { return nil }
        self = dtype
    }
}

/// One tensor from a checkpoint, converted to Float32 values (row-major, contiguous, honoring storage offset and strides).
public struct CheckpointTensor: Sendable {
    /// Size of each dimension; empty for a scalar.
    public var shape: [Int]
    /// The element type the tensor had in the checkpoint.
    public var dtype: CheckpointDType
    /// The elements in row-major order, converted to Float.
    public var values: [Float]

    public init(shape: [Int], dtype: CheckpointDType, values: [Float]) {
        self.shape = shape
        self.dtype = dtype
        self.values = values
    }
}

/// Errors with what failed, the file, and why (one readable line from `description`).
public struct CheckpointError: Error, CustomStringConvertible {
    /// The step that failed, e.g. "unpickling" or "reading ZIP archive".
    public var operation: String
    /// The path or name of the checkpoint being read.
    public var file: String
    /// Why it failed.
    public var reason: String

    public init(operation: String, reason: String, file: String = "") {
        self.operation = operation
        self.reason = reason
        self.file = file
    }

    public var description: String {
        let line = "\(operation) failed for '\(file)': \(reason)"
        return String(line.map { $0.isNewline ? " " : $0 })
    }
}

public enum TorchCheckpoint {
    /// Reads a legacy (pickle + raw storages) or zip-format torch checkpoint holding a state dict (possibly nested under "state_dict"/"model" keys, or an OrderedDict), or a TorchScript archive (`torch.jit.save`: its module tree's tensors, by attribute path; the `code/` is not read). Returns tensors by dotted name.
    ///
    /// The file is memory-mapped and read in place: the pickle, the zip directory and each storage are parsed where
    /// they lie in the mapping, so only the decoded tensors take memory of their own (a 1.7 GB CLIP checkpoint is not
    /// copied first).
    public static func read(path: String) throws -> [String: CheckpointTensor] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw CheckpointError(operation: "reading file", reason: error.localizedDescription, file: path)
        }
        return try read(data: data, name: path)
    }

    /// Reads a checkpoint from memory; `name` is used only in error messages.
    public static func read(data: Data, name: String) throws -> [String: CheckpointTensor] {
        do {
            return try data.withUnsafeBytes { try CheckpointDecoder(bytes: $0).decode() }
        } catch var error as CheckpointError {
            error.file = name
            throw error
        } catch {
            throw CheckpointError(operation: "reading checkpoint", reason: "\(error)", file: name)
        }
    }
}

// MARK: - Decoding

/// A storage referenced by a persistent id; its bytes are located after unpickling.
private final class TorchStorage {
    let key: String
    let dtype: CheckpointDType
    /// Offset of this (possibly view) storage within its root storage, in bytes.
    let byteOffset: Int
    let byteCount: Int
    init(key: String, dtype: CheckpointDType, byteOffset: Int, byteCount: Int) {
        self.key = key; self.dtype = dtype; self.byteOffset = byteOffset; self.byteCount = byteCount
    }
}

/// A tensor rebuilt from the pickle, not yet materialized.
private final class TorchTensor {
    let storage: TorchStorage
    let layout: CheckpointTensorDecoding.Layout
    init(storage: TorchStorage, layout: CheckpointTensorDecoding.Layout) {
        self.storage = storage
        self.layout = layout
    }
}

private func fail(_ operation: String, _ reason: String) -> CheckpointError {
    CheckpointError(operation: operation, reason: reason)
}

/// State for decoding one checkpoint held in `bytes`.
private final class CheckpointDecoder {
    /// The pickled magic number of the legacy format, 0x1950a86a20f9469cfc6c, little-endian.
    static let legacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    let bytes: UnsafeRawBufferPointer
    /// Root storages declared by persistent ids: key -> (dtype, element count).
    var declared: [String: (dtype: CheckpointDType, count: Int)] = [:]
    var views: [String: TorchStorage] = [:]
    /// Where each root storage's bytes are, once found.
    var located: [String: Range<Int>] = [:]
    var bigEndian = false
    /// Upper bound on elements produced in total, so shared or zero-stride views of a
    /// bogus size cannot exhaust memory.
    var elementBudget: Int

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        elementBudget = 8 * bytes.count + (1 << 20)
    }

    func decode() throws -> [String: CheckpointTensor] {
        if bytes.isEmpty { throw fail("detecting format", "file is empty") }
        if ZipArchive.looksLikeZip(bytes) { return try decodeZip() }
        if bytes[0] == 0x80 { return try decodeLegacy() }
        throw fail("detecting format", "not a PyTorch checkpoint (neither a ZIP archive nor a pickle stream)")
    }

    private var hooks: UnpicklerHooks {
        UnpicklerHooks(persistentLoad: { [unowned self] in try self.storage(from: $0) },
                       call: { [unowned self] in try self.call($0, $1, $2) })
    }

    // MARK: Container formats

    private func decodeZip() throws -> [String: CheckpointTensor] {
        let zip = try ZipArchive(bytes: bytes)
        let pickles = zip.entries.filter { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }
        guard let pickle = pickles.min(by: { $0.name.count < $1.name.count }) else {
            throw fail("reading ZIP archive", "no data.pkl entry; not a torch checkpoint")
        }
        let prefix = String(pickle.name.dropLast("data.pkl".count))
        if let order = zip.entry(named: prefix + "byteorder") {
            switch String(decoding: bytes[try zip.dataRange(of: order)], as: UTF8.self) {
            case "little": bigEndian = false
            case "big": bigEndian = true
            case let other: throw fail("reading byte order", "unknown byte order '\(other)'")
            }
        }
        let unpickler = Unpickler(bytes: bytes, range: try zip.dataRange(of: pickle), hooks: hooks)
        let tensors = try unpickler.load(collectTensors)
        for key in declared.keys.sorted() {
            let expected = declared[key]!.count * declared[key]!.dtype.byteWidth
            guard let entry = zip.entry(named: prefix + "data/" + key) else {
                throw fail("locating storage", "entry '\(prefix)data/\(key)' is missing")
            }
            let range = try zip.dataRange(of: entry)
            guard range.count == expected else {
                throw fail("locating storage", "storage '\(key)' has \(range.count) bytes, expected \(expected)")
            }
            located[key] = range
        }
        return try materialize(tensors)
    }

    private func decodeLegacy() throws -> [String: CheckpointTensor] {
        var position = 0
        func unpickle<T>(_ hooks: UnpicklerHooks = UnpicklerHooks(), _ body: (PickleValue) throws -> T) throws -> T {
            let unpickler = Unpickler(bytes: bytes, range: position..<bytes.count, hooks: hooks)
            defer { position = unpickler.position }
            return try unpickler.load(body)
        }
        try unpickle { value in
            guard case .bigInt(let digits) = value, digits == Self.legacyMagic else {
                throw fail("checking magic number", "not a legacy torch checkpoint (magic number mismatch)")
            }
        }
        try unpickle { value in
            guard case .int(1001) = value else { throw fail("checking protocol version", "expected the int 1001, found \(value.kind)") }
        }
        try unpickle { value in
            if case .dict(let info) = value, case .bool(let little)? = info["little_endian"] { bigEndian = !little }
        }
        let tensors = try unpickle(hooks, collectTensors)
        let keys: [String] = try unpickle { value in
            guard case .list(let list) = value else { throw fail("reading storage keys", "expected a list, found \(value.kind)") }
            return try list.items.map {
                guard case .string(let key) = $0 else { throw fail("reading storage keys", "key is \($0.kind), not a string") }
                return key
            }
        }
        for key in keys {
            guard let root = declared[key], located[key] == nil else {
                throw fail("reading storages", "storage key '\(key)' is unknown or repeated")
            }
            guard bytes.count - position >= 8 else { throw fail("reading storages", "truncated before storage '\(key)'") }
            let raw = bytes[position..<(position + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let count = bigEndian ? raw.byteSwapped : raw
            guard count == UInt64(root.count) else {
                throw fail("reading storages", "storage '\(key)' holds \(count) elements, pickle declared \(root.count)")
            }
            position += 8
            let length = root.count * root.dtype.byteWidth
            guard length <= bytes.count - position else {
                throw fail("reading storages", "storage '\(key)' needs \(length) bytes, only \(bytes.count - position) remain")
            }
            located[key] = position..<(position + length)
            position += length
        }
        if let missing = declared.keys.sorted().first(where: { located[$0] == nil }) {
            throw fail("reading storages", "storage '\(missing)' is referenced but not stored")
        }
        guard position == bytes.count else {
            throw fail("reading storages", "\(bytes.count - position) unexpected bytes after the last storage")
        }
        return try materialize(tensors)
    }

    // MARK: Pickle hooks

    /// Resolves `('storage', storage_type, key, location, numel[, view_metadata])`.
    private func storage(from pid: PickleValue) throws -> PickleValue {
        let op = "resolving storage"
        guard case .tuple(let tuple) = pid, tuple.items.count >= 5, case .string("storage") = tuple.items[0] else {
            throw fail(op, "unsupported persistent id (\(pid.kind))")
        }
        guard case let .global(module, typeName) = tuple.items[1], module.hasPrefix("torch") else {
            throw fail(op, "storage type is \(tuple.items[1].kind)")
        }
        guard let dtype = CheckpointDType(storageClass: typeName) else { throw fail(op, "unsupported storage type \(module).\(typeName)") }
        guard case .string(let key) = tuple.items[2], case .string = tuple.items[3], case .int(let count) = tuple.items[4] else {
            throw fail(op, "malformed storage id")
        }
        guard count >= 0, count <= bytes.count / dtype.byteWidth else {
            throw fail(op, "storage '\(key)' claims \(count) elements, more than the file holds")
        }
        if let previous = declared[key] {
            guard previous.dtype == dtype, previous.count == count else { throw fail(op, "storage '\(key)' redeclared differently") }
        } else {
            declared[key] = (dtype, count)
        }
        let width = dtype.byteWidth
        if tuple.items.count > 5, case .tuple(let view) = tuple.items[5] {
            guard view.items.count == 3, case .string(let viewKey) = view.items[0], case .int(let offset) = view.items[1],
                  case .int(let size) = view.items[2], offset >= 0, size >= 0, offset <= count, size <= count - offset else {
                throw fail(op, "malformed view of storage '\(key)'")
            }
            if let existing = views[viewKey] { return .external(existing) }
            let view = TorchStorage(key: key, dtype: dtype, byteOffset: offset * width, byteCount: size * width)
            views[viewKey] = view
            return .external(view)
        }
        return .external(TorchStorage(key: key, dtype: dtype, byteOffset: 0, byteCount: count * width))
    }

    /// Interprets the torch globals a state dict uses; nil defers to the unpickler.
    private func call(_ module: String, _ name: String, _ arguments: [PickleValue]) throws -> PickleValue? {
        switch (module, name) {
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            guard arguments.count >= 4, case .external(let object) = arguments[0], let storage = object as? TorchStorage else {
                throw fail("rebuilding tensor", "\(name) needs a storage and 3 more arguments")
            }
            return .external(try tensor(storage, storage.dtype, arguments[1], arguments[2], arguments[3]))
        case ("torch._utils", "_rebuild_tensor_v3"):
            guard arguments.count >= 7, case .external(let object) = arguments[0], let storage = object as? TorchStorage,
                  case let .global(_, dtypeName) = arguments[6] else {
                throw fail("rebuilding tensor", "_rebuild_tensor_v3 needs a storage and a dtype")
            }
            guard let dtype = CheckpointDType(torchName: dtypeName) else { throw fail("rebuilding tensor", "unsupported dtype torch.\(dtypeName)") }
            return .external(try tensor(storage, dtype, arguments[1], arguments[2], arguments[3]))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let data = arguments.first else { throw fail("rebuilding parameter", "missing data") }
            return data
        case ("torch._tensor", "_rebuild_from_type_v2"):
            guard arguments.count >= 3, case let .global(innerModule, innerName) = arguments[0],
                  case .tuple(let inner) = arguments[2], let value = try call(innerModule, innerName, inner.items) else {
                throw fail("rebuilding tensor", "unsupported _rebuild_from_type_v2 arguments")
            }
            return value
        case ("torch", "Size"):
            return arguments.first ?? .tuple(PickleList())
        case ("torch._utils", _) where name.hasPrefix("_rebuild"):
            throw fail("rebuilding tensor", "unsupported tensor kind torch._utils.\(name)")
        default:
            return nil
        }
    }

    /// Validates a tensor's geometry against its storage.
    private func tensor(_ storage: TorchStorage, _ dtype: CheckpointDType, _ offsetValue: PickleValue,
                        _ shapeValue: PickleValue, _ strideValue: PickleValue) throws -> TorchTensor {
        let op = "rebuilding tensor"
        func integers(_ value: PickleValue) throws -> [Int] {
            guard case .tuple(let tuple) = value, tuple.items.count <= 64 else { throw fail(op, "size/stride is \(value.kind), not a tuple") }
            return try tuple.items.map {
                guard case .int(let number) = $0, number >= 0 else { throw fail(op, "size/stride entry is not a non-negative int") }
                return number
            }
        }
        guard case .int(let offset) = offsetValue, offset >= 0 else { throw fail(op, "storage offset is not a non-negative int") }
        let shape = try integers(shapeValue), rawStrides = try integers(strideValue)
        guard shape.count == rawStrides.count else { throw fail(op, "size has \(shape.count) dims but stride has \(rawStrides.count)") }
        // A stride is irrelevant where the size is 0 or 1; zero it so it cannot overflow later.
        let strides = zip(shape, rawStrides).map { $0 <= 1 ? 0 : $1 }
        var count = 1, last = offset, overflow = false
        for (size, stride) in zip(shape, strides) {
            let product = count.multipliedReportingOverflow(by: size)
            let extent = (max(size, 1) - 1).multipliedReportingOverflow(by: stride)
            let sum = last.addingReportingOverflow(extent.partialValue)
            overflow = overflow || product.overflow || extent.overflow || sum.overflow
            count = product.partialValue; last = sum.partialValue
        }
        let end = last.addingReportingOverflow(1)
        let needed = end.partialValue.multipliedReportingOverflow(by: dtype.byteWidth)
        guard !overflow, !end.overflow, !needed.overflow, count == 0 || needed.partialValue <= storage.byteCount else {
            throw fail(op, "size \(shape) / stride \(strides) / offset \(offset) exceed its storage of \(storage.byteCount) bytes")
        }
        let layout = CheckpointTensorDecoding.Layout(
            dtype: dtype, offset: offset, shape: shape, strides: strides, count: count, bigEndian: bigEndian)
        return TorchTensor(storage: storage, layout: layout)
    }

    // MARK: State dict

    /// Finds the state dict in the unpickled root and lists its tensors by dotted name.
    private func collectTensors(_ root: PickleValue) throws -> [(String, TorchTensor)] {
        // A TorchScript archive (torch.jit.save) pickles the module tree: objects whose state is a dict of attributes
        // (parameters, buffers, submodules by name), so the tensors are found under the same dotted names.
        var top = root
        if case .object(let module) = root, case .dict = module.state { top = module.state }
        guard case .dict(var dict) = top else {
            throw fail("finding state dict", "top-level object is \(root.kind), not a dict (whole-module pickles are unsupported)")
        }
        for _ in 0..<4 {
            let wrapped = ["state_dict", "model_state_dict", "model"].lazy.compactMap { key -> PickleDict? in
                if case .dict(let inner)? = dict[key] { return inner } else { return nil }
            }.first
            guard let inner = wrapped else { break }
            dict = inner
        }
        var result: [(String, TorchTensor)] = []
        var visits = 0
        func flatten(_ dict: PickleDict, _ prefix: String, _ depth: Int) throws {
            guard depth < 32 else { throw fail("finding state dict", "dicts are nested too deeply") }
            for (key, value) in zip(dict.keys, dict.values) {
                visits += 1
                guard visits <= bytes.count else { throw fail("finding state dict", "too many entries") }
                let name: String
                switch key {
                case .string(let text): name = prefix + text
                case .int(let number): name = prefix + String(number)
                default: continue
                }
                switch value {
                case .external(let object): if let tensor = object as? TorchTensor { result.append((name, tensor)) }
                case .dict(let inner): try flatten(inner, name + ".", depth + 1)
                case .object(let object):
                    if case .dict(let state) = object.state { try flatten(state, name + ".", depth + 1) }
                default: continue // plain ints, strings, lists... are not tensors
                }
            }
        }
        try flatten(dict, "", 0)
        return result
    }

    // MARK: Materialization

    private func materialize(_ tensors: [(String, TorchTensor)]) throws -> [String: CheckpointTensor] {
        var result: [String: CheckpointTensor] = [:]
        for (name, tensor) in tensors {
            guard let region = located[tensor.storage.key] else { throw fail("reading tensor '\(name)'", "its storage was not found") }
            guard tensor.storage.byteOffset + tensor.storage.byteCount <= region.count else {
                throw fail("reading tensor '\(name)'", "storage view exceeds its storage")
            }
            let layout = tensor.layout
            guard layout.count <= elementBudget else { throw fail("reading tensor '\(name)'", "too many elements (\(layout.count))") }
            elementBudget -= layout.count
            var values = [Float](repeating: 0, count: layout.count)
            bytes.withUnsafeBytes { raw in
                values.withUnsafeMutableBufferPointer { out in
                    guard let start = out.baseAddress else { return }
                    CheckpointTensorDecoding.gather(layout, from: raw, base: region.lowerBound + tensor.storage.byteOffset, into: start)
                }
            }
            result[name] = CheckpointTensor(shape: layout.shape, dtype: layout.dtype, values: values)
        }
        return result
    }
}
