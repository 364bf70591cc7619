import Foundation
import ForensightTensor
import ForensightMedia
import ForensightFaces
import ForensightData
import ForensightDetect
import ForensightEvaluation

/// The features of a detector for a dataset's face-frames, laid out in 2-D by t-SNE (`forensight embed`): one point
/// per face crop (the largest face of each sampled frame), with the sample's class, method and dataset, so a chart can
/// colour them by real/fake or by method.
public struct FeatureEmbedding: Sendable {
    /// One embedded face-frame.
    public struct Point: Codable, Sendable, Equatable {
        public var x: Double, y: Double
        public var sampleID: String
        public var frame: Int
        public var label: Int
        public var method: String?
        public var dataset: String
    }

    public var points: [Point]
    /// Trustworthiness of the layout (k = 5) against the features themselves: how many embedded neighbourhoods were
    /// true ones (1 = all).
    public var trustworthiness: Double
    public var klDivergence: Double
    public var featureWidth: Int
    /// Samples that could not be read or had no face, with the reason.
    public var skipped: [(id: String, reason: String)]

    /// Reads `manifest`'s faces (the largest face of `frames` evenly spaced frames per video, the largest face of a
    /// photo), keeps at most `maxPoints` face-frames (a seeded draw, balanced between reals and fakes where both are
    /// present), takes `detector`'s features and embeds them with `tsne`.
    public static func compute(_ manifest: Manifest, detector: any FeatureDetector, faceDetector: MTCNN, frames: Int, maxPoints: Int,
                               tsne: TSNE, progress: (Int, Int) -> Void = { _, _ in }) throws -> FeatureEmbedding {
        let reader = MediaFaceReader(detector: faceDetector, extraction: FaceExtractionOptions(selection: .largest),
                                     cropper: detector.card.cropper, sampling: .uniform(count: frames))
        var faces: [(sample: Sample, frame: Int, image: RGBImage)] = []
        var skipped: [(String, String)] = []
        for (i, sample) in manifest.enumerated() {
            do {
                let read = try reader.read(path: sample.path)
                if read.crops.isEmpty { skipped.append((sample.id, "no face")) }
                for crop in read.crops { faces.append((sample, crop.frameIndex, crop.image)) }
            } catch { skipped.append((sample.id, "\(error)")) }
            progress(i + 1, manifest.count)
        }
        faces = subsample(faces, maxPoints: maxPoints, seed: tsne.seed)
        guard faces.count >= 8 else {
            throw MetricError.invalidArgument("t-SNE needs at least 8 face-frames; found \(faces.count) in \(manifest.count) samples")
        }
        let features = detector.features(faces.map(\.image), batchSize: 16).map { $0.map(Double.init) }
        var settings = tsne
        settings.perplexity = min(tsne.perplexity, Double(faces.count - 1) / 3)
        let layout = try settings.embed(features)
        let trust = try Metrics.trustworthiness(original: features, embedded: layout.points.map { [$0.x, $0.y] },
                                                neighbors: min(5, faces.count / 2 - 1))
        let points = zip(faces, layout.points).map { face, p in
            Point(x: p.x, y: p.y, sampleID: face.sample.id, frame: face.frame, label: face.sample.label, method: face.sample.method,
                  dataset: face.sample.dataset)
        }
        return FeatureEmbedding(points: points, trustworthiness: trust, klDivergence: layout.klDivergence,
                                featureWidth: detector.featureWidth, skipped: skipped)
    }

    /// At most `maxPoints` of `faces`, drawn with a seed: half from the reals and half from the fakes when both are
    /// present (the smaller class whole if it has fewer), in their original order.
    public static func subsample<T>(_ faces: [(sample: Sample, frame: Int, image: T)], maxPoints: Int, seed: UInt64) -> [(sample: Sample, frame: Int, image: T)] {
        guard faces.count > maxPoints else { return faces }
        var random = SeededRandom(seed: seed)
        let reals = faces.indices.filter { faces[$0].sample.label == 0 }, fakes = faces.indices.filter { faces[$0].sample.label != 0 }
        let realShare = fakes.isEmpty ? maxPoints : reals.isEmpty ? 0 : max(maxPoints / 2, maxPoints - fakes.count)
        let keptReals = reals.shuffled(using: &random).prefix(min(realShare, reals.count))
        let keptFakes = fakes.shuffled(using: &random).prefix(maxPoints - keptReals.count)
        return (Array(keptReals) + Array(keptFakes)).sorted().map { faces[$0] }
    }

    /// Two scatter charts: by class (real / fake) and by method (reals as one group), titled with `model`.
    public func charts(model: String) -> (byClass: String, byMethod: String) {
        let byClass = [("real", points.filter { $0.label == 0 }), ("fake", points.filter { $0.label != 0 })]
            .filter { !$0.1.isEmpty }.map { (name: $0.0, points: $0.1.map { (x: $0.x, y: $0.y) }) }
        let methods = Set(points.filter { $0.label != 0 }.map { $0.method ?? "fake" }).sorted()
        let byMethod = [(name: "real", points: points.filter { $0.label == 0 }.map { (x: $0.x, y: $0.y) })].filter { !$0.points.isEmpty }
            + methods.map { m in (name: m, points: points.filter { $0.label != 0 && ($0.method ?? "fake") == m }.map { (x: $0.x, y: $0.y) }) }
        let title = String(format: "t-SNE of %@ features (trustworthiness %.3f)", model, trustworthiness)
        let chart = SVGChart(title: title, xLabel: "t-SNE 1", yLabel: "t-SNE 2")
        return (chart.scatter(byClass), chart.scatter(byMethod))
    }
}
