import Foundation
import ForensightTensor
import ForensightModels
import ForensightMedia
import ForensightDetect
import ForensightTraining

extension Train {
    /// `--simulator`, loaded with its SHA-256 (nil without the option).
    func loadSimulator() throws -> (model: GeneratorTraceSimulator, sha256: String)? {
        guard let simulator else { return nil }
        do {
            return (try GeneratorTraceSimulator(path: simulator), try FileDigest.sha256Hex(ofFile: simulator))
        } catch { throw fail("\(error)") }
    }

    /// `train --detector trace-simulator`: trains the autoencoders on the real training crops, validates them on the
    /// validation crops (PSNR), and with --export copies the best weights to that file.
    func trainSimulator(train: [TrainingFace], validation: [TrainingFace]) throws {
        var recipe = TraceSimulatorRecipe()
        (recipe.seed, recipe.epochs, recipe.patchesPerStep) = (seed, epochs ?? 5, realsPerStep)
        if let learningRate { recipe.learningRate = learningRate }
        if stepsPerEpoch > 0 { recipe.stepsPerEpoch = stepsPerEpoch }
        recipe.autoencoders = UpsamplingKind.allCases.map { TraceAutoencoderConfig(upsampling: $0, width: traceWidth, stages: traceStages) }
        let reals = train.filter { !$0.sample.isFake }.map(\.image), held = validation.filter { !$0.sample.isFake }.map(\.image)
        let trainer: TraceSimulatorTrainer
        do { trainer = try TraceSimulatorTrainer(recipe: recipe, train: reals, validation: held) } catch { throw fail("\(error)") }
        if !exportOnly {
            note("trace simulator: \(trainer.simulator.autoencoders.map(\.config.upsampling.rawValue).joined(separator: ", ")) autoencoders, "
                 + "\(reals.count) real faces, \(recipe.stepsPerEpoch) steps × \(recipe.epochs) epochs of \(recipe.patchesPerStep) patches → \(out)")
            var bar = ProgressBar("train", total: recipe.stepsPerEpoch)
            do {
                _ = try TrainingLoop(recipe: trainer, output: out).run(resume: resume) { event in
                    switch event {
                    case .step(let epoch, let step, _, let loss, let lr):
                        bar.update(step, detail: String(format: "epoch %d L1 %.4f lr %.1e", epoch, loss, lr))
                    case .validating:
                        bar.finish()
                    case .epochDone(let r, let isBest):
                        let psnr = zip(trainer.simulator.autoencoders, r.validation.psnr)
                            .map { String(format: "%@ %.2f dB", $0.config.upsampling.rawValue, $1) }.joined(separator: ", ")
                        note(String(format: "epoch %d: L1 %.4f, validation PSNR %@%@", r.epoch, r.meanLoss, psnr, isBest ? " (best)" : ""))
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
