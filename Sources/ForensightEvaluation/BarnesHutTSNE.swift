import Foundation

/// Barnes–Hut t-SNE (van der Maaten, JMLR 2014), as scikit-learn's `TSNE(method="barnes_hut", angle=0.5)`: each
/// point keeps affinities to its k = min(N − 1, ⌊3·perplexity + 1⌋) nearest neighbours only (exact neighbours,
/// squared distances, the same bisection for the perplexity), symmetrised and normalised to sum 1; the repulsive
/// forces come from a quadtree over the embedding, a cell far enough away (its side over the distance to its centre
/// of mass below `angle`) counting as one point at that centre. The cost per iteration is O(N log N) instead of
/// O(N²), so thousands of points embed in seconds. The optimisation schedule is `TSNE`'s.
extension TSNE {
    /// `embed` with the Barnes–Hut gradient, from the initial layout `y` and learning rate `rate`.
    func embedBarnesHut(_ data: [[Double]], y start: [Double], rate: Double) -> Embedding {
        let n = data.count, d = data[0].count
        var p = Self.sparseAffinities(data.flatMap { $0 }, n: n, d: d, perplexity: perplexity)
        var y = start
        descend(&y, rate: rate, exaggerate: { on in
            let factor = earlyExaggeration
            for e in p.values.indices { if on { p.values[e] *= factor } else { p.values[e] /= factor } }
        }, gradient: { Self.barnesHutGradient(p, $0, n: n, angle: angle).grad })
        let kl = Self.barnesHutGradient(p, y, n: n, angle: angle, withKL: true).kl
        return Embedding(points: (0..<n).map { (y[2 * $0], y[2 * $0 + 1]) }, klDivergence: kl)
    }

    /// Sparse symmetric affinities in compressed rows: row i's columns and values are `columns[rowStart[i]..<rowStart[i+1]]`.
    public struct SparseAffinities: Sendable {
        public var rowStart: [Int], columns: [Int], values: [Double]

        /// Every off-diagonal entry of a dense row-major N × N matrix (to compare the two gradients).
        public init(dense: [Double], n: Int) {
            (rowStart, columns, values) = ([0], [], [])
            for i in 0..<n {
                for j in 0..<n where j != i { columns.append(j); values.append(dense[i * n + j]) }
                rowStart.append(columns.count)
            }
        }

        init(rowStart: [Int], columns: [Int], values: [Double]) { (self.rowStart, self.columns, self.values) = (rowStart, columns, values) }
    }

