import Foundation
import ForensightTensor
import ForensightData
import ForensightDetect
import ForensightTraining

extension Train {
    /// `train --detector sbi` for a clip detector (`ClipTrainableDetector`, e.g. dfd-fcg-efficientnet-lite0): self-blended
    /// clips of T consecutive cached frames of one face (`ClipSelfBlendTrainer`; give videos more frames with
    /// `--train-frames 64`). `--branch-consistency-weight W` (> 0) replaces the detector's own weight of its guidance
    /// term. `--export` writes the best weights in fp16 with Platt scaling and a threshold fitted on the validation clips
    /// (`ClipSelfBlendTrainer.calibrate`).
    func trainClips(_ model: any ClipTrainableDetector, recipe: SelfBlendRecipe, train: [TrainingFace], validation: [TrainingFace]) throws {
        if branchConsistencyWeight > 0, let dfd = model as? DFDFCGDetector { dfd.guidanceWeight = branchConsistencyWeight }
        let trainer: ClipSelfBlendTrainer
        do { trainer = try ClipSelfBlendTrainer(recipe: recipe, detector: model, train: train, validation: validation, output: out) } catch { throw fail("\(error)") }
        note("training: \(trainer.clips.count) clips of \(model.clipLength) frames from \(train.count) faces, \(trainer.stepsPerEpoch) steps × "
             + "\(recipe.epochs) epochs of \(trainer.samplesPerStep) images → \(out)")
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
                    note(String(format: "epoch %d: loss %.4f, %.1f images/s, val clip AUC self-blend %.4f, fakes %@%@", r.epoch, r.meanLoss,
                                r.imagesPerSecond, r.validation.aucSelfBlend, r.validation.aucFakes.map { String(format: "%.4f", $0) } ?? "–",
                                isBest ? " (best)" : ""))
                    bar = ProgressBar("train", total: trainer.stepsPerEpoch)
                }
            }
        } catch { throw fail("\(error)") }
        guard let export, !history.isEmpty else { return }
        try exportClipDetector(recipe: recipe, clipLength: model.clipLength, validation: validation, to: export)
    }

    /// Writes `out/best.safetensors` to `path` in fp16, calibrated on the validation clips, with the training ids beside it.
    func exportClipDetector(recipe: SelfBlendRecipe, clipLength: Int, validation: [TrainingFace], to path: String) throws {
        do {
            guard let best = try DetectorRegistry.load(path: out + "/best.safetensors") as? any ClipTrainableDetector else {
                throw DetectorError("\(out)/best.safetensors: not a clip detector")
            }
            let choice = try ClipSelfBlendTrainer.calibrate(best, validation: validation, recipe: recipe)
            (best.card.calibration, best.card.threshold) = (choice.calibration, choice.threshold)
            note(String(format: "calibration: P = σ(%.4f·z %+.4f); validation clip ECE %.4f → %.4f; threshold %.4f calls %.1f %% of %d real videos and photos FAKE",
                        choice.calibration.scale, choice.calibration.bias, choice.eceBefore, choice.eceAfter, choice.threshold,
                        100 * choice.realFlaggedRate, choice.realUnits))
            best.card.notes = "self-blended clips of \(clipLength) frames, seed \(recipe.seed), \(recipe.epochs) epochs; see docs/ZOO.md"
            try best.save(to: path, dtype: .f16)
            let ids = (path as NSString).deletingPathExtension + ".training-ids.txt"
            try? FileManager.default.removeItem(atPath: ids)
            try FileManager.default.copyItem(atPath: out + "/training-ids.txt", toPath: ids)
        } catch { throw fail("\(error)") }
        note(String(format: "exported %@ (fp16, threshold %.4f)", path, try DetectorRegistry.load(path: path).card.threshold))
    }
}
