import ArgumentParser
import Foundation
import ForensightTensor
import ForensightDetect

extension Models {
    /// `forensight models fuse`: detectors that read a file differently → one file, FAKE when any member says so.
    struct Fuse: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Join detectors that look at different things (faces; mouth motion) into one file: FAKE when any of them says so.",
            discussion: """
            Each member reads the file its own way and gives its own verdict at its own threshold. The first member is the primary one: the record's P(fake), faces and threshold are its own, and another member changes them only when it calls the file FAKE. Its P(fake) p is then mapped from its threshold t onto the primary threshold T (T + (p − t)(1 − T)/(1 − t)) and the record keeps the larger value, so the fused file ranks and calls files as the primary member does unless another member is sure. Each member's own verdict is listed under `members` in `detect --json` (schema forensight.detect/3), and `--explain` draws every member's scores on the timeline.

            No fit is needed: each member keeps the calibration and threshold it was trained with. Use `models ensemble` instead for members that score the same face crop.

            Example (the default model: the self-blend ensemble with the lip-sync detector):
              forensight models fuse --member ensemble-sbi3.safetensors --member mouth-motion.safetensors \\
                --id sbi3+mouth --out models/ensemble-default.safetensors
            """)

        @Option(name: .customLong("member"), help: "A member detector file; the first is the primary one (repeat, at least two).")
        var members: [String] = []

        @Option(help: "The fused file to write.")
        var out: String

        @Option(help: "The fusion's id (default: the member ids joined by +).")
        var id: String?

        @Option(help: "Stored precision of the members' tensors: f32, f16 or bf16.")
        var dtype: String = "f16"

        @Flag(help: "One JSON object: the file, the id, and each member's id, input and threshold.")
        var json = false

        func validate() throws {
            guard members.count >= 2 else { throw ValidationError("give at least two --member files") }
            guard SafetensorsDType(rawValue: dtype.uppercased()) != nil else { throw ValidationError("--dtype must be f32, f16 or bf16") }
        }

        func run() throws {
            var detectors: [any Detector] = []
            for path in members {
                do { detectors.append(try DetectorRegistry.load(path: path)) } catch { throw fail("\(error)") }
            }
            let fused: FusedDetector
            do {
                fused = try FusedDetector(id: id ?? detectors.map(\.card.id).joined(separator: "+"), members: detectors,
                                          notes: "fusion of " + detectors.map(\.card.id).joined(separator: ", ") + "; see models/MODEL_CARD.md")
                try fused.save(to: out, dtype: SafetensorsDType(rawValue: dtype.uppercased())!)
            } catch { throw fail("\(out): \(error)") }
            writeTrainingIDsUnion(of: members, beside: out)
            if json {
                let object: [String: Any] = ["file": out, "id": fused.card.id, "members": detectors.map {
                    ["id": $0.card.id, "input": $0.inputKind.rawValue, "threshold": Double($0.card.threshold)] as [String: Any]
                }]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                for d in detectors { print(String(format: "%@: %@, threshold %.4f", d.card.id, d.inputKind.rawValue, d.card.threshold)) }
                print("wrote \(out) (\(fused.card.id))")
            }
        }
    }
}

/// Writes, beside `out`, the union of the `.training-ids.txt` files beside `models` (the samples any of them learned
/// from, so `evaluate` leaves them out of a file built from them); nothing when none has one.
func writeTrainingIDsUnion(of models: [String], beside out: String) {
    let lists = models.compactMap { try? String(contentsOfFile: ($0 as NSString).deletingPathExtension + ".training-ids.txt", encoding: .utf8) }
    guard !lists.isEmpty else { return }
    let union = Set(lists.flatMap { $0.split(separator: "\n").map(String.init) }).sorted()
    try? (union.joined(separator: "\n") + "\n").write(toFile: (out as NSString).deletingPathExtension + ".training-ids.txt", atomically: true, encoding: .utf8)
}