    /// The affinities of `data` (N rows of width d, flattened) over each point's `k` nearest neighbours.
    static func sparseAffinities(_ flat: [Double], n: Int, d: Int, perplexity: Double) -> SparseAffinities {
        let k = min(n - 1, Int(3 * perplexity + 1))
        var neighbours = [Int](repeating: 0, count: n * k), conditional = [Double](repeating: 0, count: n * k)
        let norms = (0..<n).map { i in (0..<d).reduce(0.0) { $0 + flat[i * d + $1] * flat[i * d + $1] } }
        let target = log(perplexity)
        neighbours.withUnsafeMutableBufferPointer { nb in conditional.withUnsafeMutableBufferPointer { cb in
            nonisolated(unsafe) let (nbrs, cond) = (nb, cb)
            flat.withUnsafeBufferPointer { xb in
                nonisolated(unsafe) let x = xb
                DispatchQueue.concurrentPerform(iterations: n) { i in
                    // Squared distances to every other point (|a|² + |b|² − 2a·b, eight lanes at a time), the k smallest kept.
                    var distances = [Double](repeating: 0, count: n)
                    let a = x.baseAddress! + i * d
                    for j in 0..<n where j != i {
                        let b = x.baseAddress! + j * d
                        var acc = SIMD8<Double>(repeating: 0)
                        var t = 0
                        while t + 8 <= d {
                            acc += UnsafeRawPointer(a + t).loadUnaligned(as: SIMD8<Double>.self) * UnsafeRawPointer(b + t).loadUnaligned(as: SIMD8<Double>.self)
                            t += 8
                        }
                        var dot = acc.sum()
                        while t < d { dot += a[t] * b[t]; t += 1 }
                        distances[j] = max(0, norms[i] + norms[j] - 2 * dot)
                    }
                    distances[i] = .infinity
                    let nearest = Array((0..<n).sorted { distances[$0] < distances[$1] || (distances[$0] == distances[$1] && $0 < $1) }.prefix(k))
                    let dk = nearest.map { distances[$0] }
                    let row = conditionalRow(dk, target: target)
                    for m in 0..<k { nbrs[i * k + m] = nearest[m]; cond[i * k + m] = row[m] }
                }
            }
        } }
        // P = (P_{j|i} + P_{i|j}) / Σ over the union of both neighbour lists.
        var rows = [[Int: Double]](repeating: [:], count: n)
        var total = 0.0
        for i in 0..<n {
            for m in 0..<k {
                let (j, p) = (neighbours[i * k + m], conditional[i * k + m])
                rows[i][j, default: 0] += p
                rows[j][i, default: 0] += p
                total += 2 * p
            }
        }
        total = max(total, eps)
        var out = SparseAffinities(rowStart: [0], columns: [], values: [])
        for row in rows {
            for (j, p) in row.sorted(by: { $0.key < $1.key }) { out.columns.append(j); out.values.append(p / total) }
            out.rowStart.append(out.columns.count)
        }
        return out
    }

    /// A quadtree over the embedding: per cell its number of points, centre of mass, side and children.
    struct QuadTree {
        var count: [Double] = [], comX: [Double] = [], comY: [Double] = [], side: [Double] = []
        /// First child of each cell (its four children are consecutive), or −1 for a leaf.
        var firstChild: [Int] = []
        /// The points of each leaf.
        var leafPoints: [[Int]] = []

        init(_ y: [Double], n: Int) {
            var (x0, x1, y0, y1) = (Double.infinity, -Double.infinity, Double.infinity, -Double.infinity)
            for i in 0..<n { (x0, x1, y0, y1) = (min(x0, y[2 * i]), max(x1, y[2 * i]), min(y0, y[2 * i + 1]), max(y1, y[2 * i + 1])) }
            let s = max(x1 - x0, y1 - y0, 1e-12) * (1 + 1e-9)
            appendCells(1)
            fill(0, Array(0..<n), y, minX: x0, minY: y0, side: s, depth: 0)
        }

        private mutating func appendCells(_ k: Int) {
            count += Array(repeating: 0, count: k); comX += Array(repeating: 0, count: k); comY += Array(repeating: 0, count: k)
            side += Array(repeating: 0, count: k); firstChild += Array(repeating: -1, count: k); leafPoints += Array(repeating: [], count: k)
        }

        /// Summarises `points` in `cell` (a square of side `s` at (minX, minY)) and splits it into four children
        /// until a cell holds one point (or, for coincident points, 48 levels deep).
        private mutating func fill(_ cell: Int, _ points: [Int], _ y: [Double], minX: Double, minY: Double, side s: Double, depth: Int) {
            var (sx, sy) = (0.0, 0.0)
            for p in points { sx += y[2 * p]; sy += y[2 * p + 1] }
            (count[cell], side[cell]) = (Double(points.count), s)
            (comX[cell], comY[cell]) = (sx / Double(max(points.count, 1)), sy / Double(max(points.count, 1)))
            guard points.count > 1, depth < 48 else { leafPoints[cell] = points; return }
            let h = s / 2
            var quadrants: [[Int]] = [[], [], [], []]
            for p in points { quadrants[(y[2 * p] >= minX + h ? 1 : 0) + (y[2 * p + 1] >= minY + h ? 2 : 0)].append(p) }
            let first = count.count
            firstChild[cell] = first
            appendCells(4)
            for q in 0..<4 where !quadrants[q].isEmpty {
                fill(first + q, quadrants[q], y, minX: minX + (q & 1 == 1 ? h : 0), minY: minY + (q & 2 == 2 ? h : 0), side: h, depth: depth + 1)
            }
        }

