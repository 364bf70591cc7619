import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightDetect

/// The detector `train --detector sbi` starts from: its architecture's defaults, its pretrained weights, and for the
/// CLIP variants of the zoo's detectors the user's encoder (`--clip`).
extension Train {
    /// The encoder of `--clip` as a card spec (the detector's default blocks) and its weights in Forensight's keys; nil
    /// for architectures that do not run on CLIP. A CLIP architecture without `--clip`, `--clip` with another
    /// architecture, or an unreadable checkpoint is a one-line error.
    func clipBackbone() throws -> CLIPBackbone? {
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

    /// The self-blend recipe's learning rate without --learning-rate: ForgeLens's, the CLIP adapter's and DFD-FCG's (1e-4), else 2e-4.
    var defaultLearningRate: Float {
        switch architecture {
        case ForgeLensDetector.architecture: ForgeLensDetector.learningRate
        case CLIPAdapterDetector.architecture: CLIPAdapterDetector.learningRate
        case DFDFCGDetector.architecture: DFDFCGDetector.learningRate
        case ForgeLensDetector.clipArchitecture, CLIPAdapterDetector.clipArchitecture, DFDFCGDetector.clipArchitecture: 1e-4
        default: 2e-4
        }
    }

    /// The CLIP adapter's parts and identity weight from --adapter-parts and --identity-weight (nil: an unknown part).
    var adapterSpec: AdapterSpec? {
        CLIPAdapterParts(names: adapterParts.split(separator: ",").map(String.init)).map { AdapterSpec(parts: $0.names, identityWeight: identityWeight) }
    }

    /// The CLIP encoder `clipBackbone()` read (nil for other architectures), read once per run and handed on.
    typealias CLIPBackbone = (spec: CLIPBackboneSpec, weights: [String: Tensor])

    /// --input-size, or the input side a fresh detector of the architecture has on its card (the encoder's for a CLIP
    /// variant, `backbone` being what `clipBackbone()` read).
    func resolvedInputSize(clip backbone: CLIPBackbone? = nil) throws -> Int {
        if let spec = backbone?.spec { return spec.imageSize }
        if let inputSize { return inputSize }
        guard detector == .sbi || detector == .synthesis else { return 224 }
        do { return try DetectorRegistry.makeTrainable(card: DetectorCard(id: "probe", architecture: architecture)).card.inputSize } catch { throw fail("\(error)") }
    }

    /// A fresh detector of `--architecture` (its head initialised from the seed) holding its pretrained weights: for
    /// a CLIP variant the encoder `clipBackbone()` read (`clip`).
    func initialDetector(clip clipBackbone: CLIPBackbone?) throws -> any TrainableDetector {
        var card = DetectorCard(id: (detector == .synthesis ? "synthesis-" : "sbi-") + architecture, architecture: architecture)
        card.inputSize = try resolvedInputSize(clip: clipBackbone)
        if architecture == CLIPAdapterDetector.architecture || architecture == CLIPAdapterDetector.clipArchitecture { card.adapter = adapterSpec }
        if let clipBackbone { card.useCLIP(clipBackbone.spec) }
        let model: any TrainableDetector
        do { model = try ParameterInit.withSeed(seed) { try DetectorRegistry.makeTrainable(card: card) } } catch { throw fail("\(error)") }
        if let clipBackbone {
            do { try model.loadPretrained(clipBackbone.weights) } catch { throw fail("\(clip ?? ""): \(error)") }
            return model
        }
        guard let path = initWeights ?? model.pretrainedWeightsName.map({ ModelLocations.weightsDirectory + "/" + $0 }) else { return model }
        do {
            try model.loadPretrained(try Safetensors.read(path: path))
        } catch { throw fail("\(path): \(error) (run scripts/setup/weights.sh to convert the ImageNet weights)") }
        return model
    }
}
