import Foundation

/// The dataset layouts Forensight reads, and recognition of which one a folder or file is.
public enum DatasetLayout: String, Sendable, CaseIterable {
    case faceForensics, celebDF, dfdc, deepfakeBench, rffrList, realFakeFolders, csv

    /// The layout of `path`, checked in this order: a `.csv` file → `csv`; a `.json` file → `deepfakeBench` when
    /// its top level is an object, `rffrList` when it is a list; a folder → FaceForensics++ (official or flattened),
    /// Celeb-DF, DFDC (`metadata.json` here or in part folders), `real/` + `fake/`, then a `labels.csv` inside.
    /// Nil when nothing matches.
    public static func detect(_ path: String) -> DatasetLayout? {
        let path = DatasetFiles.absolute(path)
        if DatasetFiles.isFile(path) {
            switch (path as NSString).pathExtension.lowercased() {
            case "csv": return .csv
            case "json":
                guard let data = FileManager.default.contents(atPath: path),
                      let json = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else { return nil }
                return json is [String: Any] ? .deepfakeBench : json is [Any] ? .rffrList : nil
            default: return nil
            }
        }
        guard DatasetFiles.isDirectory(path) else { return nil }
        if FaceForensicsImporter.detectLayout(path) != nil { return .faceForensics }
        if CelebDFImporter.matches(path) { return .celebDF }
        if !DFDCImporter.parts(of: path).isEmpty { return .dfdc }
        let folders = FolderImporter.labelFolders(of: path)
        if folders.real != nil && folders.fake != nil { return .realFakeFolders }
        if DatasetFiles.isFile(path + "/labels.csv") { return .csv }
        return nil
    }

    /// An importer with default options for `path`, or `unrecognizedLayout` naming what was looked for.
    public static func importer(for path: String) throws -> any DatasetImporter {
        guard let layout = detect(path) else {
            throw DatasetError(.unrecognizedLayout, path: path, reason: "not a recognised dataset: expected FaceForensics++ "
                + "(original_sequences/ or <Method>_c23/), Celeb-DF (Celeb-real/, Celeb-synthesis/), DFDC (metadata.json), "
                + "real/ + fake/ folders, a labels.csv, a DeepfakeBench dataset JSON or an RFFR label list")
        }
        let isFolder = DatasetFiles.isDirectory(path)
        switch layout {
        case .faceForensics: return FaceForensicsImporter(root: path)
        case .celebDF: return CelebDFImporter(root: path)
        case .dfdc: return DFDCImporter(root: path)
        case .deepfakeBench: return DeepfakeBenchImporter(jsonPath: path)
        case .rffrList: return RFFRListImporter(listPath: path)
        case .realFakeFolders: return FolderImporter(root: path)
        case .csv: return CSVImporter(csvPath: isFolder ? path + "/labels.csv" : path)
        }
    }
}
