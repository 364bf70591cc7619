import Foundation
import ForensightMedia
import ForensightEvaluation

/// One file of an explanation: a name (`timeline.svg`, `face<track>.png`) and its bytes.
public struct ExplanationArtifact: Sendable, Equatable {
    public var name: String
    public var mediaType: String
    public var bytes: [UInt8]
    public init(name: String, mediaType: String, bytes: [UInt8]) { (self.name, self.mediaType, self.bytes) = (name, mediaType, bytes) }
}

extension Pipeline {
    /// The evidence behind `verdict`, as files to write or serve (`detect --explain`, the web app):
    /// - `timeline.svg` for a video: each face's P(fake) over time, with the threshold (and a fusion's other members:
    ///   each mouth-motion window's P(fake) over its frames);
    /// - `face<track>.png` per face, for detectors that give heatmaps: its most suspicious crop beside the Grad-CAM
    ///   overlay.
    ///
    /// - Parameter crops: the crops scored for the verdict (`analyzeKeepingCrops`).
    public func explanation(of verdict: Verdict, crops: [(track: Int, frame: Int, image: RGBImage)]) throws -> [ExplanationArtifact] {
        var artifacts: [ExplanationArtifact] = []
        // A fusion's other members (e.g. mouth motion) draw their own faces or windows beside the primary faces.
        let others = (verdict.members ?? []).flatMap { member in
            (member.faces ?? []).map { (name: member.input == .mouthMotion ? "\(member.id) window \(member.faces!.firstIndex(of: $0)! + 1)" : "\(member.id) face \($0.track)", face: $0) }
        }
        let times = (verdict.faces + others.map(\.face)).flatMap(\.frames).map(\.time)
        if verdict.kind == "video", let last = times.max(), last > 0 {
            let series = verdict.faces.map { face in
                SVGChart.Series(name: "face \(face.track)", points: face.frames.map { ($0.time, $0.probability) })
            } + others.map { SVGChart.Series(name: $0.name, points: $0.face.frames.map { ($0.time, $0.probability) }) } + [SVGChart.Series(name: String(format: "threshold %.2f", verdict.model.threshold),
                                 points: [(0, verdict.model.threshold), (last, verdict.model.threshold)])]
            var chart = SVGChart(title: "P(fake) over time — \((verdict.source as NSString).lastPathComponent)", xLabel: "seconds",
                                 yLabel: "P(fake)")
            chart.xRange = 0...last
            artifacts.append(ExplanationArtifact(name: "timeline.svg", mediaType: "image/svg+xml", bytes: Array(chart.lines(series, markers: true).utf8)))
        }
        guard let explainable = detector as? any ExplainableDetector else { return artifacts }
        for face in verdict.faces {
            guard let worst = face.frames.max(by: { $0.probability < $1.probability }),
                  let crop = crops.first(where: { $0.track == face.track && $0.frame == worst.frame }) else { continue }
            let (maps, side) = explainable.gradCAM([crop.image], stillImage: verdict.kind == "image")
            let overlay = HeatmapOverlay.render(crop.image, map: maps[0], side: side)
            var pair = RGBImage(width: crop.image.width * 2, height: crop.image.height)
            ImageGeometry.paste(crop.image, into: &pair, x: 0, y: 0)
            ImageGeometry.paste(overlay, into: &pair, x: crop.image.width, y: 0)
            artifacts.append(ExplanationArtifact(name: "face\(face.track).png", mediaType: "image/png", bytes: try ImageEncoder.png(pair)))
        }
        return artifacts
    }
}
