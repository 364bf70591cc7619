import Foundation
import ForensightFaces

/// Where Forensight finds weights: converted third-party weights in the cache, and the detector it ships.
public enum ModelLocations {
    /// File name of the default detector under `models/`.
    public static let defaultModelName = "sbi-efficientnet-lite0.safetensors"

    /// Converted third-party weights (`scripts/setup/weights.sh`): `$FORENSIGHT_CACHE/weights`.
    public static var weightsDirectory: String { MTCNN.defaultWeightsDirectory }

    /// The default detector: `$FORENSIGHT_MODEL` if set, else `models/<defaultModelName>` found next to the executable
    /// (the build folder inside a checkout, or `<prefix>/share/forensight/models` for an installed binary), else in
    /// the checkout this binary was built from.
    public static func defaultModel() -> String? {
        let fm = FileManager.default
        if let path = ProcessInfo.processInfo.environment["FORENSIGHT_MODEL"], !path.isEmpty { return path }
        var candidates: [String] = []
        if let exe = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            var dir = exe.deletingLastPathComponent()
            for _ in 0..<5 {
                candidates.append(dir.appendingPathComponent("models/" + defaultModelName).path)
                candidates.append(dir.appendingPathComponent("share/forensight/models/" + defaultModelName).path)
                dir = dir.deletingLastPathComponent()
            }
        }
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(checkout.appendingPathComponent("models/" + defaultModelName).path)
        return candidates.first { fm.fileExists(atPath: $0) }
    }
}
