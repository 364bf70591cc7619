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

    @Flag(help: "Score only the test split of the project's protocol (ProtocolSplit: every fake, the reals of people in fakes, a seeded 20 % of the other real people or photos), as `train` defines it.")
    var testSplit = false

    @Option(help: "Seed of the protocol split (--test-split); the same as train's --split-seed.")
    var splitSeed: UInt64 = 0

    @Flag(help: "The stability protocol instead: every k-th sample per dataset (videos as --stability-frames frames saved as JPEG 95), scored clean and under each --edit; flip rates, |ΔP(fake)| and paired AUC changes.")
    var stability = false

    @Option(help: "A stability edit (repeat): png (ffmpeg's decoding, lossless), jpeg-qQ, scale-F, crop-F, mirror. Default: png, jpeg-q93, jpeg-q71, scale-0.75, scale-0.5, crop-0.96, mirror.")
    var edit: [String] = []

    @Option(help: "Stability protocol: samples per dataset (every k-th, sorted by id).")
    var stabilitySamples = 100

    @Option(help: "Stability protocol: frames per video, written as JPEG quality 95.")
    var stabilityFrames = 8

    @Flag(help: "Continue an interrupted run: items already in OUT.partial.jsonl (written as they are scored) are kept, not scored again; with --stability, a model whose items are all there is not scored again.")
    var resume = false

    @Option(help: "Landmarks that align face crops, for every model: mtcnn or facemesh (default: each model's own).")
    var landmarks: LandmarkSource?

    @Option(help: "Frames sampled per video.")
    var frames = 32

    @Option(help: "Seed of the noise degradation and the bootstrap.")
    var seed: UInt64 = 0

    func validate() throws {
        guard frames > 0 else { throw ValidationError("--frames must be positive") }
        for spec in model where !spec.contains("=") { throw ValidationError("--model takes NAME=FILE, got \(spec)") }
        for name in condition where EvaluationCondition(name: name) == nil { throw ValidationError("unknown condition \(name)") }
        for name in edit where StabilityEdit(name: name) == nil { throw ValidationError("unknown edit \(name) (png, jpeg-q93, scale-0.5, crop-0.96, mirror)") }
        guard stabilitySamples > 0, stabilityFrames > 0 else { throw ValidationError("--stability-samples and --stability-frames must be positive") }
        if stability && (robustness || !condition.isEmpty) { throw ValidationError("--stability runs its own edits; leave out --robustness and --condition") }
    }

    func run() throws {
        let modelSpecs: [(String, String)]
        if model.isEmpty {
            guard let path = ModelLocations.defaultModel() else { throw fail("no detector found: pass --model NAME=FILE") }
            modelSpecs = [("sbi", path)]
        } else {
            modelSpecs = model.map { spec in let parts = spec.split(separator: "=", maxSplits: 1); return (String(parts[0]), String(parts[1])) }
        }
        var conditions: [EvaluationCondition] = [.clean]
        var conditionNames: [String]?
        if robustness { conditions += EvaluationCondition.jpegSweep + EvaluationCondition.degradations(seed: seed) }
        for name in condition {
            guard var c = EvaluationCondition(name: name) else { continue }
            if case .gaussianNoise(let sigma, 0)? = c.perturbation, !name.contains("-seed") { c.perturbation = .gaussianNoise(sigma: sigma, seed: seed) }
            if !conditions.contains(c) { conditions.append(c) }
        }

        var manifest = Manifest(), datasetEntries: [EvaluationResults.Dataset] = []
        var attributes: [String: [String: String]] = [:]
        for path in datasets {
            do {
                var loaded = try DatasetLayout.importer(for: path).load()
                if testSplit { loaded = ProtocolSplit(seed: splitSeed).parts(of: loaded).test }
                if let table = try AttributeTable.load(folder: path) {
                    for s in loaded { if let a = table[s.path] { attributes[s.id] = a } }
                }
                manifest.append(contentsOf: loaded, skippingDuplicateIDs: true)
                for name in Set(loaded.map(\.dataset)).sorted() {
                    let members = loaded.filter { $0.dataset == name }
                    datasetEntries.append(.init(name: name, path: path, real: members.filter { !$0.isFake }.count, fake: members.filter(\.isFake).count,
                                                methods: Set(members.filter(\.isFake).compactMap(\.method)).sorted()))
                }
            } catch { throw fail("\(error)") }
        }
        let faceDetector: MTCNN
        do { faceDetector = try MTCNN() } catch { throw fail("\(error) (run scripts/setup/weights.sh)") }
        let runner = EvaluationRunner(frames: frames, faceDetector: faceDetector)
        var models: [EvaluationResults.Model] = [], items: [EvaluationResults.Item] = []
        let journal = EvaluationJournal(path: out + ".partial.jsonl")
        if !resume { journal.reset() }
        if stability {
            conditions = [.clean]
            let edits = edit.isEmpty ? StabilityEdit.defaults : edit.compactMap(StabilityEdit.init(name:))
            (models, items) = try runStability(manifest, modelSpecs: modelSpecs, edits: edits, faceDetector: faceDetector, attributes: attributes,
                                               journal: journal)
            conditionNames = ["clean"] + edits.map(\.conditionName)
        }
        var done: [String: EvaluationResults.Item] = [:]
        if resume && !stability { for item in journal.read() { done[EvaluationJournal.key(item)] = item } }
        if !done.isEmpty { note("resuming: \(done.count) items already scored in \(journal.path)") }
        for (run, (name, path)) in (stability ? [] : modelSpecs).enumerated() {
            let detector: any Detector
            do { detector = try DetectorRegistry.load(path: path) } catch { throw fail("\(error)") }
            models.append(.init(name: name, path: path, id: detector.card.id, sha256: detector.weightsSHA256,
                                threshold: Double(detector.card.threshold), notes: detector.card.notes))
            let refiner: LandmarkRefiner?
            do { refiner = try Pipeline.landmarkRefiner(for: detector, override: landmarks) } catch { throw fail("\(error)") }
            let excluded = try excludedIDs(for: path)
            let tested = Manifest(manifest.samples.filter { !excluded.contains($0.id) })
            if tested.count < manifest.count { note("\(name): leaving out \(manifest.count - tested.count) samples it was trained on") }
            // Crop-stage conditions share one read per sample (faces are found once, each condition degrades the crops).
            let cropConditions = conditions.filter { $0.stage == .crop }
            if !cropConditions.isEmpty {
                var bar = ProgressBar("evaluate \(name) \(cropConditions.count) crop conditions", total: tested.count)
                func key(_ c: EvaluationCondition, _ id: String) -> String { EvaluationJournal.key(model: name, run: run, condition: c.name, id: id) }
                let todo = Manifest(tested.samples.filter { s in cropConditions.contains { done[key($0, s.id)] == nil } })
                let scored = runner.scoreCropConditions(todo, detector: detector, modelName: name, run: run, conditions: cropConditions,
                                                        landmarkRefiner: refiner, progress: { finished, _ in bar.update(tested.count - todo.count + finished) },
                                                        scored: { journal.append($0) })
                bar.finish()
                for c in cropConditions {
                    let byID = Dictionary((scored.filter { $0.condition == c.name } + tested.samples.compactMap { done[key(c, $0.id)] }).map { ($0.id, $0) },
                                          uniquingKeysWith: { a, _ in a })
                    items += tested.samples.compactMap { sample in byID[sample.id].map { var item = $0; item.attributes = attributes[item.id]; return item } }
                }
            }
            for c in conditions where c.stage == .frame {
                var bar = ProgressBar("evaluate \(name) \(c.name)", total: tested.count)
                let kept = tested.samples.compactMap { done[EvaluationJournal.key(model: name, run: run, condition: c.name, id: $0.id)] }
                let todo = Manifest(tested.samples.filter { done[EvaluationJournal.key(model: name, run: run, condition: c.name, id: $0.id)] == nil })
                let scored = runner.score(todo, detector: detector, modelName: name, run: run, condition: c, landmarkRefiner: refiner,
                                          progress: { finished, _ in bar.update(kept.count + finished) },
                                          scored: { journal.append($0) })
                // Journal order and scoring order differ after a resume; the results keep the manifest's order.
                let byID = Dictionary((kept + scored).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
                items += tested.samples.compactMap { sample in byID[sample.id].map { var item = $0; item.attributes = attributes[item.id]; return item } }
                bar.finish()
            }
        }
        let failed = items.filter { $0.error != nil }
        for item in failed.prefix(10) { note("forensight: \(item.error!)") }
        var results = EvaluationResults(command: (["forensight"] + CommandLine.arguments.dropFirst()).joined(separator: " "), seed: seed,
                                        framesPerVideo: frames, models: models, datasets: datasetEntries, conditions: conditionNames ?? conditions.map(\.name),
                                        items: items)
        do { try results.computeMetrics() } catch { throw fail("metrics: \(error)") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { try encoder.encode(results).write(to: URL(fileURLWithPath: out), options: .atomic) } catch { throw fail("\(out): \(error)") }
        journal.remove()
        for s in results.summaries where s.condition == "clean" && s.level == "video (maxOverFacesThenMean)" {
            note(String(format: "%@ on %@ (%@): video AUC %.4f", s.model, s.dataset, s.subset, s.aucMean))
        }
        for r in results.crossAUC where r.condition == "clean" && r.matrix.realDatasets.count + r.matrix.fakeDatasets.count > 2 {
            if let w = r.matrix.worst {
                note(String(format: "%@: lowest Cross-AUC %.4f (%@ reals against %@ fakes)", r.model, w.auc, w.reals, w.fakes))
            }
        }
        for r in results.stability where r.subset != "all" {
            note(String(format: "%@ on %@ (%@), %@: %d of %d verdicts flipped (%.1f %%), mean |ΔP| %.3f", r.model, r.dataset, r.subset, r.edit,
                        r.flips, r.pairs, 100 * r.flipRate, r.meanAbsDelta ?? .nan))
        }
        for r in results.realFlags where r.condition == "clean" && r.group == "all" {
            note(String(format: "%@ on %@: %d of %d reals called FAKE (%.1f %%), %d without a face", r.model, r.dataset, r.flagged, r.units,
                        100 * r.rate, r.noFace))
        }
        if !failed.isEmpty && failed.count == items.count { throw ExitCode(1) }
    }

    /// Ids listed in --exclude-ids, or else in `<model>.training-ids.txt` when that file exists.
    func excludedIDs(for modelPath: String) throws -> Set<String> {
        let file = excludeIds ?? ((modelPath as NSString).deletingPathExtension + ".training-ids.txt")
        guard FileManager.default.fileExists(atPath: file) else {
            if let excludeIds { throw fail("\(excludeIds): no such file") }
            return []
        }
        do {
            return Set(try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init).filter { !$0.isEmpty })
        } catch { throw fail("\(file): \(error)") }
    }

    /// The stability protocol for every model: the same sampled images (left out: what any of the models trained on).
    /// With --resume, a model whose items are all in the journal (same name and run) is not scored again.
    func runStability(_ manifest: Manifest, modelSpecs: [(String, String)], edits: [StabilityEdit], faceDetector: MTCNN,
                      attributes: [String: [String: String]], journal: EvaluationJournal) throws -> ([EvaluationResults.Model], [EvaluationResults.Item]) {
        var excluded = Set<String>()
        for (_, path) in modelSpecs { excluded.formUnion(try excludedIDs(for: path)) }
        let tested = Manifest(manifest.samples.filter { !excluded.contains($0.id) })
        let work = NSTemporaryDirectory() + "forensight-stability-\(ProcessInfo.processInfo.processIdentifier)"
        defer { try? FileManager.default.removeItem(atPath: work) }
        let runner = StabilityRunner(faceDetector: faceDetector, edits: edits, workFolder: work)
        let images: [StabilityImage]
        do {
            images = try runner.images(of: tested, perDataset: stabilitySamples, framesPerVideo: stabilityFrames) { sample, error in
                note("forensight: \(sample.path): skipped: \(error)")
            }
        } catch { throw fail("\(work): \(error)") }
        note("stability: \(images.count) images × \(edits.count + 1) versions per model")
        var models: [EvaluationResults.Model] = [], items: [EvaluationResults.Item] = []
        for (run, (name, path)) in modelSpecs.enumerated() {
            let detector: any Detector
            do { detector = try DetectorRegistry.load(path: path) } catch { throw fail("\(error)") }
            models.append(.init(name: name, path: path, id: detector.card.id, sha256: detector.weightsSHA256,
                                threshold: Double(detector.card.threshold), notes: detector.card.notes))
            let journaled = resume ? journal.read().filter { $0.model == name && $0.run == run } : []
            var scored: [EvaluationResults.Item]
            if journaled.count == images.count * (edits.count + 1) {
                note("resuming: \(name)'s \(journaled.count) stability items are in \(journal.path)")
                scored = journaled
            } else {
                var bar = ProgressBar("stability \(name)", total: images.count)
                let refiner: LandmarkRefiner?
                do { refiner = try Pipeline.landmarkRefiner(for: detector, override: landmarks) } catch { throw fail("\(error)") }
                scored = runner.score(images, detector: detector, modelName: name, run: run, frames: frames, landmarkRefiner: refiner) { done, _ in
                    bar.update(done)
                }
                bar.finish()
                for item in scored { journal.append(item) }
            }
            for i in scored.indices { scored[i].attributes = attributes[String(scored[i].id.split(separator: "#").first ?? "")] }
            items += scored
        }
        return (models, items)
    }
}
