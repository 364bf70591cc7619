import Foundation
import ForensightEvaluation

/// `forensight bench tsne`: embedding N points of a given width in 2-D with Barnes–Hut t-SNE (`TSNE`, method
/// `.barnesHut`), against scikit-learn's `TSNE(method="barnes_hut")` on the same points in the same run
/// (`scripts/bench/tsne_peer.py`).
public enum TSNEBench {
    /// N points of `width` features: 10 Gaussian clusters (centres spread 4, unit spread), from a fixed seed.
    public static func points(_ n: Int, width: Int, seed: UInt64 = 7) -> [[Double]] {
        var state = seed
        func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Double(state >> 11) + 0.5) / Double(1 << 53)
        }
        func normal() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()) }
        let centres = (0..<10).map { _ in (0..<width).map { _ in 4 * normal() } }
        return (0..<n).map { i in centres[i % 10].map { $0 + normal() } }
    }

    /// One row: our Barnes–Hut embedding's time and, when scikit-learn runs, its time on the same points.
    public static func run(points n: Int, width: Int, peer: Bool, progress: (String) -> Void = { _ in }) -> [BenchRow] {
        let data = points(n, width: width)
        var tsne = TSNE(perplexity: 30, seed: 0)
        tsne.method = .barnesHut
        progress("t-SNE Barnes–Hut, \(n) points × \(width)")
        let start = DispatchTime.now().uptimeNanoseconds
        let ours = try? tsne.embed(data)
        let oursMs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        var row = BenchRow(name: "t-SNE Barnes–Hut \(n)×\(width)", oursMs: oursMs, peerMs: nil, peer: "–",
                           note: ours.map { String(format: "KL %.3f", $0.klDivergence) } ?? "failed")
        guard peer else { return [row] }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("forensight-tsne-\(getpid()).f64")
        defer { try? FileManager.default.removeItem(at: file) }
        var bytes = Data(capacity: n * width * 8)
        for value in data.joined() { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        do {
            try bytes.write(to: file)
            progress("scikit-learn peer")
            let result = try PythonPeer.scikitLearn.run([file.path, String(n), String(width), String(ComputeThreadCount.value)])
            if let ms = result["ms"] as? Double {
                row.peerMs = ms
                row.peer = "scikit-learn \(result["version"] as? String ?? "")"
                if let kl = result["kl"] as? Double { row.note += String(format: ", peer KL %.3f", kl) }
            }
        } catch { row.note += "; peer: \(error)" }
        return [row]
    }
}

/// The thread count the peer should use: this process's compute threads (2 on the reference machine).
enum ComputeThreadCount {
    static var value: Int { max(1, min(ProcessInfo.processInfo.activeProcessorCount, 64)) }
}
