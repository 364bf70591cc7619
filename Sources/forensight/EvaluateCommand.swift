import ArgumentParser
import Foundation
import ForensightMedia
import ForensightFaces
import ForensightData
import ForensightDetect
import ForensightEvaluation
import ForensightProtocols

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score detectors on datasets under the bench protocols and write one results JSON.",
        discussion: """
        Each dataset is imported as `forensight import` does. Every video or image is run through the detect pipeline (32 frames, MTCNN, tracked aligned crops, the model) for every model and condition, and every face-frame score is kept. Then, per model, condition and dataset, it computes every metric of docs/METRICS.md for all fakes and for each manipulation method against the dataset's reals. That is done at frame level and at video level, under the rules mean (DeepfakeBench) and max-mean (SBI). 95 % bootstrap intervals are added for the clean condition.

        Protocols:
          in-domain / cross-dataset   pass the datasets; each model is scored on each (the cross-dataset matrix)
          --robustness                clean, JPEG 100/90/75/50/30, Gaussian blur σ 2, Gaussian noise σ 10, downscale 2×,
                                      applied to the full frame before face detection
          --condition NAME            any of those by name (jpeg-q50, blur-sigma2, noise-sigma10, downscale-2x);
                                      prefix crop: to degrade the face crop instead (crop:jpeg-q50)
          --model NAME=FILE           repeat; several files with the same NAME are runs of one method (different
                                      training seeds), and the summaries give their mean and standard deviation

        Samples a model was trained on are skipped. They are listed in FILE.training-ids.txt next to its weights, or in --exclude-ids. The results file is the single source of truth for `forensight report`. Run with the same seed, it is identical.

        Examples:
          forensight evaluate ../shared/datasets/ffpp-c23-mini ../shared/datasets/celebdf-mini --out results.json
          forensight evaluate ../shared/datasets/ffpp-c23-mini --robustness --out robustness.json
        """)

    @Argument(help: "Dataset folders or label files.")
    var datasets: [String]

    @Option(help: "Where to write the results (JSON).")
    var out: String

    @Option(help: "A detector as NAME=FILE (repeat). Default: the shipped model as sbi.")
    var model: [String] = []

    @Flag(help: "Clean plus the JPEG sweep and the blur, noise and downscale degradations.")
    var robustness = false

    @Option(help: "A condition by name (repeat), e.g. jpeg-q50 or crop:blur-sigma2.")
    var condition: [String] = []

    @Option(help: "Sample ids (one per line) to leave out, e.g. a model's training set.")
    var excludeIds: String?

    @Option(help: "Frames sampled per video.")
    var frames = 32

    @Option(help: "Seed of the noise degradation and the bootstrap.")
    var seed: UInt64 = 0

    func validate() throws {
        guard frames > 0 else { throw ValidationError("--frames must be positive") }
        for spec in model where !spec.contains("=") { throw ValidationError("--model takes NAME=FILE, got \(spec)") }
        for name in condition where EvaluationCondition(name: name) == nil { throw ValidationError("unknown condition \(name)") }
    }

    func run() throws {
        let modelSpecs: [(String, String)]
        if model.isEmpty {
            guard let path = ModelLocations.defaultModel() else { fail("no detector found: pass --model NAME=FILE") }
            modelSpecs = [("sbi", path)]
        } else {
            modelSpecs = model.map { spec in let parts = spec.split(separator: "=", maxSplits: 1); return (String(parts[0]), String(parts[1])) }
        }
        var conditions: [EvaluationCondition] = [.clean]
        if robustness { conditions += EvaluationCondition.jpegSweep + EvaluationCondition.degradations(seed: seed) }
        for name in condition {
            guard var c = EvaluationCondition(name: name) else { continue }
            if case .gaussianNoise(let sigma, 0)? = c.perturbation, !name.contains("-seed") { c.perturbation = .gaussianNoise(sigma: sigma, seed: seed) }
            if !conditions.contains(c) { conditions.append(c) }
        }

        var manifest = Manifest(), datasetEntries: [EvaluationResults.Dataset] = []
        for path in datasets {
            do {
                let loaded = try DatasetLayout.importer(for: path).load()
                manifest.append(contentsOf: loaded, skippingDuplicateIDs: true)
                for name in Set(loaded.map(\.dataset)).sorted() {
                    let members = loaded.filter { $0.dataset == name }
                    datasetEntries.append(.init(name: name, path: path, real: members.filter { !$0.isFake }.count, fake: members.filter(\.isFake).count,
                                                methods: Set(members.filter(\.isFake).compactMap(\.method)).sorted()))
                }
            } catch { fail("\(error)") }
        }
        let faceDetector: MTCNN
        do { faceDetector = try MTCNN() } catch { fail("\(error) (run scripts/setup/weights.sh)") }
        let runner = EvaluationRunner(frames: frames, faceDetector: faceDetector)
        var models: [EvaluationResults.Model] = [], items: [EvaluationResults.Item] = []
        for (run, (name, path)) in modelSpecs.enumerated() {
            let detector: DeepfakeDetector
            do { detector = try DeepfakeDetector(path: path) } catch { fail("\(error)") }
            models.append(.init(name: name, path: path, id: detector.card.id, sha256: detector.weightsSHA256,
                                threshold: Double(detector.card.threshold), notes: detector.card.notes))
            let excluded = try excludedIDs(for: path)
            let tested = Manifest(manifest.samples.filter { !excluded.contains($0.id) })
            if tested.count < manifest.count { note("\(name): leaving out \(manifest.count - tested.count) samples it was trained on") }
            for c in conditions {
                var bar = ProgressBar("evaluate \(name) \(c.name)", total: tested.count)
                items += runner.score(tested, detector: detector, modelName: name, run: run, condition: c) { done, _ in bar.update(done) }
                bar.finish()
            }
        }
        let failed = items.filter { $0.error != nil }
        for item in failed.prefix(10) { note("forensight: \(item.error!)") }
        var results = EvaluationResults(command: (["forensight"] + CommandLine.arguments.dropFirst()).joined(separator: " "), seed: seed,
                                        framesPerVideo: frames, models: models, datasets: datasetEntries, conditions: conditions.map(\.name),
                                        items: items)
        do { try results.computeMetrics() } catch { fail("metrics: \(error)") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { try encoder.encode(results).write(to: URL(fileURLWithPath: out), options: .atomic) } catch { fail("\(out): \(error)") }
        for s in results.summaries where s.condition == "clean" && s.level == "video (maxOverFacesThenMean)" {
            note(String(format: "%@ on %@ (%@): video AUC %.4f", s.model, s.dataset, s.subset, s.aucMean))
        }
        if !failed.isEmpty && failed.count == items.count { throw ExitCode(1) }
    }

    /// Ids listed in --exclude-ids, or else in `<model>.training-ids.txt` when that file exists.
    func excludedIDs(for modelPath: String) throws -> Set<String> {
        let file = excludeIds ?? ((modelPath as NSString).deletingPathExtension + ".training-ids.txt")
        guard FileManager.default.fileExists(atPath: file) else {
            if let excludeIds { fail("\(excludeIds): no such file") }
            return []
        }
        do {
            return Set(try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init).filter { !$0.isEmpty })
        } catch { fail("\(file): \(error)") }
    }
}