        /// The repulsive force on point i (Σ over j of q_ij² (y_i − y_j) with q_ij = 1 / (1 + |y_i − y_j|²)) and its
        /// share Σ_j q_ij of the normalisation, cells with side / distance < `angle` taken as one point.
        func repulsion(_ i: Int, _ y: [Double], angle: Double) -> (fx: Double, fy: Double, z: Double) {
            let (xi, yi) = (y[2 * i], y[2 * i + 1])
            var (fx, fy, z) = (0.0, 0.0, 0.0)
            var stack = [0]
            while let cell = stack.popLast() {
                guard count[cell] > 0 else { continue }
                if firstChild[cell] < 0 {
                    for j in leafPoints[cell] where j != i {
                        let (dx, dy) = (xi - y[2 * j], yi - y[2 * j + 1])
                        let q = 1 / (1 + dx * dx + dy * dy)
                        (z, fx, fy) = (z + q, fx + q * q * dx, fy + q * q * dy)
                    }
                    continue
                }
                let (dx, dy) = (xi - comX[cell], yi - comY[cell])
                let d2 = dx * dx + dy * dy
                if side[cell] * side[cell] < angle * angle * d2 {
                    let q = 1 / (1 + d2), m = count[cell]
                    (z, fx, fy) = (z + m * q, fx + m * q * q * dx, fy + m * q * q * dy)
                } else {
                    for c in 0..<4 { stack.append(firstChild[cell] + c) }
                }
            }
            return (fx, fy, z)
        }
    }

    /// The gradient of the KL divergence for sparse affinities `p` (already exaggerated when asked), Barnes–Hut
    /// approximated (with `angle` 0 every cell is opened: the exact repulsion), and (when `withKL`) the divergence
    /// itself over the stored pairs.
    public static func barnesHutGradient(_ p: SparseAffinities, _ y: [Double], n: Int, angle: Double, withKL: Bool = false) -> (kl: Double, grad: [Double]) {
        let tree = QuadTree(y, n: n)
        var repulsive = [Double](repeating: 0, count: 3 * n)
        repulsive.withUnsafeMutableBufferPointer { rb in
            nonisolated(unsafe) let r = rb
            DispatchQueue.concurrentPerform(iterations: n) { i in
                let f = tree.repulsion(i, y, angle: angle)
                (r[3 * i], r[3 * i + 1], r[3 * i + 2]) = (f.fx, f.fy, f.z)
            }
        }
        let z = max((0..<n).reduce(0.0) { $0 + repulsive[3 * $1 + 2] }, eps)
        var grad = [Double](repeating: 0, count: 2 * n), klParts = [Double](repeating: 0, count: n)
        let forces = repulsive
        grad.withUnsafeMutableBufferPointer { gb in klParts.withUnsafeMutableBufferPointer { kb in
            nonisolated(unsafe) let (g, kp) = (gb, kb)
            DispatchQueue.concurrentPerform(iterations: n) { i in
                var (ax, ay, kl) = (0.0, 0.0, 0.0)
                for e in p.rowStart[i]..<p.rowStart[i + 1] {
                    let (j, pij) = (p.columns[e], p.values[e])
                    let (dx, dy) = (y[2 * i] - y[2 * j], y[2 * i + 1] - y[2 * j + 1])
                    let q = 1 / (1 + dx * dx + dy * dy)
                    (ax, ay) = (ax + pij * q * dx, ay + pij * q * dy)
                    if withKL { kl += pij * log(max(pij, eps) / max(q / z, eps)) }
                }
                (g[2 * i], g[2 * i + 1], kp[i]) = (4 * (ax - forces[3 * i] / z), 4 * (ay - forces[3 * i + 1] / z), kl)
            }
        } }
        return (klParts.reduce(0, +), grad)
    }
}
