import ArgumentParser
import Foundation
import ForensightFaces
import ForensightData
import ForensightDetect
import ForensightEvaluation
import ForensightProtocols

/// `forensight embed`: a detector's features of a dataset's faces, laid out in 2-D by t-SNE.
struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lay out a detector's features of a dataset's faces in 2-D (t-SNE), coloured by real/fake and by method.",
        discussion: """
        For each sample, the largest face of --frames evenly spaced frames (a photo: its largest face) is cut as the model card says, and the detector's penultimate features are taken (1,280 for EfficientNet-Lite, 16 for meso4 and mesoinception4). At most --max-points face-frames are kept (a seeded draw, half reals and half fakes when both are there), then embedded with t-SNE (scikit-learn's schedule; exact up to 2,000 points, Barnes–Hut above, or as --tsne-method says; perplexity and seed as options). The samples a model was trained on (its .training-ids.txt) are left out.

        Writes into --out: tsne-class.svg (real against fake), tsne-method.svg (each manipulation method), and embedding.json (every point with its sample, frame, class, method and dataset, the trustworthiness of the layout and the KL divergence). Prints the trustworthiness (1 = every neighbourhood in the picture is one in feature space). The cost grows with the square of the points: 2,000 take about a minute.

        Examples:
          forensight embed ../shared/datasets/ffpp-c23-mini --test-split --out embed-ffpp
          forensight embed ../shared/datasets/ffpp-c23-mini ../shared/datasets/celebdf-mini --model runs/meso4.safetensors --max-points 500 --out embed-meso
        """)

    @Argument(help: "Dataset folders or label files.")
    var datasets: [String]

    @Option(help: "The detector file (default: the shipped model).")
    var model: String?

    @Option(help: "The folder to write the charts and embedding.json into.")
    var out: String

    @Option(help: "Frames per video.")
    var frames = 4

    @Option(help: "Most face-frames embedded.")
    var maxPoints = 1500

    @Option(help: "t-SNE perplexity (about the number of neighbours each point keeps close).")
    var perplexity = 30.0

    @Option(help: "Seed of the subsample and the t-SNE initialisation.")
    var seed: UInt64 = 0

    @Option(help: "t-SNE gradient: exact (all pairs), barnes-hut (nearest neighbours and a quadtree, for thousands of points), or auto (exact up to 2,000 points).")
    var tsneMethod: TSNE.Method = .auto

    @Flag(help: "Only the test split of the project's protocol, as `evaluate --test-split`.")
    var testSplit = false

    func validate() throws {
        guard (1...1000).contains(frames) else { throw ValidationError("--frames must be between 1 and 1000") }
        guard (8...20_000).contains(maxPoints) else { throw ValidationError("--max-points must be between 8 and 20000") }
        guard perplexity > 0 && perplexity.isFinite else { throw ValidationError("--perplexity must be positive") }
    }

    func run() throws {
        guard let modelPath = model ?? ModelLocations.defaultModel() else { throw fail("no detector found: pass --model FILE") }
        let loaded: any Detector
        do { loaded = try DetectorRegistry.load(path: modelPath) } catch { throw fail("\(error)") }
        guard let detector = loaded as? any FeatureDetector else {
            throw fail("\(modelPath): a \(loaded.card.architecture) detector does not expose features (embed takes efficientnet-lite0/-lite2, meso4 and mesoinception4)")
        }
        var manifest = Manifest()
        for path in datasets {
            do {
                var samples = try DatasetLayout.importer(for: path).load()
                if testSplit { samples = ProtocolSplit().parts(of: samples).test }
                manifest.append(contentsOf: samples, skippingDuplicateIDs: true)
            } catch { throw fail("\(error)") }
        }
        let trained = (modelPath as NSString).deletingPathExtension + ".training-ids.txt"
        if let ids = try? String(contentsOfFile: trained, encoding: .utf8) {
            let seen = Set(ids.split(separator: "\n").map(String.init))
            manifest = Manifest(manifest.filter { !seen.contains($0.id) })
        }
        guard !manifest.isEmpty else { throw fail("no samples to embed in \(datasets.joined(separator: ", "))") }
        let faceDetector: MTCNN
        do { faceDetector = try MTCNN() } catch { throw fail("\(error) (run scripts/setup/weights.sh)") }
        var bar = ProgressBar("faces", total: manifest.count)
        var tsneSettings = TSNE(perplexity: perplexity, seed: seed)
        tsneSettings.method = tsneMethod
        let embedding: FeatureEmbedding
        do {
            embedding = try FeatureEmbedding.compute(manifest, detector: detector, faceDetector: faceDetector, frames: frames, maxPoints: maxPoints,
                                                     tsne: tsneSettings) { done, _ in bar.update(done) }
        } catch { throw fail("\(error)") }
        bar.finish()
        for (id, reason) in embedding.skipped.prefix(10) { note("forensight: \(id): skipped: \(reason)") }
        let charts = embedding.charts(model: detector.card.id)
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try charts.byClass.write(toFile: out + "/tsne-class.svg", atomically: true, encoding: .utf8)
            try charts.byMethod.write(toFile: out + "/tsne-method.svg", atomically: true, encoding: .utf8)
            let document = EmbeddingFile(model: detector.card.id, modelSHA256: detector.weightsSHA256, featureWidth: embedding.featureWidth,
                                         perplexity: perplexity, seed: seed, trustworthiness: embedding.trustworthiness,
                                         klDivergence: embedding.klDivergence, points: embedding.points)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try encoder.encode(document).write(to: URL(fileURLWithPath: out + "/embedding.json"), options: .atomic)
        } catch { throw fail("\(out): \(error)") }
        print(String(format: "%@: %d face-frames of %d samples, %d features each; trustworthiness %.4f, KL %.4f → %@", detector.card.id,
                     embedding.points.count, manifest.count, embedding.featureWidth, embedding.trustworthiness, embedding.klDivergence, out))
    }
}

/// `embedding.json`.
struct EmbeddingFile: Codable {
    var schema = "forensight.embed/1"
    var model: String
    var modelSHA256: String
    var featureWidth: Int
    var perplexity: Double
    var seed: UInt64
    var trustworthiness: Double
    var klDivergence: Double
    var points: [FeatureEmbedding.Point]
    enum CodingKeys: String, CodingKey {
        case schema, model, modelSHA256 = "model_sha256", featureWidth = "feature_width", perplexity, seed, trustworthiness
        case klDivergence = "kl_divergence", points
    }
}

extension TSNE.Method: ExpressibleByArgument {}
