import Foundation
import ForensightMedia
import ForensightDetect
import ForensightEvaluation

extension Detect {
    /// Writes `<dir>/<input>/timeline.svg` (P(fake) of each face over time, with the threshold) and, for each face,
    /// `face<track>.png`: its most suspicious crop beside the Grad-CAM overlay (for detectors that give heatmaps).
    static func explain(_ verdict: Verdict, crops: [(track: Int, frame: Int, image: RGBImage)], detector: any Detector,
                        into folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if verdict.kind == "video", let last = verdict.faces.flatMap(\.frames).map(\.time).max(), last > 0 {
            let series = verdict.faces.map { face in
                SVGChart.Series(name: "face \(face.track)", points: face.frames.map { ($0.time, $0.probability) })
            } + [SVGChart.Series(name: String(format: "threshold %.2f", verdict.model.threshold),
                                 points: [(0, verdict.model.threshold), (last, verdict.model.threshold)])]
            var chart = SVGChart(title: "P(fake) over time — \((verdict.source as NSString).lastPathComponent)", xLabel: "seconds",
                                 yLabel: "P(fake)")
            chart.xRange = 0...last
            try chart.lines(series, markers: true).write(toFile: folder + "/timeline.svg", atomically: true, encoding: .utf8)
        }
        guard let explainable = detector as? any ExplainableDetector else { return }
        for face in verdict.faces {
            guard let worst = face.frames.max(by: { $0.probability < $1.probability }),
                  let crop = crops.first(where: { $0.track == face.track && $0.frame == worst.frame }) else { continue }
            let (maps, side) = explainable.gradCAM([crop.image])
            let overlay = HeatmapOverlay.render(crop.image, map: maps[0], side: side)
            var pair = RGBImage(width: crop.image.width * 2, height: crop.image.height)
            ImageGeometry.paste(crop.image, into: &pair, x: 0, y: 0)
            ImageGeometry.paste(overlay, into: &pair, x: crop.image.width, y: 0)
            try ImageEncoder.write(pair, to: folder + "/face\(face.track).png")
        }
    }
}
