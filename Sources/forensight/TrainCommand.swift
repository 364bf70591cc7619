import ArgumentParser
import Foundation
import ForensightTensor
import ForensightNN
import ForensightMedia
import ForensightFaces
import ForensightData
import ForensightModels
import ForensightDetect
import ForensightTraining
import ForensightOptim

/// Detector recipes `train` knows.
enum DetectorRecipe: String, ExpressibleByArgument, CaseIterable {
    /// Self-blended images: the face-swap detector.
    case sbi
    /// Reals against the trace simulator's reconstructions: the whole-face-synthesis detector (needs --simulator).
    case synthesis
    /// The trace simulator itself: autoencoders that learn to reproduce real faces.
    case traceSimulator = "trace-simulator"
    /// Not a network: the logistic stacking of trained --member detectors, fitted on the validation split.
    case ensemble
    /// The lip-sync detector: mouth motion of real videos against simulated lip-sync (TrainMouthMotion.swift).
    case mouthMotion = "mouth-motion"
    /// RFFR stage 2: crop and inpainter-residual branches, reals against self-blends (needs --inpainter; TrainRFFR.swift).
    case rffr
    /// RFFR stage 1: the block inpainter, trained to restore masked blocks of real faces.
    case rffrInpainter = "rffr-inpainter"
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a detector (EfficientNet-Lite0 by default) on real faces and their self-blended fakes (SBI).",
        discussion: """
        The datasets are imported as `forensight import` does and split by the project's protocol (ProtocolSplit, as `evaluate --test-split`): every fake, every real of a person who appears in a fake and a seeded --test-fraction of the other people, photos or videos are test and never loaded; a seeded --val-fraction of the rest is validation (epoch choice, calibration, threshold); the remaining reals train. Faces are cut once into --cache (resumable, shared with `prepare`). Each step blends a perturbed copy of each real face back into itself inside a landmark-derived mask, augments reals and fakes alike (JPEG, blur, noise, resize, colour, flip), and takes an AdamW step with a cosine schedule. After each epoch: validation AUC of held-out reals against their self-blends, a checkpoint, and best.safetensors when the score improved. --export writes the best weights with a Platt calibration and a threshold fitted on validation. A run is deterministic for a seed; --resume continues an interrupted one from its last epoch. See docs/TRAINING.md.

        Examples:
          forensight train --detector sbi --data ../shared/datasets/ffpp-c23-mini --data ../shared/datasets/utkface-real \\
              --out runs/sbi --export models/sbi-efficientnet-lite0.safetensors
          forensight train --detector sbi --data ffpp/ --out runs/sbi --resume
          forensight train --detector sbi --architecture efficientnet-lite2 --input-size 256 --data ffpp/ --out runs/sbi-lite2
          forensight train --detector sbi --data ffpp/ --out runs/sbi --preview sbi_examples.png
          forensight train --detector sbi --architecture forgelens-efficientnet-lite0 --data ffpp/ --out runs/forgelens \\
              --feature-cache runs/forgelens-features --cache-views 4 --epochs 20
        """)

    @Option(help: "The recipe: sbi (self-blended images), synthesis (reals against --simulator's reconstructions), trace-simulator (the autoencoders synthesis needs), ensemble (stacking of --member detectors fitted on validation reals, self-blends and --simulator's fakes), mouth-motion (the lip-sync detector: real videos' mouth motion against simulated lip-sync), rffr-inpainter (RFFR stage 1: a block inpainter trained on real faces), rffr (RFFR stage 2: crop and inpainter-residual branches against self-blends; needs --inpainter).")
    var detector: DetectorRecipe = .sbi

    @Option(name: .customLong("member"), help: "ensemble: a trained detector file (repeat, at least two; they must crop faces alike).")
    var members: [String] = []

    @Option(name: .customLong("ensemble-id"), help: "ensemble: the ensemble's id (default: the member ids joined by +).")
    var ensembleID: String?

    @Option(help: "trace-simulator: channels after each autoencoder's first down-sampling (doubling per stage).")
    var traceWidth = 32

    @Option(help: "trace-simulator: down-sampling stages per autoencoder (fewer stages keep more detail, so the fakes are sharper).")
    var traceStages = 2

    @Option(help: "synthesis: keep only the reconstruction's high frequencies above a Gaussian blur of this σ, on the real's low ones (0: the whole reconstruction).")
    var traceHighPass: Float = 0

    @Option(help: "synthesis: the trace simulator whose reconstructions are the fakes (from `train --detector trace-simulator --export`).")
    var simulator: String?

    @Option(help: "rffr: the block inpainter whose residual is the second branch's input (from `train --detector rffr-inpainter --export`).")
    var inpainter: String?

    @Option(help: "rffr-inpainter: channels of the inpainter's first convolution (2× and 4× deeper).")
    var inpainterWidth = 16

    @Option(help: "rffr-inpainter: side of the working image a face crop is resized to before masking.")
    var workingSize = 128

    @Option(help: "rffr-inpainter: side of one block of the masking grid.")
    var blockSize = 16

    @Option(help: "rffr-inpainter: K, the complementary masks the grid's blocks are split into (K passes restore every block once).")
    var maskPasses = 4

    @Option(help: "A dataset folder or label file (repeat for several).")
    var data: [String]

    @Option(help: "The run folder: checkpoints, history.jsonl, best.safetensors.")
    var out: String

    @Option(help: "Face-crop cache shared with `prepare` (default: $FORENSIGHT_CACHE/faces or ~/.cache/forensight/faces).")
    var cache: String?

    @Option(help: "sbi, synthesis: the detector architecture to train, any trainable one in the registry (`forensight models architectures`): efficientnet-lite0 (the shipped model's) or efficientnet-lite2 (larger, about 2× the compute; try --input-size 256).")
    var architecture = "efficientnet-lite0"

    @Option(help: "Pretrained weights to start from (default: the architecture's ImageNet weights that setup converts).")
    var initWeights: String?

    @Option(help: "forgelens-clip, dfd-fcg-clip, clip-adapter-clip: your CLIP image encoder (a Hugging Face CLIPVisionModel or CLIPModel safetensors, an open_clip .bin or .safetensors, OpenAI's TorchScript .pt, or a file from `forensight models import clip`). Its weights stay frozen and are saved in the trained model.")
    var clip: String?

    @Option(help: "Seed for the split, the shuffling, the self-blends and the augmentation.")
    var seed: UInt64 = 0

    @Option(help: "Passes over the real training faces (default 5; mouth-motion: 80 passes over its windows).")
    var epochs: Int?

    @Option(help: "mouth-motion: the simulated lip-sync fakes, comma-separated: desync, smooth, jitter, damp, or all.")
    var simulations = "all"

    @Option(help: "mouth-motion: windows of consecutive frames per video at test time.")
    var motionWindows = 3

    @Option(help: "mouth-motion: seconds per window (training cuts windows of this length).")
    var motionSeconds = 2.0

    @Option(help: "Real faces per step (each brings its self-blend).")
    var realsPerStep = 8

    @Option(help: "Peak learning rate (AdamW; default 2e-4, 1e-4 for forgelens-efficientnet-lite0, clip-adapter-efficientnet-lite0, dfd-fcg-efficientnet-lite0 and the CLIP variants, 1e-3 for the trace simulator).")
    var learningRate: Float?

    @Option(help: "Stem and first MBConv blocks left frozen (0 trains everything, slower; forgelens-efficientnet-lite0 and clip-adapter-efficientnet-lite0 keep their backbone frozen).")
    var frozenBlocks = 3

    @Option(help: "Network input side in pixels (default: the architecture's own, 224 for EfficientNet-Lite, 256 for meso4 and mesoinception4).")
    var inputSize: Int?

    @Option(help: "Share of the real people (or photos, or videos) held out for validation: epoch choice, threshold, calibration.")
    var valFraction = 0.1

    @Option(help: "Share of the real people (or photos, or videos) held out for the test split, beside every fake and every real person who appears in one.")
    var testFraction = 0.2

    @Option(help: "Seed of the train / validation / test split (kept apart from --seed so runs with other seeds share the test split).")
    var splitSeed: UInt64 = 0

    @Option(help: "sbi: the in-domain protocol instead of the project's split: K-fold cross-validation over the datasets' manipulation pairs (PairFolds), training on the real fakes of the other folds (0: off).")
    var folds = 0

    @Option(help: "With --folds: the fold held out for testing, 1…K (its ids are the ones missing from OUT/training-ids.txt).")
    var fold = 1

    @Option(help: "Cap on steps per epoch (0: a full pass; the trace simulator's default is 300).")
    var stepsPerEpoch = 0

    @Option(help: "Frames per training video (validation videos always use 32); other counts get their own cache folder.")
    var trainFrames = 32

    @Flag(inversion: .prefixedNo, help: "Give each dataset an equal share of every epoch.")
    var balanceDatasets = true

    @Flag(inversion: .prefixedNo, help: "Give a real face and its self-blend the same augmentation draws.")
    var pairedAugmentation = true

    @Flag(inversion: .prefixedNo, help: "Fill the black padding around tight photo crops with edge pixels before blending.")
    var fillPadding = true

    @Flag(inversion: .prefixedNo, help: "Blend some fakes inside the lower face or the eyes only, beside whole-face blends.")
    var partialBlends = true

    @Flag(inversion: .prefixedNo, help: "Exported model: average each face's logit with its mirror image's (test-time flip).")
    var flipAverage = true

    @Option(help: "Blending mask: five-point (an outline placed on MTCNN's five landmarks, the shipped model's) or dense (the FaceMesh face oval, lower face and eyes; five-point for faces FaceMesh rejects).")
    var mask: BlendMask = .fivePoint

    @Option(help: "Weight of the consistency term: half of each step's reals and fakes get a second, mildly edited view (resize, JPEG, crop, decoder noise) whose logit must match (0: off).")
    var consistencyWeight: Float = 0

    @Option(help: "Weight of the architecture's own extra term, for those that have one (m2tr-efficientnet-lite0: 1 − cosine similarity of the pooled RGB and frequency features; 0: off).")
    var branchConsistencyWeight: Float = 0

    @Option(help: "clip-adapter-efficientnet-lite0: the parts switched on, comma-separated, for an ablation (norms, freq, boundary, identity, arcmargin, slerp; all; none). Stored in the model card.")
    var adapterParts = "all"

    @Option(help: "clip-adapter-efficientnet-lite0: λ, the weight of the identity discriminator's cross-entropy (behind gradient reversal; part identity). Stored in the model card.")
    var identityWeight: Float = CLIPAdapterDetector.defaultIdentityWeight

    @Option(help: "Exported model: the landmarks that align face crops at test time, mtcnn or facemesh (steadier when photos are resized or mirrored).")
    var testLandmarks: LandmarkSource = .mtcnn

    @Option(help: "forgelens-efficientnet-lite0 (any frozen-backbone architecture): before the first epoch, run --cache-views augmented real / self-blend pairs of every training face through the frozen backbone once and keep its features in half precision in this folder; each step then reads its batch from there and trains only the head (1.5× the images/s for ForgeLens measured on a CPU, where its FAFormer is most of a step). A complete cache is reused (--resume too), a killed build continues; validation still runs the whole network. See docs/TRAINING.md.")
    var featureCache: String?

    @Option(help: "With --feature-cache: augmented (real, self-blend) pairs stored per training face; each step reads one of them, drawn per face. More views, more variety, a longer build and a bigger cache (about 190 KB per pair at 224 px).")
    var cacheViews = 4

    @Flag(help: "With --feature-cache: replace a cache made for another recipe, other faces or other backbone weights (without it such a cache is refused).")
    var rebuildFeatureCache = false

    @Flag(help: "Continue the run in --out from its last finished epoch.")
    var resume = false

    @Option(help: "After training, write the best weights in fp16 with the chosen threshold to this file.")
    var export: String?

    @Flag(help: "Do not train: write --export from the best checkpoint in --out so far (e.g. after stopping a run early).")
    var exportOnly = false

    @Option(help: "Only write a grid of examples to this PNG, then stop (sbi: real / mask / self-blend; synthesis: resampled real / difference / simulated fake).")
    var preview: String?

    func validate() throws {
        guard (1...10_000).contains(trainFrames) else { throw ValidationError("--train-frames must be between 1 and 10000") }
        guard (epochs ?? 1) > 0, realsPerStep > 0, (learningRate ?? 1) > 0 else { throw ValidationError("--epochs, --reals-per-step and --learning-rate must be positive") }
        guard valFraction >= 0, testFraction >= 0, valFraction + testFraction < 1 else {
            throw ValidationError("--val-fraction and --test-fraction must be ≥ 0 and leave a training share (sum < 1)")
        }
        guard (32...1024).contains(inputSize ?? 224) else { throw ValidationError("--input-size must be between 32 and 1024") }
        guard consistencyWeight >= 0 && consistencyWeight.isFinite else { throw ValidationError("--consistency-weight must be ≥ 0") }
        guard branchConsistencyWeight >= 0 && branchConsistencyWeight.isFinite else { throw ValidationError("--branch-consistency-weight must be ≥ 0") }
        guard identityWeight >= 0 && identityWeight.isFinite else { throw ValidationError("--identity-weight must be ≥ 0") }
        guard adapterSpec != nil else {
            throw ValidationError("--adapter-parts: name parts among \(CLIPAdapterParts.named.map(\.0).joined(separator: ", ")), or all, or none")
        }
        guard (1...256).contains(traceWidth), (1...5).contains(traceStages) else { throw ValidationError("--trace-width must be 1–256 and --trace-stages 1–5") }
        guard (0...16).contains(frozenBlocks) else { throw ValidationError("--frozen-blocks must be between 0 and 16") }
        guard folds == 0 || (folds >= 2 && (1...folds).contains(fold) && detector == .sbi) else {
            throw ValidationError("--folds K (K ≥ 2) takes --fold 1…K and trains --detector sbi only")
        }
        guard detector != .ensemble || members.count >= 2 else { throw ValidationError("--detector ensemble needs at least two --member files") }
        if (detector == .sbi || detector == .synthesis) && architecture == RFFRDetector.architecture {
            throw ValidationError("\(architecture) trains with --detector rffr --inpainter FILE (stage 1: --detector rffr-inpainter)")
        }
        if detector == .sbi || detector == .synthesis {
            // Builds only the requested architecture; the list of trainable ones is made for the error alone.
            guard DetectorRegistry.clipArchitectures.contains(architecture)
                    || (try? DetectorRegistry.makeTrainable(card: DetectorCard(id: "probe", architecture: architecture))) != nil else {
                throw ValidationError("\(architecture) cannot be trained by `forensight train` (trainable: \(DetectorRegistry.trainableArchitectures.joined(separator: ", ")))")
            }
        }
        if featureCache != nil { try validateFeatureCache() }
        guard detector != .rffr || inpainter != nil else { throw ValidationError("--detector rffr needs --inpainter FILE (train one with --detector rffr-inpainter)") }
        if detector == .rffrInpainter, let problem = inpainterConfig.problem { throw ValidationError("--working-size, --block-size, --mask-passes, --inpainter-width: \(problem)") }
        guard detector != .synthesis || simulator != nil else { throw ValidationError("--detector synthesis needs --simulator FILE (train one with --detector trace-simulator)") }
    }

    func run() throws {
        // A CLIP variant's encoder is read once here (a checkpoint of hundreds of MB), for the input size and the model.
        var encoder = try clipBackbone()
        var recipe = SelfBlendRecipe()
        (recipe.seed, recipe.epochs, recipe.realsPerStep, recipe.learningRate) = (seed, epochs ?? 5, realsPerStep, learningRate ?? defaultLearningRate)
        (recipe.frozenBlocks, recipe.inputSize, recipe.stepsPerEpoch) = (frozenBlocks, try resolvedInputSize(clip: encoder), stepsPerEpoch)
        recipe.balanceDatasets = balanceDatasets
        (recipe.pairedAugmentation, recipe.fillPadding, recipe.partialBlends) = (pairedAugmentation, fillPadding, partialBlends)
        recipe.denseMask = mask == .dense
        recipe.consistencyWeight = consistencyWeight
        recipe.branchConsistencyWeight = branchConsistencyWeight
        recipe.architecture = detector == .rffr ? RFFRDetector.architecture : architecture
        recipe.featureCacheViews = featureCache == nil ? 0 : cacheViews
        let traceSimulator = try loadSimulator()
        let rffrInpainter = try detector == .rffr ? loadInpainter() : nil
        if detector == .rffr {
            (recipe.fakes, recipe.simulatorSHA256) = (traceSimulator == nil ? .selfBlend : .selfBlendAndGeneratorTrace, traceSimulator?.sha256)
            recipe.inpainterSHA256 = rffrInpainter?.sha256
        }
        if detector == .synthesis {
            (recipe.fakes, recipe.simulatorSHA256, recipe.traceHighPassSigma) = (.generatorTrace, traceSimulator?.sha256, traceHighPass)
            traceSimulator?.model.highPassSigma = traceHighPass
        }

        var manifest = Manifest()
        for path in data {
            do { manifest.append(contentsOf: try DatasetLayout.importer(for: path).load(), skippingDuplicateIDs: true) } catch { throw fail("\(error)") }
        }
        let parts = folds > 0 ? PairFolds(folds: folds, validationFraction: valFraction, seed: splitSeed).parts(of: manifest, fold: fold - 1)
            : ProtocolSplit(testFraction: testFraction, validationFraction: valFraction, seed: splitSeed).parts(of: manifest)
        if folds > 0 {
            recipe.fakes = .dataset
            guard parts.train.contains(where: \.isFake) else { throw fail("--folds: no fake among the training folds (give a dataset with fakes, e.g. FF++)") }
        }
        let (trainItems, valItems) = (Manifest(parts.train.filter { folds > 0 || !$0.isFake }), parts.validation)
        note("split\(folds > 0 ? " (fold \(fold) of \(folds) held out)" : ""): train \(trainItems.count) items (\(trainItems.filter(\.isFake).count) fake); "
             + "validation \(valItems.count) (\(valItems.filter(\.isFake).count) fake); test \(parts.test.count) left out")
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            // Everything the model learned from or was selected and calibrated on: `evaluate` leaves these out.
            let seen = trainItems.map(\.id) + valItems.map(\.id)
            try (seen.joined(separator: "\n") + "\n").write(toFile: out + "/training-ids.txt", atomically: true, encoding: .utf8)
        } catch { throw fail("\(out): \(error)") }
        if detector == .mouthMotion { return try trainMouthMotion(train: trainItems, validation: Manifest(valItems.filter { !$0.isFake })) }
        let faceCache = try openCache()
        var trainFaces: [TrainingFace] = []
        if detector == .ensemble {
            // Fitted on validation faces only.
        } else if trainFrames == 32 {
            trainFaces = try loadFaces(trainItems, cache: faceCache, label: "train faces")
        } else {
            // Videos at their own frame count, in a sibling cache; still images from the shared one.
            let videos = Manifest(trainItems.filter { MediaFiles.isVideo(path: $0.path) })
            let images = Manifest(trainItems.filter { !MediaFiles.isVideo(path: $0.path) })
            trainFaces = try loadFaces(videos, cache: faceCache.withFrames(trainFrames), label: "train video faces")
            trainFaces += try loadFaces(images, cache: faceCache, label: "train image faces")
        }
        if let preview {
            if recipe.denseMask { trainFaces = try addingMeshes(trainFaces, label: "train meshes") }
            try writePreview(fillPadding ? trainFaces.map { $0.fillingPadding() } : trainFaces, recipe: recipe,
                             simulator: recipe.fakes == .generatorTrace ? traceSimulator?.model : nil, to: preview)
            return
        }
        var valFaces = try loadFaces(valItems, cache: faceCache, label: "validation faces")
        if detector == .traceSimulator { return try trainSimulator(train: trainFaces, validation: valFaces) }
        if detector == .rffrInpainter { return try trainInpainter(train: trainFaces, validation: valFaces) }
        if detector == .ensemble { return try fitEnsemble(validation: valFaces, recipe: recipe, simulator: traceSimulator?.model) }
        if recipe.denseMask {
            valFaces = try addingMeshes(valFaces, label: "validation meshes")
            if !exportOnly { trainFaces = try addingMeshes(trainFaces, label: "train meshes") }
        }
        if exportOnly {
            guard let export else { throw fail("--export-only needs --export FILE") }
            guard FileManager.default.fileExists(atPath: out + "/best.safetensors") else { throw fail("\(out): no best.safetensors yet") }
            if let clips = try? DetectorRegistry.load(path: out + "/best.safetensors") as? any ClipTrainableDetector {
                return try exportClipDetector(recipe: recipe, clipLength: clips.clipLength, validation: valFaces, to: export)
            }
            try exportBest(validation: valFaces, recipe: recipe, simulator: traceSimulator?.model, to: export)
            return
        }
        let model = try rffrInpainter.map { try initialRFFR(inpainter: $0.model) } ?? initialDetector(clip: encoder)
        encoder = nil  // the model holds the encoder's weights now
        if let clips = model as? any ClipTrainableDetector { return try trainClips(clips, recipe: recipe, train: trainFaces, validation: valFaces) }
        let trainer: SelfBlendTrainer
        do {
            trainer = try SelfBlendTrainer(recipe: recipe, detector: model, train: trainFaces, validation: valFaces, output: out,
                                           simulator: traceSimulator?.model)
        } catch { throw fail("\(error)") }
        if let featureCache { try prepareFeatureCache(trainer, at: featureCache) }
        note("training: \(trainFaces.count) faces, \(trainer.stepsPerEpoch) steps × \(recipe.epochs) epochs of \(trainer.samplesPerStep) images → \(out)")
        var bar = ProgressBar("train", total: trainer.stepsPerEpoch)
        let history: [EpochRecord<ValidationResult>]
        do {
            history = try trainer.run(resume: resume) { event in
                switch event {
                case .step(let epoch, let step, _, let loss, let lr):
                    bar.update(step, detail: String(format: "epoch %d loss %.4f lr %.1e", epoch, loss, lr))
                case .validating:
                    bar.finish()
                case .epochDone(let r, let isBest):
                    note(String(format: "epoch %d: loss %.4f, %.1f images/s, val AUC self-blend %.4f, fakes %@, video %@%@", r.epoch,
                                r.meanLoss, r.imagesPerSecond, r.validation.aucSelfBlend,
                                r.validation.aucFakes.map { String(format: "%.4f", $0) } ?? "–",
                                r.validation.videoAUCFakes.map { String(format: "%.4f", $0) } ?? "–", isBest ? " (best)" : ""))
                    bar = ProgressBar("train", total: trainer.stepsPerEpoch)
                }
            }
        } catch { throw fail("\(error)") }
        if let export, !history.isEmpty { try exportBest(validation: valFaces, recipe: recipe, simulator: traceSimulator?.model, to: export) }
    }
}

/// The blending mask of `train --mask`.
enum BlendMask: String, ExpressibleByArgument, CaseIterable {
    case dense, fivePoint = "five-point"
}
