import ArgumentParser
import Foundation
import ForensightTensor
import ForensightMedia
import ForensightFaces
import ForensightData
import ForensightDetect
import ForensightTraining

extension Train {
    /// `train --detector mouth-motion`: the real videos of the train and validation splits followed with FaceMesh over
    /// every frame (cached under --cache/motion, so an interrupted run resumes there), then `MouthMotionTrainer`.
    /// Writes `recipe.json`, `history.jsonl` and `best.safetensors` (calibrated) in --out, and --export in fp16.
    func trainMouthMotion(train: Manifest, validation: Manifest) throws {
        var recipe = MouthMotionRecipe()
        (recipe.seed, recipe.epochs) = (seed, epochs ?? 80)
        recipe.learningRate = learningRate ?? 1e-3
        recipe.sampling = MotionSampling(count: motionWindows, seconds: motionSeconds)
        do { recipe.simulations = try LipSyncSimulation.list(simulations) } catch { throw fail("\(error)") }
        let motionCache = try openMotionCache()
        let trainTracks = try tracks(Manifest(train.filter { MediaFiles.isVideo(path: $0.path) }), cache: motionCache, label: "train videos")
        let valTracks = try tracks(Manifest(validation.filter { MediaFiles.isVideo(path: $0.path) }), cache: motionCache, label: "validation videos")
        let trainer: MouthMotionTrainer
        do { trainer = try MouthMotionTrainer(recipe: recipe, train: trainTracks, validation: valTracks) } catch { throw fail("\(error)") }
        note("mouth motion: \(trainer.trainWindowCount) training windows from \(trainTracks.count) videos, \(trainer.validationWindowCount) validation windows from \(valTracks.count) videos; simulations \(recipe.simulations.map(\.rawValue).joined(separator: ", "))")
        var card = MouthMotionDetector.defaultCard()
        card.motion = recipe.sampling
        var lines: [String] = []
        let result: (detector: MouthMotionDetector, history: [MouthMotionValidation], best: MouthMotionValidation, calibration: CalibrationChoice)
        do {
            result = try trainer.train(card: card) { v in
                let encoder = JSONEncoder(); encoder.outputFormatting = [.sortedKeys]
                lines.append(String(decoding: (try? encoder.encode(v)) ?? Data(), as: UTF8.self))
                if v.epoch == 1 || v.epoch % 10 == 0 || v.epoch == recipe.epochs {
                    let parts = v.aucBySimulation.sorted { $0.key < $1.key }.map { String(format: "%@ %.3f", $0.key, $0.value) }.joined(separator: ", ")
                    note(String(format: "epoch %d: loss %.4f, validation AUC %.4f (%@)", v.epoch, v.loss, v.auc, parts))
                }
            }
        } catch { throw fail("\(error)") }
        let detector = result.detector, choice = result.calibration
        (detector.card.calibration, detector.card.threshold) = (choice.calibration, choice.threshold)
        detector.card.notes = "mouth motion of real videos against simulated lip-sync (\(recipe.simulations.map(\.rawValue).joined(separator: ", "))), "
            + "seed \(recipe.seed), best of \(recipe.epochs) epochs (\(result.best.epoch)); see models/MODEL_CARD.md"
        note(String(format: "best epoch %d: validation AUC %.4f; calibration P = σ(%.4f·z %+.4f), ECE %.4f → %.4f; threshold %.4f calls %.1f %% of %d validation videos FAKE",
                    result.best.epoch, result.best.auc, choice.calibration.scale, choice.calibration.bias, choice.eceBefore, choice.eceAfter,
                    choice.threshold, 100 * choice.realFlaggedRate, choice.realUnits))
        do {
            let encoder = JSONEncoder(); encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            try encoder.encode(recipe).write(to: URL(fileURLWithPath: out + "/recipe.json"))
            try (lines.joined(separator: "\n") + "\n").write(toFile: out + "/history.jsonl", atomically: true, encoding: .utf8)
            try detector.save(to: out + "/best.safetensors", dtype: .f32)
            if let export {
                try detector.save(to: export, dtype: .f16)
                let ids = (export as NSString).deletingPathExtension + ".training-ids.txt"
                try? FileManager.default.removeItem(atPath: ids)
                try FileManager.default.copyItem(atPath: out + "/training-ids.txt", toPath: ids)
                note(String(format: "exported %@ (fp16, threshold %.4f)", export, detector.card.threshold))
            }
        } catch { throw fail("\(out): \(error)") }
    }

    /// The motion cache beside the face cache (--cache, or the default face cache folder).
    func openMotionCache() throws -> MotionCache {
        let root = cacheRoot
        do {
            let reader = MediaFaceReader(detector: try MTCNN(), extraction: FaceExtractionOptions(selection: .largest))
            return MotionCache(root: root, reader: reader, mesh: try FaceMesh())
        } catch { throw fail("\(error)") }
    }

    /// Each video's followed face (cached); unreadable videos are reported once each and skipped.
    func tracks(_ items: Manifest, cache: MotionCache, label: String) throws -> [MotionTrack] {
        var bar = ProgressBar(label, total: items.count)
        var out: [MotionTrack] = [], failures = 0
        for (i, sample) in items.enumerated() {
            do { out.append(MotionTrack(id: sample.id, window: try cache.track(for: sample))) } catch {
                failures += 1
                if failures <= 5 { note("forensight: \(sample.path): \(error) (skipped)") }
            }
            bar.update(i + 1)
        }
        bar.finish()
        if failures > 5 { note("forensight: \(failures) \(label) could not be read (first five shown)") }
        return out
    }
}
