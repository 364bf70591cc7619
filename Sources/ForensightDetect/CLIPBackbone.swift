import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels

/// The CLIP image encoder a CLIP-family detector runs on (`forgelens-clip`, `dfd-fcg-clip`, `clip-adapter-clip`), as
/// its model card carries it (`clip_backbone`): the encoder's sizes and the blocks whose tokens the detector reads.
/// The encoder's weights are the user's (Forensight ships none): `forensight train --clip PATH` reads them from any
/// checkpoint `forensight models import clip` reads, and the trained detector file holds them beside its own, so
/// `detect --model` needs nothing else.
public struct CLIPBackboneSpec: Codable, Sendable, Equatable {
    public var imageSize: Int, patchSize: Int, width: Int, layers: Int, heads: Int, mlpWidth: Int
    /// The joint-embedding width of the projection, nil without one (not used by the detectors, kept so the encoder's
    /// keys load strictly).
    public var outputDim: Int?
    /// `quick_gelu` (OpenAI's weights) or `gelu`.
    public var activation: String
    public var layerNormEps: Float
    /// The encoder blocks (0-based, ascending) whose output tokens the detector reads.
    public var selected: [Int]

    /// The spec of `config` with the detector reading blocks `selected`.
    public init(_ config: CLIPVisionConfig, selected: [Int]) {
        (imageSize, patchSize, width, layers, heads) = (config.imageSize, config.patchSize, config.width, config.layers, config.heads)
        (mlpWidth, outputDim, activation, layerNormEps) = (config.mlpWidth, config.outputDim, config.activation.rawValue, config.layerNormEps)
        self.selected = selected
    }

    enum CodingKeys: String, CodingKey {
        case imageSize = "image_size", patchSize = "patch_size", width, layers, heads, mlpWidth = "mlp_width"
        case outputDim = "output_dim", activation, layerNormEps = "layer_norm_eps", selected
    }

    /// The encoder's configuration, or an error naming what in the card is inconsistent.
    public func config(cardID: String) throws -> CLIPVisionConfig {
        guard let act = Activation(rawValue: activation), act == .quickGelu || act == .gelu else {
            throw DetectorError("model card \"\(cardID)\": clip_backbone activation \(activation) (quick_gelu or gelu)")
        }
        guard imageSize > 0, patchSize > 0, imageSize % patchSize == 0, width > 0, heads > 0, width % heads == 0,
              layers > 0, layers <= 64, mlpWidth > 0, outputDim.map({ $0 > 0 }) ?? true, layerNormEps > 0 else {
            throw DetectorError("model card \"\(cardID)\": inconsistent clip_backbone sizes \(imageSize)/\(patchSize)/\(width)/\(layers)/\(heads)")
        }
        guard !selected.isEmpty, selected == selected.sorted(), Set(selected).count == selected.count,
              selected.allSatisfy({ (0..<layers).contains($0) }) else {
            throw DetectorError("model card \"\(cardID)\": clip_backbone selected blocks \(selected) are not ascending blocks of a \(layers)-block encoder")
        }
        return CLIPVisionConfig(imageSize: imageSize, patchSize: patchSize, width: width, layers: layers, heads: heads,
                                mlpWidth: mlpWidth, outputDim: outputDim, activation: act, layerNormEps: layerNormEps)
    }

    /// A randomly initialised encoder of the spec's sizes (the file's or the user's weights are loaded into it).
    public func encoder(cardID: String) throws -> CLIPVisionEncoder { CLIPVisionEncoder(try config(cardID: cardID)) }

    /// The blocks a multi-layer detector (ForgeLens, DFD-FCG) reads by default: the last of each third of the encoder
    /// (blocks 3, 7 and 11 of a 12-block ViT-B; 7, 15 and 23 of ViT-L/14), as the Lite0 variants read the last block
    /// of three stages.
    public static func thirds(of layers: Int) -> [Int] {
        Array(Set([max(0, layers / 3 - 1), max(0, 2 * layers / 3 - 1), layers - 1])).sorted()
    }
}

extension DetectorCard {
    /// CLIP's input normalisation (OpenAI's per-channel mean and standard deviation on pixels scaled to 0…1), the
    /// encoder's input side, and the spec: what a CLIP-family card needs besides its architecture.
    public mutating func useCLIP(_ spec: CLIPBackboneSpec) {
        clipBackbone = spec
        inputSize = spec.imageSize
        pixelScale = 1
        mean = [0.48145466, 0.4578275, 0.40821073]
        std = [0.26862954, 0.26130258, 0.27577711]
    }

    /// The card's CLIP spec, or an error saying a CLIP-family architecture needs one.
    func requireCLIPBackbone() throws -> CLIPBackboneSpec {
        guard let spec = clipBackbone else {
            throw DetectorError("model card \"\(id)\": \(architecture) needs clip_backbone (train it with `forensight train --architecture \(architecture) --clip PATH`)")
        }
        return spec
    }
}

/// A detector with a variant on a user's CLIP image encoder (`clipArchitecture`), whose encoder weights come from the
/// user's checkpoint at the start of training.
public protocol CLIPBackboneDetector: TrainableDetector {
    /// The architecture name of the CLIP variant, e.g. `forgelens-clip`.
    static var clipArchitecture: String { get }
    /// The blocks the detector reads on a `layers`-block encoder by default.
    static func defaultCLIPLayers(_ layers: Int) -> [Int]
    /// The CLIP encoder, nil for the EfficientNet-Lite variant.
    var clipEncoder: CLIPVisionEncoder? { get }
}

extension CLIPBackboneDetector {
    /// Loads a CLIP encoder's weights (Forensight's keys, as `CLIPVisionEncoder.stateDict()` gives them) into the
    /// detector's encoder: every key must match, so an encoder of other sizes is one clear error.
    public func loadCLIPWeights(_ weights: [String: Tensor]) throws {
        guard let encoder = clipEncoder else { throw DetectorError("\(card.architecture) has no CLIP encoder") }
        do { _ = try encoder.loadStateDict(weights, strict: true) } catch {
            throw DetectorError("the CLIP weights do not fit \(card.architecture)'s encoder: \(error)")
        }
        encoder.eval()
    }

    /// A CLIP variant's input size is the encoder's (its positional embedding is fixed).
    func checkCLIPInputSize(_ side: Int) throws {
        guard let encoder = clipEncoder else { card.inputSize = side; return }
        guard side == encoder.config.imageSize else {
            throw DetectorError("\(card.architecture) takes \(encoder.config.imageSize)-pixel inputs (its CLIP encoder's), not \(side)")
        }
        card.inputSize = side
    }
}

extension DetectorRegistry {
    /// The CLIP variants' architecture names (`forgelens-clip`, …): trainable, given `--clip`.
    public static var clipArchitectures: [String] {
        [ForgeLensDetector.clipArchitecture, DFDFCGDetector.clipArchitecture, CLIPAdapterDetector.clipArchitecture]
    }
}
