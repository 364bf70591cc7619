import ForensightTensor

/// What loading a state dict found: keys the model has but the checkpoint lacks, keys the checkpoint has but the
/// model lacks, and keys whose shapes differ.
public struct StateDictReport: Error, CustomStringConvertible, Equatable {
    public var missing: [String] = []
    public var unexpected: [String] = []
    public var mismatched: [(key: String, expected: [Int], found: [Int])] = []

    /// Whether every key matched in name and shape.
    public var isClean: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty }

    public var description: String {
        var lines: [String] = []
        if !missing.isEmpty { lines.append("missing \(missing.count): \(missing.joined(separator: ", "))") }
        if !unexpected.isEmpty { lines.append("unexpected \(unexpected.count): \(unexpected.joined(separator: ", "))") }
        if !mismatched.isEmpty {
            lines.append("mis-shaped \(mismatched.count): " + mismatched.map { "\($0.key) model \($0.expected) checkpoint \($0.found)" }.joined(separator: ", "))
        }
        return lines.isEmpty ? "all keys matched" : lines.joined(separator: "; ")
    }

    public static func == (a: StateDictReport, b: StateDictReport) -> Bool { a.description == b.description }
}

extension Module {
    /// Copies tensors from `source` into this model's parameters and buffers, by key.
    ///
    /// Strict loading throws the report unless every key matched; non-strict loading copies what matches and returns
    /// the report. Shapes that differ only by extents of 1 (e.g. [C] vs [1, C, 1, 1]) are not accepted.
    @discardableResult
    public func loadStateDict(_ source: [String: Tensor], strict: Bool = true) throws -> StateDictReport {
        var report = StateDictReport()
        let own = stateDict()
        let ownKeys = Set(own.map(\.0))
        report.unexpected = source.keys.filter { !ownKeys.contains($0) }.sorted()
        let optional = Set(namedModules.flatMap { path, m in m.optionalKeys.map { path.isEmpty ? $0 : "\(path).\($0)" } })
        for (key, tensor) in own {
            guard let value = source[key] else {
                if !optional.contains(key) { report.missing.append(key) }
                continue
            }
            if value.shape != tensor.shape {
                report.mismatched.append((key, tensor.shape, value.shape))
            }
        }
        if strict && !report.isClean { throw report }
        let bad = Set(report.mismatched.map(\.key))
        for (key, tensor) in own where !bad.contains(key) { if let value = source[key] { tensor.assign(value) } }
        markStateChanged()
        return report
    }

    /// Loads a `.safetensors` checkpoint (see `loadStateDict`).
    @discardableResult
    public func load(safetensors path: String, strict: Bool = true) throws -> StateDictReport {
        try loadStateDict(SafetensorsFile(path: path).allTensors(), strict: strict)
    }

    /// Saves every parameter and buffer to `path` as safetensors (`dtype` .f16 halves the size).
    public func save(safetensors path: String, dtype: SafetensorsDType = .f32, metadata: [String: String] = [:]) throws {
        try Safetensors.write(Dictionary(stateDict(), uniquingKeysWith: { a, _ in a }), to: path, dtype: dtype, metadata: metadata)
    }
}
