import Foundation
import ForensightTensor
import ForensightModels
import ForensightDetect

/// `train --clip`: the user's CLIP image encoder for the CLIP variants of the zoo's detectors.
extension Train {
    /// The encoder of `--clip` as a card spec (the detector's default blocks) and its weights in Forensight's keys; nil
    /// for architectures that do not run on CLIP. A CLIP architecture without `--clip`, `--clip` with another
    /// architecture, or an unreadable checkpoint is a one-line error.
    func clipBackbone() throws -> (spec: CLIPBackboneSpec, weights: [String: Tensor])? {
        let variants: [String: any CLIPBackboneDetector.Type] = [
            ForgeLensDetector.clipArchitecture: ForgeLensDetector.self, DFDFCGDetector.clipArchitecture: DFDFCGDetector.self,
            CLIPAdapterDetector.clipArchitecture: CLIPAdapterDetector.self,
        ]
        guard let variant = variants[architecture] else {
            if clip != nil {
                throw fail("--clip is for the CLIP variants (\(variants.keys.sorted().joined(separator: ", "))), not \(architecture)")
            }
            return nil
        }
        guard let clip else {
            throw fail("\(architecture) runs on your CLIP image encoder: give it with --clip PATH (Forensight ships no CLIP weights; docs/ZOO.md, \"Bringing CLIP weights\")")
        }
        let checkpoint: CLIPCheckpoint
        do { checkpoint = try CLIPCheckpoint(path: clip) } catch { throw fail("\(clip): \(error)") }
        let spec = CLIPBackboneSpec(checkpoint.config, selected: variant.defaultCLIPLayers(checkpoint.config.layers))
        return (spec, Dictionary(checkpoint.encoder.stateDict(), uniquingKeysWith: { first, _ in first }))
    }
}
