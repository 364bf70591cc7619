import Foundation
import ForensightTensor
import ForensightFaces
import ForensightDetect

/// `forensight bench detect`: the whole detect pipeline on a 10-s 720p clip, with its stages.
///
/// The peer is a Python pipeline of the same stages on the same clip (scripts/bench/pipeline_peer.py: ffprobe and
/// ffmpeg's `select` for the same 32 frames, facenet-pytorch MTCNN, ONNX Runtime running the detector's networks
/// exported as ONNX graphs). Without graphs, or when the peer cannot run, the total compares against the target of
/// DESIGN §7 (2 s for a 10-s 720p clip on 2 cores) and the stage rows have no peer.
public enum DetectBench {
    public static let targetMs = 2000.0

    /// The Python pipeline peer.
    static let pipelinePeer = PythonPeer(script: "pipeline_peer.py",
                                         installHint: "pip install torch==2.13.0+cpu numpy pillow requests onnxruntime && pip install --no-deps facenet-pytorch==2.6.0")

    /// - Parameter peerGraphs: ONNX graphs of the detector's face networks (crop → logit) for the Python peer to run;
    ///   empty for no peer.
    public static func run(video: String?, model: String, runs: Int, peerGraphs: [String] = [], threads: Int = 2,
                           progress: (String) -> Void = { _ in }) throws -> [BenchRow] {
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
        let verdict = "\(results[0].verdict.rawValue), P(fake) \(String(format: "%.3f", results[0].probability ?? 0))"
        var peer: [String: Any]?, peerNote = "none (no ONNX graphs of this detector's face networks)"
        if !peerGraphs.isEmpty {
            progress("the Python pipeline peer on the same clip, \(runs) runs")
            do {
                peer = try pipelinePeer.run(["--video", clip, "--runs", "\(max(runs, 1))", "--threads", "\(threads)"]
                                            + peerGraphs.flatMap { ["--onnx", $0] })
            } catch { peerNote = "unavailable: \(error)" }
        }
        func peerMs(_ key: String) -> Double? { peer?[key] as? Double }
        let label = peer == nil ? peerNote : "Python: ffmpeg select, facenet-pytorch MTCNN, ONNX Runtime (\(peerGraphs.count) graph(s))"
        let peerFaces = (peer?["faces"] as? Int).map { "the peer: \($0) crops" } ?? ""
        return [
            BenchRow(name: "detect: decode + sample 32 frames", oursMs: median(\.decode), peerMs: peerMs("decode_ms"), peer: label),
            BenchRow(name: "detect: faces (MTCNN, tracking, crops)", oursMs: median(\.faces), peerMs: peerMs("faces_ms"), peer: label),
            BenchRow(name: "detect: model (\(faces) crops)", oursMs: median(\.model), peerMs: peerMs("model_ms"), peer: label,
                     note: peerFaces),
            BenchRow(name: "detect: total", oursMs: median(\.total), peerMs: peerMs("total_ms") ?? targetMs,
                     peer: peer == nil ? "target 2 s" : label, note: verdict),
        ]
    }
}
