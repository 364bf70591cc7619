import Foundation

/// JSON Lines reading and writing of manifests: one `Sample` object per line, UTF-8, `\n` line ends.
extension Manifest {
    /// The manifest as JSON Lines: one compact object per sample, a final newline. Keys come in DESIGN §4 order
    /// (`id, path, label, method, dataset, video_id, identity, split, frame_index`, each present, null when unset),
    /// then `source_identity`, `original_video_id` and `landmarks` (face crops, 2 decimals) when set — the same bytes on every run and platform.
    public func jsonLines() -> Data {
        var text = ""
        text.reserveCapacity(samples.count * 200)
        for s in samples {
            text += "{\"id\":" + Self.json(s.id) + ",\"path\":" + Self.json(s.path) + ",\"label\":" + String(s.label)
            text += ",\"method\":" + Self.json(s.method) + ",\"dataset\":" + Self.json(s.dataset)
            text += ",\"video_id\":" + Self.json(s.videoID) + ",\"identity\":" + Self.json(s.identity)
            text += ",\"split\":" + Self.json(s.split) + ",\"frame_index\":" + (s.frameIndex.map(String.init) ?? "null")
            if let v = s.sourceIdentity { text += ",\"source_identity\":" + Self.json(v) }
            if let v = s.originalVideoID { text += ",\"original_video_id\":" + Self.json(v) }
            if let v = s.landmarks { text += ",\"landmarks\":[" + v.map { String(format: "%.2f", $0) }.joined(separator: ",") + "]" }
            text += "}\n"
        }
        return Data(text.utf8)
    }

    /// A JSON string literal (RFC 8259 escaping: quote, backslash and control characters), or `null`.
    static func json(_ value: String?) -> String {
        guard let value else { return "null" }
        var out = "\""
        for u in value.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    /// Writes the manifest as JSON Lines to `path`, atomically: readers see the old file or the complete new one,
    /// never a partial write. Missing parent folders are created.
    public func write(to path: String) throws {
        let url = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try jsonLines().write(to: url, options: .atomic)
        } catch let error as DatasetError {
            throw error
        } catch {
            throw DatasetError(.io, path: path, reason: "cannot write the manifest: \(error.localizedDescription)")
        }
    }

    /// Parses JSON Lines. Blank lines are skipped; a bad line is an error naming its line number and key.
    /// `source` names the data in errors.
    public init(jsonLines data: Data, source: String = "manifest") throws {
        let decoder = JSONDecoder()
        var samples: [Sample] = []
        var lineNumber = 0
        for line in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            var bytes = line
            if bytes.last == 0x0D { bytes = bytes.dropLast() }  // tolerate CRLF
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            do {
                samples.append(try decoder.decode(Sample.self, from: Data(bytes)))
            } catch let error as DecodingError {
                throw DatasetError(.malformedJSON, path: source, reason: "line \(lineNumber): \(Self.explain(error))")
            }
        }
        self.init(samples)
    }

    /// Reads a JSON Lines manifest from `path`.
    public static func read(from path: String) throws -> Manifest {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DatasetError(.missingFile, path: path, reason: "no such manifest file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DatasetError(.io, path: path, reason: "cannot read the manifest")
        }
        return try Manifest(jsonLines: data, source: path)
    }

    /// A one-line account of a decoding error: the key path and what was wrong there.
    static func explain(_ error: DecodingError) -> String {
        func keyPath(_ path: [CodingKey]) -> String {
            path.isEmpty ? "(top level)" : path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing key \(keyPath(context.codingPath + [key]))"
        case .typeMismatch(let type, let context):
            return "\(keyPath(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context):
            return "\(keyPath(context.codingPath)): expected \(type), found null"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "not valid JSON" }
            return "\(keyPath(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
