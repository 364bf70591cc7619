import XCTest
import Foundation
import ForensightTensor
import ForensightNN
import ForensightMedia
import ForensightFaces
import ForensightData
import ForensightDetect
import ForensightEvaluation
import ForensightProtocols

/// `forensight embed`'s library part: features of real faces through t-SNE, the balanced subsample, the charts.
final class FeatureEmbeddingTests: XCTestCase {
    func sample(_ i: Int, label: Int) -> Sample {
        Sample(id: "s\(i)", path: "s\(i).png", label: label, method: label == 1 ? "m\(i % 2)" : nil, dataset: "d")
    }

    func testTheSubsampleIsSeededBalancedAndInOrder() {
        let faces = (0..<40).map { (sample: sample($0, label: $0 < 30 ? 0 : 1), frame: 0, image: $0) }
        let kept = FeatureEmbedding.subsample(faces, maxPoints: 20, seed: 4)
        XCTAssertEqual(kept.count, 20)
        XCTAssertEqual(kept.filter { $0.sample.label == 1 }.count, 10, "every fake (half the points)")
        XCTAssertEqual(kept.map(\.image), kept.map(\.image).sorted(), "original order")
        XCTAssertEqual(FeatureEmbedding.subsample(faces, maxPoints: 20, seed: 4).map(\.image), kept.map(\.image))
        XCTAssertNotEqual(FeatureEmbedding.subsample(faces, maxPoints: 20, seed: 5).map(\.image), kept.map(\.image))
        // Few fakes: all of them, the rest reals; nothing to drop: everything.
        let fewFakes = (0..<40).map { (sample: sample($0, label: $0 < 36 ? 0 : 1), frame: 0, image: $0) }
        XCTAssertEqual(FeatureEmbedding.subsample(fewFakes, maxPoints: 20, seed: 1).filter { $0.sample.label == 1 }.count, 4)
        XCTAssertEqual(FeatureEmbedding.subsample(faces, maxPoints: 50, seed: 1).count, 40)
    }

    func testRealFacesAreEmbeddedWithTheirClassesAndMethods() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/datasets/utkface-real/images").standardized.path
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder).sorted().filter({ $0.hasSuffix(".jpg") }).prefix(12),
              names.count == 12 else { throw XCTSkip("../shared/datasets/utkface-real absent") }
        let faceDetector: MTCNN
        do { faceDetector = try MTCNN() } catch { throw XCTSkip("MTCNN weights not installed") }
        let manifest = Manifest(names.enumerated().map { i, name in
            Sample(id: "u\(i)", path: folder + "/" + name, label: i < 8 ? 0 : 1, method: i < 8 ? nil : (i % 2 == 0 ? "even" : "odd"), dataset: "utk")
        } + [Sample(id: "broken", path: "/no/such/file.jpg", label: 0, dataset: "utk")])
        let detector = try ParameterInit.withSeed(3) { try MesoNetDetector(card: DetectorCard(id: "meso", architecture: "meso4")) }
        detector.network.eval()
        let embedding = try FeatureEmbedding.compute(manifest, detector: detector, faceDetector: faceDetector, frames: 1, maxPoints: 100,
                                                     tsne: TSNE(perplexity: 3, iterations: 300, seed: 2))
        XCTAssertEqual(embedding.points.count, 12, "one face per photo")
        XCTAssertEqual(embedding.skipped.map(\.id), ["broken"])
        XCTAssertEqual(embedding.featureWidth, 16)
        XCTAssertEqual(embedding.points.filter { $0.label == 1 }.map(\.sampleID), (8..<12).map { "u\($0)" })
        XCTAssertEqual(Set(embedding.points.compactMap(\.method)), ["even", "odd"])
        XCTAssertTrue((0...1).contains(embedding.trustworthiness) && embedding.klDivergence.isFinite)
        let charts = embedding.charts(model: "meso")
        XCTAssertEqual(charts.byClass.components(separatedBy: "<circle").count - 1, 12)
        XCTAssertTrue(charts.byMethod.contains(">even (n=2)</text>") && charts.byMethod.contains(">real (n=8)</text>"), charts.byMethod)
    }
}
