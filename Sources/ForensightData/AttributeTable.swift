import Foundation

/// Per-file attributes a dataset ships beside its labels, e.g. FairFace's `attributes.csv`
/// (`path,age,gender,race`): read so that `evaluate` and `report` can break any metric down by group.
public enum AttributeTable {
    /// The conventional file name inside a dataset folder.
    public static let fileName = "attributes.csv"

    /// Attributes by absolute media path, from `attributes.csv` in `folder` (paths resolved against the folder);
    /// nil when the folder has no such file. Every column but `path` is an attribute; empty cells are left out.
    public static func load(folder: String) throws -> [String: [String: String]]? {
        guard DatasetFiles.isDirectory(folder) else { return nil }
        let file = DatasetFiles.absolute(folder) + "/" + fileName
        guard DatasetFiles.isFile(file) else { return nil }
        guard let text = String(data: try DatasetFiles.read(file, what: "the attribute table"), encoding: .utf8) else {
            throw DatasetError(.malformedList, path: file, reason: "not UTF-8 text")
        }
        let records = try CSV.parse(text, file: file)
        guard let header = records.first?.fields.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }),
              let pathColumn = header.firstIndex(of: "path") else {
            throw DatasetError(.malformedList, path: file, reason: "line 1: header lacks column \"path\"")
        }
        let base = DatasetFiles.absolute(folder)
        var table: [String: [String: String]] = [:]
        for record in records.dropFirst() where record.fields.count == header.count {
            var attributes: [String: String] = [:]
            for (i, name) in header.enumerated() where i != pathColumn {
                let value = record.fields[i].trimmingCharacters(in: .whitespaces)
                if !value.isEmpty { attributes[name] = value }
            }
            table[DatasetFiles.resolve(record.fields[pathColumn], against: base)] = attributes
        }
        return table
    }
}
