import Foundation
import ForensightFaces

/// Where Forensight finds weights: converted third-party weights in the cache, and the detector it ships.
public enum ModelLocations {
    /// File name of the default detector under `models/`.
    public static let defaultModelName = "sbi-efficientnet-lite0.safetensors"
    /// File name of a default ensemble under `models/`: where it exists, it is preferred to `defaultModelName` in
    /// the same folder (`forensight models ensemble --out models/ensemble-default.safetensors`).
    public static let defaultEnsembleName = "ensemble-default.safetensors"

    /// Converted third-party weights (`scripts/setup/weights.sh`): `$FORENSIGHT_CACHE/weights`.
    public static var weightsDirectory: String { MTCNN.defaultWeightsDirectory }

    /// The default detector: `$FORENSIGHT_MODEL` if set, else `models/<defaultEnsembleName>` or, without it,
    /// `models/<defaultModelName>`, found next to the executable (the build folder inside a checkout, or
    /// `<prefix>/share/forensight/models` for an installed binary), else in the checkout this binary was built from.
    /// In each folder the ensemble is checked before the single model.
    public static func defaultModel() -> String? {
        let fm = FileManager.default
        if let path = ProcessInfo.processInfo.environment["FORENSIGHT_MODEL"], !path.isEmpty { return path }
        var candidates: [String] = []
        if let exe = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            var dir = exe.deletingLastPathComponent()
            for _ in 0..<5 {
                candidates += preferred(in: dir.appendingPathComponent("models"))
                candidates += preferred(in: dir.appendingPathComponent("share/forensight/models"))
                dir = dir.deletingLastPathComponent()
            }
        }
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates += preferred(in: checkout.appendingPathComponent("models"))
        return candidates.first { fm.fileExists(atPath: $0) }
    }

    /// The default files a `models` folder may hold, in order of preference: the ensemble, then the single model.
    public static func preferred(in folder: URL) -> [String] {
        [defaultEnsembleName, defaultModelName].map { folder.appendingPathComponent($0).path }
    }
}
