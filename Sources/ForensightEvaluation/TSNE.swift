import Foundation

/// Exact t-SNE (van der Maaten & Hinton, JMLR 2008) to two dimensions, with the optimisation schedule of
/// scikit-learn's `TSNE(method="exact")`: a perplexity-calibrated Gaussian affinity per point, symmetrised; a
/// Student-t kernel (one degree of freedom) in the embedding; gradient descent with per-coordinate gains, momentum 0.5
/// and early exaggeration 12 for 250 iterations, then momentum 0.8; learning rate max(N / 12 / 4, 50); a PCA
/// initialisation scaled to a standard deviation of 1e-4. Written here because the bench embeds detector features
/// for its reports and no maintained Swift library does; checked against scikit-learn by trustworthiness and KL
/// divergence, not point for point (t-SNE has many equally good layouts).
///
/// The cost is O(N²) per iteration (both halves of the symmetric pair loop run on all cores).
public struct TSNE: Sendable {
    public var perplexity: Double = 30
    public var iterations = 1000
    public var earlyExaggeration: Double = 12
    /// nil: scikit-learn's "auto", max(N / earlyExaggeration / 4, 50).
    public var learningRate: Double?
    /// Seeds the tiny jitter that breaks ties of the PCA initialisation.
    public var seed: UInt64 = 0
    /// How the gradient is computed: exactly over all pairs (O(N²) per iteration), or Barnes–Hut approximated over
    /// each point's nearest neighbours and a quadtree (O(N log N); BarnesHutTSNE.swift); `.auto` is exact up to
    /// `TSNE.exactLimit` points.
    public var method: Method = .auto
    /// The most points `.auto` embeds exactly (about a minute on two cores at this size).
    public static let exactLimit = 2000
    /// Barnes–Hut's accuracy: a cell whose side over its distance is below this counts as one point (scikit-learn's
    /// `angle`, 0.5).
    public var angle: Double = 0.5

    /// The gradient computation.
    public enum Method: String, Sendable, CaseIterable {
        case auto, exact
        case barnesHut = "barnes-hut"
    }

    public init(perplexity: Double = 30, iterations: Int = 1000, seed: UInt64 = 0) {
        (self.perplexity, self.iterations, self.seed) = (perplexity, iterations, seed)
    }

    /// The result: one 2-D point per input row and the final KL divergence of the affinities.
    public struct Embedding: Sendable {
        public var points: [(x: Double, y: Double)]
        public var klDivergence: Double
    }

    static let eps = Double.ulpOfOne

    /// Embeds the rows of `data` (N rows of equal width, N ≥ 4) in two dimensions.
    public func embed(_ data: [[Double]]) throws -> Embedding {
        let n = data.count
        guard n >= 4, let d = data.first?.count, d > 0, data.allSatisfy({ $0.count == d && $0.allSatisfy(\.isFinite) }) else {
            throw MetricError.invalidArgument("t-SNE needs at least 4 rows of the same width with finite values")
        }
        guard perplexity > 0, perplexity < Double(n) else {
            throw MetricError.invalidArgument("t-SNE perplexity must be between 0 and the number of points (\(n)), not \(perplexity)")
        }
        var y = Self.pcaInitialisation(data, seed: seed)
        let rate = learningRate ?? max(Double(n) / earlyExaggeration / 4, 50)
        if method == .barnesHut || (method == .auto && n > Self.exactLimit) { return embedBarnesHut(data, y: y, rate: rate) }
        var p = Self.jointProbabilities(Self.squaredDistances(data), perplexity: perplexity)
        descend(&y, rate: rate, exaggerate: { on in
            let factor = earlyExaggeration
            for i in p.indices { if on { p[i] *= factor } else { p[i] /= factor } }
        }, gradient: { Self.gradient(p, $0, n: n).grad })
        let kl = Self.gradient(p, y, n: n).kl
        return Embedding(points: (0..<n).map { (y[2 * $0], y[2 * $0 + 1]) }, klDivergence: kl)
    }

    /// The optimisation both methods share: `iterations` steps of gradient descent with per-coordinate gains (+0.2 when
    /// the gradient changes sign, ×0.8 otherwise, at least 0.01) and momentum 0.5, then 0.8 after the first 250 steps,
    /// during which the affinities are exaggerated (`exaggerate(true)` before, `exaggerate(false)` after).
    func descend(_ y: inout [Double], rate: Double, exaggerate: (Bool) -> Void, gradient: ([Double]) -> [Double]) {
        var update = [Double](repeating: 0, count: y.count), gains = [Double](repeating: 1, count: y.count)
        exaggerate(true)
        let exploration = min(250, iterations)
        for iteration in 0..<iterations {
            if iteration == exploration { exaggerate(false) }
            let momentum = iteration < exploration ? 0.5 : 0.8
            let grad = gradient(y)
            for k in y.indices {
                gains[k] = update[k] * grad[k] < 0 ? gains[k] + 0.2 : max(gains[k] * 0.8, 0.01)
                update[k] = momentum * update[k] - rate * gains[k] * grad[k]
                y[k] += update[k]
            }
        }
        if exploration == iterations { exaggerate(false) }
    }

