import XCTest
import Foundation
import ForensightEvaluation

/// t-SNE and trustworthiness against scikit-learn (fixture from scripts/reference/make_tsne_fixture.py).
final class TSNETests: XCTestCase {
    static let fixture: [String: Any] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/tsne.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()
    var data: [[Double]] { Self.fixture["data"] as! [[Double]] }

    func testTrustworthinessEqualsScikitLearns() throws {
        let layout = Self.fixture["random_layout"] as! [[Double]]
        XCTAssertEqual(try Metrics.trustworthiness(original: data, embedded: layout, neighbors: 5),
                       Self.fixture["trustworthiness_random_layout"] as! Double, accuracy: 1e-12)
        XCTAssertEqual(try Metrics.trustworthiness(original: data, embedded: data, neighbors: 5), 1, accuracy: 1e-12, "the data itself is perfectly trustworthy")
        XCTAssertThrowsError(try Metrics.trustworthiness(original: data, embedded: Array(layout.prefix(10))))
    }

    func testAffinitiesEqualScikitLearns() {
        let p = TSNE.jointProbabilities(TSNE.squaredDistances(data), perplexity: 30)
        let n = data.count
        for (i, row) in (Self.fixture["joint_p_rows"] as! [[Double]]).enumerated() {
            for (j, expected) in row.enumerated() where j != i {
                XCTAssertEqual(p[i * n + j], expected, accuracy: 1e-9 + 1e-5 * expected, "P[\(i)][\(j)]")
            }
        }
    }

    /// The gradient of the KL divergence against central differences.
    func testGradientMatchesFiniteDifferences() {
        let n = 12
        let small = Array(data.prefix(n))
        let p = TSNE.jointProbabilities(TSNE.squaredDistances(small), perplexity: 4)
        var y = (0..<(2 * n)).map { Double(($0 * 37) % 11) / 7 - 0.7 }
        let analytic = TSNE.gradient(p, y, n: n).grad
        let h = 1e-6
        for k in [0, 5, 13, 2 * n - 1] {
            let saved = y[k]
            y[k] = saved + h; let up = TSNE.gradient(p, y, n: n).kl
            y[k] = saved - h; let down = TSNE.gradient(p, y, n: n).kl
            y[k] = saved
            XCTAssertEqual(analytic[k], (up - down) / (2 * h), accuracy: 1e-5, "coordinate \(k)")
        }
    }

    func testTheEmbeddingIsAsGoodAsScikitLearns() throws {
        let result = try TSNE(perplexity: 30, seed: 0).embed(data)
        let ours = try Metrics.trustworthiness(original: data, embedded: result.points.map { [$0.x, $0.y] }, neighbors: 5)
        XCTAssertEqual(ours, Self.fixture["sklearn_trustworthiness"] as! Double, accuracy: 0.02)
        XCTAssertEqual(result.klDivergence, Self.fixture["sklearn_kl_divergence"] as! Double, accuracy: 0.1)
        // The three clusters stay apart: each point's nearest embedded neighbour is from its own cluster.
        XCTAssertGreaterThanOrEqual(Self.nearestInOwnCluster(result.points), 178)
        // Bad input is an error, not a crash.
        XCTAssertThrowsError(try TSNE().embed([[1, 2], [3]]))
        XCTAssertThrowsError(try TSNE(perplexity: 500).embed(data))
    }

    /// With angle 0 (every quadtree cell opened) and all pairs stored, the Barnes–Hut gradient is the exact one; with
    /// angle 0.5 it stays close.
    func testBarnesHutGradientIsTheExactOneAtAngleZero() {
        let n = 40
        var state: UInt64 = 3
        func next() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return Double(state >> 11) / Double(1 << 53) - 0.5 }
        let points = (0..<n).map { _ in (0..<5).map { _ in next() * 4 } }
        let p = TSNE.jointProbabilities(TSNE.squaredDistances(points), perplexity: 8)
        let y = (0..<(2 * n)).map { _ in next() * 3 }
        let exact = TSNE.gradient(p, y, n: n)
        let sparse = TSNE.SparseAffinities(dense: p, n: n)
        let tree = TSNE.barnesHutGradient(sparse, y, n: n, angle: 0, withKL: true)
        for (a, b) in zip(exact.grad, tree.grad) { XCTAssertEqual(a, b, accuracy: 1e-12) }
        XCTAssertEqual(exact.kl, tree.kl, accuracy: 1e-9)
        let approximate = TSNE.barnesHutGradient(sparse, y, n: n, angle: 0.5).grad
        let scale = exact.grad.map(abs).max()!
        for (a, b) in zip(exact.grad, approximate) { XCTAssertEqual(a, b, accuracy: 0.05 * scale) }
    }

    /// Barnes–Hut t-SNE on the fixture is as good as scikit-learn's `method="barnes_hut"`: trustworthiness within 0.02,
    /// KL divergence within 0.1, the three clusters apart.
    func testTheBarnesHutEmbeddingIsAsGoodAsScikitLearns() throws {
        var tsne = TSNE(perplexity: 30, seed: 0)
        tsne.method = .barnesHut
        let result = try tsne.embed(data)
        let ours = try Metrics.trustworthiness(original: data, embedded: result.points.map { [$0.x, $0.y] }, neighbors: 5)
        XCTAssertEqual(ours, Self.fixture["sklearn_bh_trustworthiness"] as! Double, accuracy: 0.02)
        XCTAssertEqual(result.klDivergence, Self.fixture["sklearn_bh_kl_divergence"] as! Double, accuracy: 0.1)
        XCTAssertGreaterThanOrEqual(Self.nearestInOwnCluster(result.points), 178)
    }

    /// Points whose nearest embedded neighbour is from their own cluster (the fixture's clusters are 60 points each).
    static func nearestInOwnCluster(_ points: [(x: Double, y: Double)]) -> Int {
        points.indices.filter { i in
            let j = points.indices.filter { $0 != i }.min { a, b in
                hypot(points[a].x - points[i].x, points[a].y - points[i].y) < hypot(points[b].x - points[i].x, points[b].y - points[i].y)
            }!
            return j / 60 == i / 60
        }.count
    }
}
