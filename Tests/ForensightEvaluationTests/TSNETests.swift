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
        let same = result.points.indices.filter { i in
            let j = result.points.indices.filter { $0 != i }.min { a, b in
                hypot(result.points[a].x - result.points[i].x, result.points[a].y - result.points[i].y)
                    < hypot(result.points[b].x - result.points[i].x, result.points[b].y - result.points[i].y)
            }!
            return j / 60 == i / 60
        }.count
        XCTAssertGreaterThanOrEqual(same, 178)
        // Bad input is an error, not a crash.
        XCTAssertThrowsError(try TSNE().embed([[1, 2], [3]]))
        XCTAssertThrowsError(try TSNE(perplexity: 500).embed(data))
    }
}