    /// Squared Euclidean distances, row-major N × N.
    public static func squaredDistances(_ x: [[Double]]) -> [Double] {
        let n = x.count
        var out = [Double](repeating: 0, count: n * n)
        out.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let dst = buffer
            DispatchQueue.concurrentPerform(iterations: n) { i in
                for j in 0..<n where j != i {
                    var s = 0.0
                    for (a, b) in zip(x[i], x[j]) { s += (a - b) * (a - b) }
                    dst[i * n + j] = s
                }
            }
        }
        return out
    }

    /// P = (P_{j|i} + P_{i|j}) / Σ, floored at machine epsilon, where each row's Gaussian precision is found by
    /// bisection so that its entropy is log(perplexity) (100 steps, tolerance 1e-5, as scikit-learn).
    public static func jointProbabilities(_ distances: [Double], perplexity: Double) -> [Double] {
        let n = Int(Double(distances.count).squareRoot())
        var conditional = [Double](repeating: 0, count: n * n)
        let target = log(perplexity)
        conditional.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let dst = buffer
            DispatchQueue.concurrentPerform(iterations: n) { i in
                let others = (0..<n).filter { $0 != i }
                let row = conditionalRow(others.map { distances[i * n + $0] }, target: target)
                for (m, j) in others.enumerated() { dst[i * n + j] = row[m] }
            }
        }
        var joint = [Double](repeating: 0, count: n * n)
        var total = 0.0
        for i in 0..<n { for j in 0..<n where j != i { joint[i * n + j] = conditional[i * n + j] + conditional[j * n + i]; total += joint[i * n + j] } }
        total = max(total, eps)
        for i in 0..<n { for j in 0..<n where j != i { joint[i * n + j] = max(joint[i * n + j] / total, eps) } }
        return joint
    }

    /// One point's conditional affinities P_{j|i} over its squared `distances` to the other points: the Gaussian
    /// precision found by bisection so that the row's entropy is `target` = log(perplexity) (100 steps, tolerance 1e-5,
    /// as scikit-learn).
    static func conditionalRow(_ distances: [Double], target: Double) -> [Double] {
        var (beta, low, high) = (1.0, -Double.infinity, Double.infinity)
        var row = [Double](repeating: 0, count: distances.count)
        for _ in 0..<100 {
            var sum = 0.0
            for m in distances.indices { row[m] = exp(-distances[m] * beta); sum += row[m] }
            if sum == 0 { sum = eps }
            var weighted = 0.0
            for m in distances.indices { row[m] /= sum; weighted += distances[m] * row[m] }
            let diff = log(sum) + beta * weighted - target
            if abs(diff) <= 1e-5 { break }
            if diff > 0 {
                low = beta
                beta = high == .infinity ? beta * 2 : (beta + high) / 2
            } else {
                high = beta
                beta = low == -.infinity ? beta / 2 : (beta + low) / 2
            }
        }
        return row
    }

    /// The KL divergence of P from the Student-t affinities Q of `y` (interleaved x, y) and its gradient.
    public static func gradient(_ p: [Double], _ y: [Double], n: Int) -> (kl: Double, grad: [Double]) {
        var kernel = [Double](repeating: 0, count: n * n)
        var rowSums = [Double](repeating: 0, count: n)
        kernel.withUnsafeMutableBufferPointer { kb in
            rowSums.withUnsafeMutableBufferPointer { rb in
                nonisolated(unsafe) let (k, r) = (kb, rb)
                DispatchQueue.concurrentPerform(iterations: n) { i in
                    var sum = 0.0
                    let (xi, yi) = (y[2 * i], y[2 * i + 1])
                    for j in 0..<n where j != i {
                        let (dx, dy) = (xi - y[2 * j], yi - y[2 * j + 1])
                        let w = 1 / (1 + dx * dx + dy * dy)
                        k[i * n + j] = w
                        sum += w
                    }
                    r[i] = sum
                }
            }
        }
        let z = max(rowSums.reduce(0, +), eps)
        let kernelValues = kernel
        var grad = [Double](repeating: 0, count: 2 * n)
        var klParts = [Double](repeating: 0, count: n)
        grad.withUnsafeMutableBufferPointer { gb in
            klParts.withUnsafeMutableBufferPointer { lb in
                nonisolated(unsafe) let (g, l) = (gb, lb)
                DispatchQueue.concurrentPerform(iterations: n) { i in
                    var (gx, gy, kl) = (0.0, 0.0, 0.0)
                    for j in 0..<n where j != i {
                        let w = kernelValues[i * n + j], pij = p[i * n + j]
                        let q = max(w / z, eps)
                        kl += pij * log(max(pij, eps) / q)
                        let f = (pij - q) * w
                        gx += f * (y[2 * i] - y[2 * j]); gy += f * (y[2 * i + 1] - y[2 * j + 1])
                    }
                    (g[2 * i], g[2 * i + 1], l[i]) = (4 * gx, 4 * gy, kl)
                }
            }
        }
        return (klParts.reduce(0, +), grad)
    }

    /// The first two principal components of the centred data (power iteration with deflation), scaled so the first
    /// coordinate's standard deviation is 1e-4, interleaved (x, y) per point.
    static func pcaInitialisation(_ data: [[Double]], seed: UInt64) -> [Double] {
        let n = data.count, d = data[0].count
        var mean = [Double](repeating: 0, count: d)
        for row in data { for k in 0..<d { mean[k] += row[k] / Double(n) } }
        let centred = data.map { row in (0..<d).map { row[$0] - mean[$0] } }
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        func random() -> Double {   // splitmix64 in [-0.5, 0.5)
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53) - 0.5
        }
        var components: [[Double]] = []
        for _ in 0..<2 {
            var v = (0..<d).map { _ in random() }
            for _ in 0..<200 {
                // v ← Xᵀ X v, made orthogonal to the components found so far.
                let projected = centred.map { row in zip(row, v).reduce(0) { $0 + $1.0 * $1.1 } }
                var next = [Double](repeating: 0, count: d)
                for (row, s) in zip(centred, projected) { for k in 0..<d { next[k] += row[k] * s } }
                for c in components {
                    let dot = zip(next, c).reduce(0) { $0 + $1.0 * $1.1 }
                    for k in 0..<d { next[k] -= dot * c[k] }
                }
                let norm = next.reduce(0) { $0 + $1 * $1 }.squareRoot()
                guard norm > 0 else { break }
                v = next.map { $0 / norm }
            }
            components.append(v)
        }
        var y = [Double](repeating: 0, count: 2 * n)
        for (i, row) in centred.enumerated() {
            for (c, component) in components.enumerated() { y[2 * i + c] = zip(row, component).reduce(0) { $0 + $1.0 * $1.1 } }
        }
        let xs = stride(from: 0, to: 2 * n, by: 2).map { y[$0] }
        let m = xs.reduce(0, +) / Double(n)
        let sd = (xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n)).squareRoot()
        let scale = sd > 0 ? 1e-4 / sd : 1
        // A jitter far below the scale breaks exact ties (duplicate rows) without moving the layout.
        return y.map { $0 * scale + random() * 1e-10 }
    }
}

