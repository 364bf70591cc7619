import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightMedia

/// The recipe of `forensight train --detector rffr-inpainter` (saved with every checkpoint; a resume must use the same).
public struct InpainterRecipe: Codable, Sendable, Equatable {
    public var seed: UInt64 = 0
    public var epochs = 3
    public var stepsPerEpoch = 400
    /// Real crops per step; each hides the blocks of one of the K masks of its own random partition.
    public var cropsPerStep = 8
    public var learningRate: Float = 1e-3
    public var inpainter = BlockInpainterConfig()
    /// Validation crops (held-out reals), each restored by all K passes of the fixed partition.
    public var validationCrops = 48

    public init() {}

    enum CodingKeys: String, CodingKey {
        case seed, epochs, stepsPerEpoch = "steps_per_epoch", cropsPerStep = "crops_per_step", learningRate = "learning_rate"
        case inpainter, validationCrops = "validation_crops"
    }
}

/// Validation of an inpainter: how closely it restores the hidden blocks of held-out real crops.
public struct InpainterValidation: Codable, Sendable, Equatable {
    /// Mean PSNR (dB, 8-bit pixels) of the restoration over the masked blocks; every block is masked by exactly one of
    /// the K passes, so this covers the whole working image. The model-selection score.
    public var psnr: Double
    /// Mean absolute error of the restoration, in 8-bit levels.
    public var meanAbsoluteError: Double

    enum CodingKeys: String, CodingKey { case psnr, meanAbsoluteError = "mean_absolute_error" }
}

/// Trains RFFR's `BlockInpainter` on real faces only: each step takes `cropsPerStep` real crops (a random square cut of
/// 85–100 % of the crop, flipped half the time, resized to the working size), hides in each the blocks of one of the K
/// masks of a random partition of the grid, and minimises the mean absolute error over the hidden pixels. Every draw
/// comes from (seed, epoch, step), so a run is reproducible and resumes exactly (`TrainingLoop`).
public final class InpainterTrainer: TrainingRecipe {
    public let recipe: InpainterRecipe
    public let inpainter: BlockInpainter
    let train: [RGBImage]
    /// The validation crops at the working size, [V, 3, S, S] in −1…1.
    let validation: Tensor

    /// - Parameters:
    ///   - train: real face crops to learn from; `validation`: held-out real crops.
    public init(recipe: InpainterRecipe, train: [RGBImage], validation: [RGBImage]) throws {
        guard !train.isEmpty, !validation.isEmpty else { throw TrainingError("an RFFR inpainter needs training and validation real faces") }
        if let problem = recipe.inpainter.problem { throw TrainingError("inpainter: \(problem)") }
        (self.recipe, self.train) = (recipe, train)
        inpainter = ParameterInit.withSeed(recipe.seed) { BlockInpainter(recipe.inpainter) }
        var picker = SeededRandom(seed: mix(recipe.seed, 0x1A9))
        let held = Array(validation.shuffled(using: &picker).prefix(recipe.validationCrops))
        self.validation = Self.tensor(held.map { $0.resized(width: recipe.inpainter.workingSize, height: recipe.inpainter.workingSize,
                                                             method: $0.width > recipe.inpainter.workingSize ? .area : .bilinear) })
    }

    public var config: InpainterRecipe { recipe }

    public var optimization: Optimization {
        Optimization(epochs: recipe.epochs, stepsPerEpoch: recipe.stepsPerEpoch, learningRate: recipe.learningRate, weightDecay: 0,
                     warmupSteps: min(50, recipe.stepsPerEpoch))
    }

    public var samplesPerStep: Int { recipe.cropsPerStep }

    public func trainableParameters() -> [Tensor] { inpainter.trainableParameters() }

    public func beginEpoch(_ epoch: Int) { inpainter.train() }

    public func loss(epoch: Int, step: Int) -> Tensor {
        let (images, masks) = batch(epoch: epoch, step: step)
        return Self.maskedL1(inpainter(BlockInpainter.maskedInput(images, masks: masks)), images, masks: masks)
    }

