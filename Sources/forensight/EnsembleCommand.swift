import ArgumentParser
import Foundation
import ForensightTensor
import ForensightDetect

extension Models {
    /// `forensight models ensemble`: member files + scored validation faces → one ensemble file.
    struct Ensemble: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Combine detectors into one ensemble file by logistic stacking.",
            discussion: """
            Every member scores the same face crop; the ensemble's logit is z = b + Σ w_i · logit(p_i), where p_i is member i's calibrated P(fake) (clamped to [1e-6, 1 − 1e-6]), and its P(fake) is σ(z). The weights and bias are fitted by L2-regularised logistic regression (scikit-learn's LogisticRegression with the same C) on the scores in --fit. Members must crop faces the same way (size, margin, mode, landmarks).

            --fit is a CSV with a header `label,<member id>,<member id>,…` (the ids in the members' cards, in any order) and one row per validation face: its label (0 real, 1 fake) and each member's P(fake). StackingScores.score and StackingScores.write make it from labelled face crops. Fit on validation faces, never on a test set.

            The threshold, unless --threshold is given, is chosen as for the default model: the lowest P(fake), not below 0.5, that at most 2 % of the fitting reals reach, counted per video or photo (the mean P(fake) of its rows) when the CSV has a `unit` column after `label` (as `train --detector ensemble` writes it), per face otherwise.

            Prints the weights, bias, threshold, and the AUC on the fitting faces of each member and of the ensemble (--json: one JSON object). `forensight detect --model FILE` uses the ensemble; its records list each member's P(fake).

            Examples:
              forensight models ensemble --member models/sbi-efficientnet-lite0.safetensors \\
                --member synthesis.safetensors --fit val-scores.csv --out models/ensemble-default.safetensors
              forensight models ensemble --member a.safetensors --member b.safetensors \\
                --fit s.csv --out e.safetensors --id my-ensemble --threshold 0.6 --json
            """)

        @Option(name: .customLong("member"), help: "A member detector file (repeat for each member, at least two).")
        var members: [String] = []

        @Option(help: ArgumentHelp("Scores CSV: header label,<member id>,…; one row per validation face (label 0/1, each member's P(fake)).", valueName: "scores.csv"))
        var fit: String

        @Option(help: "The ensemble file to write.")
        var out: String

        @Option(help: "The ensemble's id (default: the member ids joined by +).")
        var id: String?

        @Option(help: "P(fake) at or above which the ensemble says FAKE (default: fitted, at most 2 % of the fitting reals reach it).")
        var threshold: Double?

        @Option(name: .customLong("C"), help: "Inverse L2 regularisation strength C of the stacking weights (scikit-learn's C).")
        var inverseRegularization: Double = 1

        @Option(help: "Stored precision of the members' tensors: f32, f16 or bf16.")
        var dtype: String = "f32"

        @Flag(help: "One JSON object: the file, the ensemble id and the fit (weights, bias, threshold, AUCs).")
        var json = false

        func validate() throws {
            guard members.count >= 2 else { throw ValidationError("give at least two --member files") }
            if let threshold { guard (0...1).contains(threshold) else { throw ValidationError("--threshold must be between 0 and 1") } }
            guard inverseRegularization > 0, inverseRegularization.isFinite else { throw ValidationError("--C must be positive") }
            guard SafetensorsDType(rawValue: dtype.uppercased()) != nil else { throw ValidationError("--dtype must be f32, f16 or bf16") }
        }

        func run() throws {
            var detectors: [any Detector] = []
            for path in members {
                do { detectors.append(try DetectorRegistry.load(path: path)) } catch { throw fail("\(error)") }
            }
            let scores: (memberIDs: [String], rows: [StackingRow])
            do { scores = try StackingScores.read(path: fit) } catch { throw fail("\(error)") }
            let name = id ?? detectors.map(\.card.id).joined(separator: "+")
            let ensemble: EnsembleDetector, report: EnsembleFitReport
            do {
                (ensemble, report) = try EnsembleDetector.fit(id: name, members: detectors, memberIDs: scores.memberIDs, rows: scores.rows,
                                                              threshold: threshold.map(Float.init), inverseRegularization: inverseRegularization,
                                                              source: fit)
                try ensemble.save(to: out, dtype: SafetensorsDType(rawValue: dtype.uppercased())!)
            } catch { throw fail("\(error)") }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                let fitted = try JSONSerialization.jsonObject(with: encoder.encode(report))
                let object: [String: Any] = ["file": out, "id": name, "fit": fitted]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
                return
            }
            print("wrote \(out): ensemble \(name), \(detectors.count) members, fitted on \(report.faces) faces (\(report.reals) real, \(report.fakes) fake), C = \(report.inverseRegularization)")
            let width = max(8, detectors.map(\.card.id.count).max() ?? 0)
            func padded(_ s: String) -> String { s.padding(toLength: width, withPad: " ", startingAt: 0) }
            print("\(padded("member"))  weight     AUC")
            for (member, weight) in zip(report.members, report.weights) {
                print(padded(member.id) + String(format: "  %+7.4f  %.4f", weight, member.auc))
            }
            print(padded("bias") + String(format: "  %+7.4f", report.bias))
            print(padded("combined") + String(format: "           %.4f", report.combinedAUC))
            let units = report.thresholdPerUnit ? "\(report.realUnits) real videos and photos" : "real faces"
            print(String(format: "threshold %.4f (%@; %.1f %% of the fitting %@ reach it)", report.threshold, report.thresholdSource,
                         100 * report.realFlaggedRate, units))
        }
    }
}
