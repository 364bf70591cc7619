import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightMedia
import ForensightDetect
import ForensightTraining

extension Train {
    /// The inpainter shape of `--working-size`, `--block-size`, `--mask-passes` and `--inpainter-width`.
    var inpainterConfig: BlockInpainterConfig {
        BlockInpainterConfig(workingSize: workingSize, blockSize: blockSize, passes: maskPasses, width: inpainterWidth, maskSeed: seed)
    }

    /// `--inpainter`, loaded with its SHA-256.
    func loadInpainter() throws -> (model: BlockInpainter, sha256: String)? {
        guard let inpainter else { return nil }
        do {
            return (try BlockInpainter(path: inpainter), try FileDigest.sha256Hex(ofFile: inpainter))
        } catch { throw fail("\(error)") }
    }

    /// A fresh RFFR detector (its head and residual branch initialised from the seed) around the trained `inpainter`,
    /// its crop branch holding the ImageNet (or --init-weights) weights.
    func initialRFFR(inpainter: BlockInpainter) throws -> any TrainableDetector {
        var card = DetectorCard(id: RFFRDetector.architecture, architecture: RFFRDetector.architecture)
        card.inputSize = try resolvedInputSize()
        let model: RFFRDetector
        do {
            model = try ParameterInit.withSeed(seed) { try RFFRDetector(card: card, inpainter: BlockInpainter(inpainter.config)) }
            try model.useInpainter(inpainter)
        } catch { throw fail("\(error)") }
        guard let path = initWeights ?? model.pretrainedWeightsName.map({ ModelLocations.weightsDirectory + "/" + $0 }) else { return model }
        do {
            try model.loadPretrained(try Safetensors.read(path: path))
        } catch { throw fail("\(path): \(error) (run scripts/setup/weights.sh to convert the ImageNet weights)") }
        return model
    }

    /// `train --detector rffr-inpainter`: trains RFFR's block inpainter on the real training crops, validates it on the
    /// validation crops (PSNR of the restored blocks), and with --export copies the best weights to that file.
    func trainInpainter(train: [TrainingFace], validation: [TrainingFace]) throws {
        var recipe = InpainterRecipe()
        (recipe.seed, recipe.epochs, recipe.cropsPerStep, recipe.inpainter) = (seed, epochs ?? 3, realsPerStep, inpainterConfig)
        if let learningRate { recipe.learningRate = learningRate }
        if stepsPerEpoch > 0 { recipe.stepsPerEpoch = stepsPerEpoch }
        let reals = train.filter { !$0.sample.isFake }.map(\.image), held = validation.filter { !$0.sample.isFake }.map(\.image)
        let trainer: InpainterTrainer
        do { trainer = try InpainterTrainer(recipe: recipe, train: reals, validation: held) } catch { throw fail("\(error)") }
        if !exportOnly {
            let c = recipe.inpainter
            note("rffr inpainter: \(c.workingSize) px, \(c.gridSide)×\(c.gridSide) blocks of \(c.blockSize) px in \(c.passes) masks, width \(c.width); "
                 + "\(reals.count) real faces, \(recipe.stepsPerEpoch) steps × \(recipe.epochs) epochs of \(recipe.cropsPerStep) crops → \(out)")
            var bar = ProgressBar("train", total: recipe.stepsPerEpoch)
            do {
                _ = try TrainingLoop(recipe: trainer, output: out).run(resume: resume) { event in
                    switch event {
                    case .step(let epoch, let step, _, let loss, let lr):
                        bar.update(step, detail: String(format: "epoch %d masked L1 %.4f lr %.1e", epoch, loss, lr))
                    case .validating:
                        bar.finish()
                    case .epochDone(let r, let isBest):
                        note(String(format: "epoch %d: masked L1 %.4f, validation PSNR %.2f dB, MAE %.2f levels%@", r.epoch, r.meanLoss,
                                    r.validation.psnr, r.validation.meanAbsoluteError, isBest ? " (best)" : ""))
                        bar = ProgressBar("train", total: recipe.stepsPerEpoch)
                    }
                }
            } catch { throw fail("\(error)") }
        }
        guard let export else {
            if exportOnly { throw fail("--export-only needs --export FILE") }
            return
        }
        let best = out + "/best.safetensors"
        guard FileManager.default.fileExists(atPath: best) else { throw fail("\(out): no best.safetensors yet") }
        do {
            try? FileManager.default.removeItem(atPath: export)
            try FileManager.default.copyItem(atPath: best, toPath: export)
        } catch { throw fail("\(export): \(error)") }
        note("exported \(export)")
    }
}
