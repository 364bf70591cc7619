import Foundation

/// A CSV label file with a header row. Required columns: `path`, `label` (`0`/`1` or `real`/`fake`, any case).
/// Optional columns: `method`, `video_id`, `identity`, `split`, `frame_index`, `source_identity`,
/// `original_video_id`, `dataset`; other columns are ignored — so the `labels.csv` of `../shared/datasets/*`
/// (`path,label,method,source_path,source_sha1,reencoded_jpeg_q`) reads as it is.
/// ```
/// path,label,method,video_id,identity,split
/// original_youtube_c23/033.mp4,real,original_youtube,,,
/// "Deepfakes_c23/033_097.mp4",1,Deepfakes,033_097,033,train
/// ```
/// Quoting follows RFC 4180. Relative paths are resolved against `pathRoot` (default: the CSV's folder). Empty cells
/// are unset; an unset `video_id` is the file stem (or the video-named folder of a frame), an unset `identity` what
/// FF++/DFD/Celeb-DF naming encodes, or for CelebA photos (method `CelebA…`, files `<identity>_<image>.jpg`) the
/// identity prefix of the file name. Rows naming absent files are a `missingMedia` error (with `checkFiles`).
public struct CSVImporter: DatasetImporter {
    public var csvPath: String
    public var datasetName: String
    public var pathRoot: String?
    public var checkFiles: Bool

    /// `datasetName` defaults to the name of the CSV's folder (e.g. `ffpp-c23-mini`).
    public init(csvPath: String, datasetName: String? = nil, pathRoot: String? = nil, checkFiles: Bool = true) {
        self.csvPath = csvPath
        self.datasetName = datasetName ?? ((DatasetFiles.absolute(csvPath) as NSString).deletingLastPathComponent as NSString).lastPathComponent
        (self.pathRoot, self.checkFiles) = (pathRoot, checkFiles)
    }

    /// 0 or 1 for a CSV label cell, nil when it is neither 0/1 nor real/fake.
    public static func label(_ text: String) -> Int? {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "0", "real": return 0
        case "1", "fake": return 1
        default: return nil
        }
    }

    public func load() throws -> Manifest {
        let file = DatasetFiles.absolute(csvPath)
        guard let text = String(data: try DatasetFiles.read(file, what: "the CSV label file"), encoding: .utf8) else {
            throw DatasetError(.malformedList, path: file, reason: "not UTF-8 text")
        }
        let records = try CSV.parse(text, file: file)
        guard let header = records.first else { throw DatasetError(.empty, path: file, reason: "the CSV file is empty") }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        func column(_ name: String) -> Int? { names.firstIndex(of: name) }
        for required in ["path", "label"] where column(required) == nil {
            throw DatasetError(.malformedList, path: file, reason: "line 1: header lacks column \"\(required)\" (found: \(names.joined(separator: ",")))")
        }
        let rows = records.dropFirst().filter { !($0.fields.count == 1 && $0.fields[0].isEmpty) }
        if rows.isEmpty { throw DatasetError(.empty, path: file, reason: "the CSV file has a header but no rows") }
        let base = pathRoot.map(DatasetFiles.absolute) ?? (file as NSString).deletingLastPathComponent
        var samples: [Sample] = []
        for row in rows {
            guard row.fields.count == names.count else {
                throw DatasetError(.malformedList, path: file, reason: "line \(row.line): expected \(names.count) fields, found \(row.fields.count)")
            }
            func cell(_ name: String) -> String? {
                guard let i = column(name) else { return nil }
                let value = row.fields[i].trimmingCharacters(in: .whitespaces)
                return value.isEmpty ? nil : value
            }
            guard let listed = cell("path") else { throw DatasetError(.malformedList, path: file, reason: "line \(row.line): empty path") }
            guard let label = Self.label(row.fields[column("label")!]) else {
                throw DatasetError(.malformedList, path: file,
                                   reason: "line \(row.line): label \"\(row.fields[column("label")!])\" is not 0, 1, real or fake")
            }
            var frameIndex: Int?
            if let f = cell("frame_index") {
                guard let n = Int(f), n >= 0 else { throw DatasetError(.malformedList, path: file, reason: "line \(row.line): frame_index \"\(f)\" is not a count") }
                frameIndex = n
            }
            let path = DatasetFiles.resolve(listed, against: base)
            let relative = path.hasPrefix(base + "/") ? String(path.dropFirst(base.count + 1)) : path
            let described = VideoNaming.describe(relativePath: relative)
            let videoID = cell("video_id") ?? described.videoID
            let naming = cell("video_id").map(VideoNaming.recognize) ?? described.naming
            let dataset = cell("dataset") ?? datasetName
            samples.append(Sample(id: dataset + ":" + relative, path: path, label: label, method: cell("method"), dataset: dataset,
                                  videoID: videoID,
                                  identity: cell("identity") ?? naming?.identity ?? Self.celebAIdentity(method: cell("method"), path: relative),
                                  split: cell("split"),
                                  frameIndex: frameIndex, sourceIdentity: cell("source_identity") ?? naming?.sourceIdentity,
                                  originalVideoID: cell("original_video_id") ?? naming?.originalVideoID))
        }
        if checkFiles {
            let missing = DatasetFiles.absent(samples.map(\.path))
            if !missing.isEmpty { throw DatasetError.missingMedia(listedIn: file, missing: missing) }
        }
        return Manifest(samples)
    }

    /// The person of a CelebA photo renamed `<identity>_<image>.jpg` (as in `celeba-real`), when the row's method
    /// says CelebA; nil otherwise.
    static func celebAIdentity(method: String?, path: String) -> String? {
        guard let method, method.lowercased().hasPrefix("celeba") else { return nil }
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let parts = stem.split(separator: "_")
        guard parts.count == 2, parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }) else { return nil }
        return "celeba-" + parts[0]
    }
}

/// A minimal RFC 4180 reader: comma-separated fields, `"` quoting with `""` escapes, quoted line breaks, CRLF or LF.
enum CSV {
    struct Record { var line: Int; var fields: [String] }

    static func parse(_ text: String, file: String) throws -> [Record] {
        var records: [Record] = [], fields: [String] = [], field = ""
        var line = 1, recordLine = 1, inQuotes = false, wasQuoted = false
        var chars = Array(text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text)[...]
        func endField() { fields.append(field); field = ""; wasQuoted = false }
        func endRecord() { endField(); records.append(Record(line: recordLine, fields: fields)); fields = [] }
        while let c = chars.popFirst() {
            if inQuotes {
                if c == "\"" {
                    if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { inQuotes = false }
                } else {
                    if c == "\n" || c == "\r\n" { line += 1 }
                    field.append(c)
                }
                continue
            }
            switch c {
            case "\"" where field.isEmpty && !wasQuoted: inQuotes = true; wasQuoted = true
            case ",": endField()
            case "\n", "\r\n", "\r": endRecord(); line += 1; recordLine = line
            default: field.append(c)
            }
        }
        if inQuotes { throw DatasetError(.malformedList, path: file, reason: "line \(recordLine): unterminated quoted field") }
        if !field.isEmpty || !fields.isEmpty || wasQuoted { endRecord() }
        return records
    }

}
