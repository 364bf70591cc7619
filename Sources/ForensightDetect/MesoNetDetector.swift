import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightMedia

/// MesoNet on aligned face crops: Meso-4 (`Meso4`, architecture `meso4`) or MesoInception-4 (`MesoInception4`,
/// `mesoinception4`), compact detectors of the model zoo, trained from scratch by `forensight train --architecture
/// meso4` (self-blends, no fakes needed) or imported from the authors' Keras weights (`forensight models import
/// mesonet`). Its card feeds 256 px crops scaled to 0…1 (`pixel_scale` 1, mean 0, std 1), as the authors' code does.
public final class MesoNetDetector: TrainableDetector {
    /// The architectures this class builds.
    public static let architectures = ["meso4", "mesoinception4"]
    public let network: any MesoNetwork
    public var card: DetectorCard
    public private(set) var weightsSHA256 = ""

    /// A fresh network for `card`; a card still carrying the EfficientNet defaults (224 px, (x − 127) / 128) gets
    /// MesoNet's own input: 256 px, pixels scaled to 0…1.
    public init(card: DetectorCard) throws {
        var card = card
        if card.pixelScale == nil && card.mean == [127, 127, 127] && card.std == [128, 128, 128] {
            (card.pixelScale, card.mean, card.std) = (1, [0, 0, 0], [1, 1, 1])
            if card.inputSize == 224 { card.inputSize = 256 }
        }
        guard card.inputSize % 32 == 0, card.inputSize >= 32 else {
            throw DetectorError("model card \"\(card.id)\": \(card.architecture) needs an input size that is a multiple of 32, not \(card.inputSize)")
        }
        switch card.architecture {
        case "mesoinception4": network = MesoInception4(inputSize: card.inputSize)
        case "meso4": network = Meso4(inputSize: card.inputSize)
        default: throw DetectorError("model card \"\(card.id)\": \(card.architecture) is not a MesoNet (\(Self.architectures.joined(separator: ", ")))")
        }
        self.card = card
    }

    /// The detector in `file` (at `path`), whose card has been read.
    convenience init(card: DetectorCard, file: SafetensorsFile, path: String) throws {
        try self.init(card: card)
        do { _ = try network.loadStateDict(try file.allTensors(), strict: true) } catch { throw DetectorError("\(path): \(error)") }
        network.eval()
        weightsSHA256 = (try? FileDigest.sha256Hex(ofFile: path)) ?? ""
    }

    /// The registry line of Meso-4.
    public static let registryEntry = DetectorRegistry.Entry(
        architecture: "meso4", summary: "MesoNet Meso-4 on aligned face crops, trained from scratch (model zoo)",
        make: { try MesoNetDetector(card: $0) }, load: { try MesoNetDetector(card: $0, file: $1, path: $2) })

    /// The registry line of MesoInception-4.
    public static let inceptionRegistryEntry = DetectorRegistry.Entry(
        architecture: "mesoinception4",
        summary: "MesoNet MesoInception-4 on aligned face crops, trained from scratch or imported from Keras (model zoo)",
        make: { try MesoNetDetector(card: $0) }, load: { try MesoNetDetector(card: $0, file: $1, path: $2) })

    public func faceLogits(_ faces: [RGBImage], batchSize: Int = 16) -> [Float] {
        card.faceLogits(faces, batchSize: batchSize) { input in withoutGrad { network(input) }.scalars }
    }

    public func save(to path: String, dtype: SafetensorsDType = .f32) throws {
        try network.save(safetensors: path, dtype: dtype, metadata: ["forensight.card": card.json])
    }

    // MARK: TrainableDetector

    public var module: Module { network }
    public func inputTensor(_ faces: [RGBImage]) -> Tensor { card.inputTensor(faces) }
    public func trainingLogits(_ input: Tensor) -> Tensor { network(input) }

    /// The classifier is sized for one input side: only that one is accepted.
    public func setInputSize(_ side: Int) throws {
        guard side == network.inputSize else {
            throw DetectorError("\(card.architecture) \"\(card.id)\" was built for \(network.inputSize) px crops, not \(side) px (use --input-size \(network.inputSize))")
        }
    }

    /// MesoNet is small and trains whole: `frozenBlocks` is ignored.
    public func beginTrainingEpoch(frozenBlocks: Int, dropoutSeed: UInt64) {
        network.train()
        let dropouts = network.dropouts
        dropouts[0].reseed(dropoutSeed)
        dropouts[1].reseed(dropoutSeed ^ 0x9E37_79B9)
    }

    public func loadPretrained(_ weights: [String: Tensor]) throws { _ = try network.loadStateDict(weights, strict: true) }

    /// Trained from its own initialisation.
    public var pretrainedWeightsName: String? { nil }
}
