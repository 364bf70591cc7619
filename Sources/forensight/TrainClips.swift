import Foundation
import ForensightTensor
import ForensightData
import ForensightDetect
import ForensightTraining

extension Train {
    /// `train --detector sbi` for a clip detector (`ClipTrainableDetector`, e.g. dfd-fcg-efficientnet-lite0): self-blended
    /// clips of T consecutive cached frames of one face (`ClipSelfBlendTrainer`; give videos more frames with
    /// `--train-frames 64`). `--branch-consistency-weight W` (> 0) replaces the detector's own weight of its guidance
    /// term. `--export` writes the best weights in fp16 without calibration: the clip logit goes through the plain
    /// sigmoid and the card's default threshold.
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
        try exportClipDetector(recipe: recipe, clipLength: model.clipLength, to: export)
    }

    /// Writes `out/best.safetensors` to `path` in fp16, uncalibrated, with the training ids beside it.
    func exportClipDetector(recipe: SelfBlendRecipe, clipLength: Int, to path: String) throws {
        do {
            guard let best = try DetectorRegistry.load(path: out + "/best.safetensors") as? any ClipTrainableDetector else {
                throw DetectorError("\(out)/best.safetensors: not a clip detector")
            }
            best.card.notes = "self-blended clips of \(clipLength) frames, seed \(recipe.seed), \(recipe.epochs) epochs; uncalibrated; see docs/ZOO.md"
            try best.save(to: path, dtype: .f16)
            let ids = (path as NSString).deletingPathExtension + ".training-ids.txt"
            try? FileManager.default.removeItem(atPath: ids)
            try FileManager.default.copyItem(atPath: out + "/training-ids.txt", toPath: ids)
        } catch { throw fail("\(error)") }
        note("exported \(path) (uncalibrated)")
    }
}
