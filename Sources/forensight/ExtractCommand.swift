import ArgumentParser
import Foundation
import ForensightTensor
import ForensightDetect

extension Models {
    /// `forensight models extract`: one member of an ensemble or fusion file, written as a detector file of its own.
    struct Extract: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write one member of an ensemble or fusion file as a detector file of its own.",
            discussion: """
            An ensemble or fusion file holds its members' cards and weights. `extract` finds the member whose card id is --member (at any depth: a fusion's ensemble's members too), and writes it as the file it was before it was joined: the same card, the same weights (in the precision the joined file stored them, unless --dtype says otherwise). Use it to refit an ensemble with another member, or to evaluate one member alone. When FILE has a list of the samples its members trained on (FILE's stem + `.training-ids.txt`), the list is copied beside --out, so `evaluate --exclude-ids` leaves them out for the member too.

            Without --member, lists the members (their ids, architectures and depth) and writes nothing.

            Examples:
              forensight models extract models/ensemble-default.safetensors
              forensight models extract models/ensemble-default.safetensors --member sbi-lite2-256 --out sbi-lite2-256.safetensors
            """)

        @Argument(help: "An ensemble or fusion file.")
        var file: String

        @Option(help: "The card id of the member to write (as `extract FILE` lists them).")
        var member: String?

        @Option(help: "The detector file to write (needed with --member).")
        var out: String?

        @Option(help: "Stored precision: f32, f16 or bf16 (default f32).")
        var dtype: String = "f32"

        func validate() throws {
            guard SafetensorsDType(rawValue: dtype.uppercased()) != nil else { throw ValidationError("--dtype must be f32, f16 or bf16") }
            if member != nil && out == nil { throw ValidationError("--member needs --out FILE (the detector file to write)") }
        }

        func run() throws {
            let detector: any Detector
            do { detector = try DetectorRegistry.load(path: file) } catch { throw fail("\(error)") }
            let found = Self.members(of: detector)
            guard !found.isEmpty else { throw fail("\(file): \(detector.card.id) (\(detector.card.architecture)) has no members to extract") }
            guard let member, let out else {
                for (depth, m) in found { print(String(repeating: "  ", count: depth - 1) + "\(m.card.id)\t\(m.card.architecture)") }
                return
            }
            guard let chosen = found.first(where: { $0.detector.card.id == member })?.detector else {
                throw fail("\(file): no member \"\(member)\" (members: \(found.map(\.detector.card.id).joined(separator: ", ")))")
            }
            do { try chosen.save(to: out, dtype: SafetensorsDType(rawValue: dtype.uppercased())!) } catch { throw fail("\(out): \(error)") }
            // The joined file's list of seen samples covers every member: a superset of this member's, so `evaluate`
            // still leaves out everything the member learned from or was chosen on.
            let ids = (file as NSString).deletingPathExtension + ".training-ids.txt"
            let target = (out as NSString).deletingPathExtension + ".training-ids.txt"
            if FileManager.default.fileExists(atPath: ids) {
                try? FileManager.default.removeItem(atPath: target)
                do { try FileManager.default.copyItem(atPath: ids, toPath: target) } catch { throw fail("\(target): \(error)") }
            }
            note("wrote \(out): \(chosen.card.id) (\(chosen.card.architecture))")
        }

        /// Every member of `detector` at any depth, depth first, with its depth (1 for a direct member).
        static func members(of detector: any Detector, depth: Int = 1) -> [(depth: Int, detector: any Detector)] {
            directMembers(of: detector).flatMap { [(depth, $0)] + members(of: $0, depth: depth + 1) }
        }

        /// The members an ensemble or a fusion is made of, in order; none for a single network's detector.
        static func directMembers(of detector: any Detector) -> [any Detector] {
            (detector as? EnsembleDetector)?.members ?? (detector as? FusedDetector)?.members ?? []
        }
    }
}
