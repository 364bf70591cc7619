import Foundation
import ForensightTensor

/// One row of a benchmark table: our time, the peer's time measured in the same run, and ours/peer, with the vector
/// ISA our kernels were compiled for and the best one the CPU supports (a ratio means little without them).
public struct BenchRow: Encodable, Sendable {
    public var name: String
    public var oursMs: Double
    public var peerMs: Double?
    public var peer: String
    public var note: String
    /// The ISA our kernels ran: `VectorISA.compiled` (e.g. `AVX2+FMA`).
    public var isa = VectorISA.compiled.rawValue
    /// The best ISA the CPU supports (`VectorISA.cpuBest`; what a peer that picks kernels at run time may use).
    public var cpuISA = VectorISA.cpuBest?.rawValue ?? "unknown"

    public init(name: String, oursMs: Double, peerMs: Double?, peer: String, note: String = "") {
        (self.name, self.oursMs, self.peerMs, self.peer, self.note) = (name, oursMs, peerMs, peer, note)
    }

    /// ours / peer (below 1 means we are faster).
    public var ratio: Double? { peerMs.map { oursMs / $0 } }

    enum CodingKeys: String, CodingKey { case name, oursMs = "ours_ms", peerMs = "peer_ms", ratio, peer, note, isa, cpuISA = "cpu_isa" }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode((oursMs * 1000).rounded() / 1000, forKey: .oursMs)
        try c.encode(peerMs.map { ($0 * 1000).rounded() / 1000 }, forKey: .peerMs)
        try c.encode(ratio.map { ($0 * 1000).rounded() / 1000 }, forKey: .ratio)
        try c.encode(peer, forKey: .peer)
        try c.encode(note, forKey: .note)
        try c.encode(isa, forKey: .isa)
        try c.encode(cpuISA, forKey: .cpuISA)
    }
}

/// Median wall time in milliseconds of `runs` calls after `warmup` untimed calls.
public func medianMilliseconds(runs: Int, warmup: Int = 1, _ body: () throws -> Void) rethrows -> Double {
    for _ in 0..<warmup { try body() }
    var times: [Double] = []
    for _ in 0..<Swift.max(runs, 1) {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    times.sort()
    return times[times.count / 2]
}

/// Renders rows as an aligned text table, after a line naming the vector ISA (`VectorISA.summary`); the `ISA` column
/// is the kernels' ISA / the CPU's best.
public func formatTable(_ rows: [BenchRow]) -> String {
    func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: Swift.max(0, n - s.count))
        return right ? fill + s : s + fill
    }
    let width = Swift.max(10, rows.map(\.name.count).max() ?? 0)
    var lines = [pad("benchmark", width) + "  " + pad("ours ms", 10, right: true) + "  " + pad("peer ms", 10, right: true)
                 + "  " + pad("ratio", 6, right: true) + "  " + pad("ISA (ours/CPU)", 18) + "  peer"]
    for r in rows {
        let peer = r.peerMs.map { String(format: "%.3f", $0) } ?? "–"
        let ratio = r.ratio.map { String(format: "%.3f", $0) } ?? "–"
        lines.append(pad(r.name, width) + "  " + pad(String(format: "%.3f", r.oursMs), 10, right: true) + "  "
                     + pad(peer, 10, right: true) + "  " + pad(ratio, 6, right: true) + "  " + pad("\(r.isa)/\(r.cpuISA)", 18)
                     + "  " + r.peer
                     + (r.note.isEmpty ? "" : " (\(r.note))"))
    }
    return (["vector ISA: \(VectorISA.summary)"] + lines).joined(separator: "\n")
}
