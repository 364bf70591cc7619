import Foundation
import ForensightMedia
import ForensightDetect
import ForensightTraining

extension Train {
    /// Writes `<export stem>.training-ids.txt`: every sample a member learned from or was chosen on (each member's own
    /// list, when it has one) and the validation faces of this fit, so `evaluate` leaves them all out.
    func writeSeenIDs(next export: String) throws {
        var ids = Set<String>()
        let lists = members.map { ($0 as NSString).deletingPathExtension + ".training-ids.txt" } + [out + "/training-ids.txt"]
        for list in lists {
            guard let text = try? String(contentsOfFile: list, encoding: .utf8) else { continue }
            ids.formUnion(text.split(separator: "\n").map(String.init).filter { !$0.isEmpty })
        }
        let target = (export as NSString).deletingPathExtension + ".training-ids.txt"
        try (ids.sorted().joined(separator: "\n") + "\n").write(toFile: target, atomically: true, encoding: .utf8)
    }

    /// `train --detector ensemble`: scores the validation split's reals, their self-blends and (with --simulator) the
    /// simulator's pairs with every --member, writes the scores to `<out>/stacking-scores.csv`, fits the logistic
    /// stacking (`EnsembleDetector.fit`) and writes the ensemble to --export.
    func fitEnsemble(validation: [TrainingFace], recipe: SelfBlendRecipe, simulator: GeneratorTraceSimulator?) throws {
        guard let export else { throw fail("--detector ensemble needs --export FILE (the ensemble to write)") }
        var detectors: [any Detector] = []
        for path in members {
            do { detectors.append(try DetectorRegistry.load(path: path)) } catch { throw fail("\(error)") }
        }
        let (images, labels, units) = StackingData.crops(validation, framesPerVideo: recipe.validationFramesPerVideo, seed: recipe.seed,
                                                  blend: recipe.selfBlend, simulator: simulator)
        let fakes = labels.filter { $0 == 1 }.count
        note("ensemble fit: \(images.count - fakes) validation reals and \(fakes) fakes (self-blends\(simulator == nil ? "" : " and simulated"))"
             + " scored by \(detectors.map(\.card.id).joined(separator: ", "))")
        let ids = detectors.map(\.card.id)
        let csv = out + "/stacking-scores.csv"
        do {
            let rows = try StackingScores.score(members: detectors, faces: images, labels: labels, units: units)
            try StackingScores.write(memberIDs: ids, rows: rows, to: csv)
            let name = ensembleID ?? ids.joined(separator: "+")
            let (ensemble, report) = try EnsembleDetector.fit(id: name, members: detectors, memberIDs: ids, rows: rows, source: csv)
            try ensemble.save(to: export, dtype: .f16)
            try writeSeenIDs(next: export)
            let aucs = report.members.map { String(format: "%@ %.4f", $0.id, $0.auc) }.joined(separator: ", ")
            note(String(format: "wrote %@: weights %@, bias %.4f, threshold %.4f; fit AUC %@, ensemble %.4f (scores in %@)", export,
                        report.weights.map { String(format: "%.4f", $0) }.joined(separator: ", "), report.bias, report.threshold,
                        aucs, report.combinedAUC, csv))
        } catch { throw fail("\(error)") }
    }
}
