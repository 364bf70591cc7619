import Foundation
import ForensightMedia
import ForensightDetect

extension Detect {
    /// Writes the explanation files of one verdict (`Pipeline.explanation`) into `folder`: `timeline.svg` for videos,
    /// `face<track>.png` (crop beside its Grad-CAM overlay) per face.
    static func explain(_ verdict: Verdict, crops: [(track: Int, frame: Int, image: RGBImage)], pipeline: Pipeline, into folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for artifact in try pipeline.explanation(of: verdict, crops: crops) {
            try Data(artifact.bytes).write(to: URL(fileURLWithPath: folder + "/" + artifact.name), options: .atomic)
        }
    }
}
