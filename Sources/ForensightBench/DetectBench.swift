import Foundation
import ForensightTensor
import ForensightFaces
import ForensightDetect

/// `forensight bench detect`: the whole detect pipeline on a 10-s 720p clip, with its stages.
///
/// There is no peer running the same pipeline, so the rows compare against the target of DESIGN §7 (2 s for a
/// 10-s 720p clip on 2 cores); the ratio column is ours / target.
public enum DetectBench {
    public static let targetMs = 2000.0

    public static func run(video: String?, model: String, runs: Int, progress: (String) -> Void = { _ in }) throws -> [BenchRow] {
        guard let clip = video ?? FacesBench.defaultVideo() else {
            throw PeerError(description: "no clip: pass --video with a clip that shows faces")
        }
        let pipeline = Pipeline(detector: try DetectorRegistry.load(path: model), faceDetector: try MTCNN())
        progress("detect on \((clip as NSString).lastPathComponent), \(runs) runs")
        _ = try pipeline.analyze(path: clip)                      // warm-up: page in weights, fill the storage pool
        var results: [Verdict] = []
        for _ in 0..<max(runs, 1) { results.append(try pipeline.analyze(path: clip)) }
        func median(_ key: (Verdict.Timings) -> Double) -> Double {
            let v = results.map { key($0.timingsMs) }.sorted()
            return v[v.count / 2]
        }
        let faces = results[0].faces.map(\.frames.count).reduce(0, +)
        return [
            BenchRow(name: "detect: decode + sample 32 frames", oursMs: median(\.decode), peerMs: nil, peer: "–"),
            BenchRow(name: "detect: faces (MTCNN, tracking, crops)", oursMs: median(\.faces), peerMs: nil, peer: "–"),
            BenchRow(name: "detect: model (\(faces) crops)", oursMs: median(\.model), peerMs: nil, peer: "–"),
            BenchRow(name: "detect: total", oursMs: median(\.total), peerMs: targetMs, peer: "target 2 s",
                     note: "\(results[0].verdict.rawValue), P(fake) \(String(format: "%.3f", results[0].probability ?? 0))"),
        ]
    }
}