    /// Mean absolute error of `restored` against `target` ([N, 3, S, S]) over the hidden pixels of `masks`.
    public static func maskedL1(_ restored: Tensor, _ target: Tensor, masks: [[Float]]) -> Tensor {
        let (n, s) = (target.shape[0], target.shape[2])
        let weights = Tensor.zeros([n, 3, s, s])
        var hidden: Float = 0
        for i in 0..<n {
            for c in 0..<3 { for p in 0..<(s * s) { weights.data[(i * 3 + c) * s * s + p] = masks[i][p] } }
            hidden += 3 * masks[i].reduce(0, +)
        }
        return ((restored - target).abs() * weights).sum() * (1 / max(hidden, 1))
    }

    /// The step's crops [P, 3, S, S] in −1…1 and their masks (each [S · S]), drawn from (seed, epoch, step).
    public func batch(epoch: Int, step: Int) -> (images: Tensor, masks: [[Float]]) {
        let c = recipe.inpainter, s = c.workingSize
        var random = SeededRandom(seed: mix(recipe.seed, 0x1B, UInt64(epoch), UInt64(step)))
        var crops: [RGBImage] = [], masks: [[Float]] = []
        for _ in 0..<recipe.cropsPerStep {
            let face = train[Int(random.next() % UInt64(train.count))]
            let full = min(face.width, face.height)
            let side = max(1, Int(Float(full) * (0.85 + 0.15 * random.nextFloat())))
            let x = Int(random.next() % UInt64(face.width - side + 1)), y = Int(random.next() % UInt64(face.height - side + 1))
            var crop = ImageGeometry.crop(face, x: x, y: y, width: side, height: side).resized(width: s, height: s, method: side > s ? .area : .bilinear)
            if random.nextFloat() < 0.5 { crop = ImageGeometry.flipHorizontal(crop) }
            crops.append(crop)
            let assignment = BlockMasking.partition(gridSide: c.gridSide, passes: c.passes, seed: random.next())
            masks.append(BlockMasking.pixelMask(assignment, pass: Int(random.next() % UInt64(c.passes)), gridSide: c.gridSide, blockSize: c.blockSize))
        }
        return (Self.tensor(crops), masks)
    }

    public func validate() throws -> (score: Double, result: InpainterValidation) {
        inpainter.eval()
        let (v, plane) = (validation.shape[0], 3 * validation.shape[2] * validation.shape[3])
        var psnrSum = 0.0, absSum = 0.0
        var start = 0
        while start < v {
            let end = min(start + 8, v)
            let chunk = validation.slice(axis: 0, start..<end)
            let restored = inpainter.restore(chunk)
            for i in 0..<(end - start) {
                var squares = 0.0, absolute = 0.0
                for p in 0..<plane {
                    let d = Double(max(-1, min(1, restored.data[i * plane + p])) - chunk.data[i * plane + p]) * 127.5
                    squares += d * d; absolute += abs(d)
                }
                let mse = squares / Double(plane)
                psnrSum += mse == 0 ? 99 : 10 * log10(255 * 255 / mse)
                absSum += absolute / Double(plane)
            }
            start = end
        }
        let result = InpainterValidation(psnr: psnrSum / Double(v), meanAbsoluteError: absSum / Double(v))
        return (result.psnr, result)
    }

    public func saveWeights(to path: String) throws { try inpainter.save(to: path) }

    public func loadWeights(from path: String) throws { _ = try inpainter.load(safetensors: path) }

    /// [N, 3, S, S] in −1…1 from square images of one side S.
    static func tensor(_ images: [RGBImage]) -> Tensor {
        let s = images.first?.width ?? 0
        let out = Tensor.zeros([images.count, 3, s, s])
        for (n, image) in images.enumerated() {
            image.pixels.withUnsafeBufferPointer { px in
                for c in 0..<3 { for i in 0..<(s * s) { out.data[(n * 3 + c) * s * s + i] = Float(px[3 * i + c]) / 127.5 - 1 } }
            }
        }
        return out
    }
}
