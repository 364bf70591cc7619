import ArgumentParser
import Foundation
import ForensightTensor
import ForensightDetect

extension Models {
    /// `forensight models route`: one ensemble that scores videos with one stacking and photos with another.
    struct Route: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Join two fitted ensembles into one: videos scored as the first scores them, photos as the second does.",
            discussion: """
            Some members are worth their cost on a photo (one face crop) and not on a video (32 of them), such as RFFR's inpainter. Fit one ensemble without them (--video) and one with them (--still-images), then join the two: the file holds the members of --still-images, then those of --video that --still-images lacks, each once (a member both hold must be the same weights), the video stacking (weight 0, so not run on videos, for members it lacks) and the still-image stacking (weight 0, so not run on photos, for video-only members). A video member that is not worth its cost on photos, or a new video member whose photo numbers are not measured yet, keeps the photos exactly as --still-images scores them.

            Videos: the members of --video run and combine exactly as in --video; its threshold, calibration and aggregation are the file's. Photos: the members of --still-images run and combine as in --still-images, and its P(fake) p is mapped from its own threshold t onto the file's threshold T (p·T/t below t, T + (p − t)(1 − T)/(1 − t) above), so every record is called at T and photos keep the order and verdicts --still-images gives them. `detect --json` lists, per face, the members that ran.

            Example (the default's face ensemble, with RFFR for photos):
              forensight models route --video ensemble-sbi3.safetensors --still-images ensemble-sbi3-rffr.safetensors \\
                --id ensemble-sbi3-photos-rffr --out routed.safetensors
            """)

        @Option(help: "The ensemble that scores videos (its threshold is the file's).")
        var video: String

        @Option(name: .customLong("still-images"), help: "The ensemble that scores photos (members of --video it lacks are not run on photos).")
        var stillImages: String

        @Option(help: "The file to write.")
        var out: String

        @Option(help: "The id of the joined ensemble (default: <video id>+stills).")
        var id: String?

        @Option(help: "Stored precision of the members' tensors: f32, f16 or bf16.")
        var dtype: String = "f16"

        @Flag(help: "One JSON object: the file, the id, the members and both stackings.")
        var json = false

        func validate() throws {
            guard SafetensorsDType(rawValue: dtype.uppercased()) != nil else { throw ValidationError("--dtype must be f32, f16 or bf16") }
        }

        func run() throws {
            func ensemble(_ path: String) throws -> EnsembleDetector {
                let loaded: any Detector
                do { loaded = try DetectorRegistry.load(path: path) } catch { throw fail("\(error)") }
                guard let e = loaded as? EnsembleDetector else {
                    throw fail("\(path): \"\(loaded.card.id)\" is a \(loaded.card.architecture) detector, not an ensemble (build one with models ensemble or train --detector ensemble)")
                }
                return e
            }
            let (forVideo, forStills) = (try ensemble(video), try ensemble(stillImages))
            let joined: EnsembleDetector
            do {
                joined = try EnsembleDetector.routing(id: id ?? forVideo.card.id + "+stills", video: forVideo, stills: forStills,
                                                      notes: "videos: \(forVideo.card.id); photos: \(forStills.card.id); see models/MODEL_CARD.md")
                try joined.save(to: out, dtype: SafetensorsDType(rawValue: dtype.uppercased())!)
            } catch { throw fail("\(out): \(error)") }
            writeTrainingIDsUnion(of: [video, stillImages], beside: out)
            let spec = joined.card.ensemble!, still = spec.stillImages!
            if json {
                let object: [String: Any] = ["file": out, "id": joined.card.id, "members": spec.members, "threshold": Double(joined.card.threshold),
                                             "video": ["weights": spec.weights, "bias": spec.bias] as [String: Any],
                                             "still_images": ["weights": still.weights, "bias": still.bias, "threshold": still.threshold] as [String: Any]]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                for (i, member) in spec.members.enumerated() {
                    print(String(format: "%@: video weight %.4f, photo weight %.4f", member, spec.weights[i], still.weights[i]))
                }
                print(String(format: "threshold %.4f (photos: %.4f on their own scale)", joined.card.threshold, still.threshold))
                print("wrote \(out) (\(joined.card.id))")
            }
        }
    }
}