extension Metrics {
    /// Trustworthiness of an embedding (Venna & Kaski 2001), as scikit-learn's `sklearn.manifold.trustworthiness`:
    /// 1 − 2 / (n k (2n − 3k − 1)) · Σᵢ Σ_{j ∈ Nₖ(i) in the embedding} max(0, r(i, j) − k), where r(i, j) is the rank of
    /// j among i's neighbours in the original space (Euclidean). 1 means every embedded neighbourhood was a true one.
    public static func trustworthiness(original: [[Double]], embedded: [[Double]], neighbors k: Int = 5) throws -> Double {
        let n = original.count
        guard n == embedded.count, k >= 1, k < n / 2 else {
            throw MetricError.invalidArgument("trustworthiness needs as many embedded as original points and 1 ≤ k < n / 2")
        }
        let dx = TSNE.squaredDistances(original), de = TSNE.squaredDistances(embedded)
        var total = 0.0
        for i in 0..<n {
            let others = (0..<n).filter { $0 != i }
            // Ranks in the original space (1 = nearest), ties broken by index as a stable sort does.
            let byOriginal = others.sorted { (dx[i * n + $0], $0) < (dx[i * n + $1], $1) }
            var rank = [Int](repeating: 0, count: n)
            for (r, j) in byOriginal.enumerated() { rank[j] = r + 1 }
            let nearestEmbedded = others.sorted { (de[i * n + $0], $0) < (de[i * n + $1], $1) }.prefix(k)
            for j in nearestEmbedded { total += Double(max(0, rank[j] - k)) }
        }
        return 1 - total * 2 / (Double(n) * Double(k) * (2 * Double(n) - 3 * Double(k) - 1))
    }
}
