import Foundation
import ForensightTensor
import ForensightNN
import ForensightModels
import ForensightMedia

/// The recipe of `forensight train --detector trace-simulator` (saved with every checkpoint).
public struct TraceSimulatorRecipe: Codable, Sendable, Equatable {
    public var seed: UInt64 = 0
    public var epochs = 2
    public var stepsPerEpoch = 300
    /// Patches per step (every autoencoder sees the same ones).
    public var patchesPerStep = 8
    /// Side of the square training patches (a multiple of every autoencoder's `sideMultiple`).
    public var patchSize = 96
    public var learningRate: Float = 1e-3
    public var autoencoders = GeneratorTraceSimulator.defaultConfigs
    /// Validation crops (held-out reals), each reconstructed at its full size.
    public var validationCrops = 48

    public init() {}

    enum CodingKeys: String, CodingKey {
        case seed, epochs, stepsPerEpoch = "steps_per_epoch", patchesPerStep = "patches_per_step", patchSize = "patch_size"
        case learningRate = "learning_rate", autoencoders, validationCrops = "validation_crops"
    }
}

/// Validation of a trace simulator: how closely each autoencoder reproduces held-out real crops.
public struct TraceSimulatorValidation: Codable, Sendable, Equatable {
    /// Mean PSNR (dB, 8-bit pixels) per autoencoder, in the simulator's order.
    public var psnr: [Double]
    /// The mean of `psnr` (the model-selection score).
    public var score: Double
}

/// Trains the autoencoders of a `GeneratorTraceSimulator` to reproduce real faces (mean absolute error on random
/// patches cut at random scales), so that what their reconstructions add is the decoders' trace, not lost content.
/// Each step cuts `patchesPerStep` patches from random training crops, each shrunk first by a factor drawn from the
/// simulator's `scales` (the scales it will be used at); every autoencoder's L1 loss on them is summed.
public final class TraceSimulatorTrainer: TrainingRecipe {
    public let recipe: TraceSimulatorRecipe
    public let simulator: GeneratorTraceSimulator
    let train: [RGBImage]
    let validation: [RGBImage]

    /// - Parameters:
    ///   - train: real face crops to learn from; `validation`: held-out real crops.
    public init(recipe: TraceSimulatorRecipe, train: [RGBImage], validation: [RGBImage]) throws {
        guard !train.isEmpty, !validation.isEmpty else { throw TrainingError("a trace simulator needs training and validation real faces") }
        let simulator = ParameterInit.withSeed(recipe.seed) { GeneratorTraceSimulator(recipe.autoencoders) }
        guard recipe.patchSize % simulator.sideMultiple == 0 else {
            throw TrainingError("patch size \(recipe.patchSize) must be a multiple of \(simulator.sideMultiple)")
        }
        (self.recipe, self.simulator, self.train) = (recipe, simulator, train)
        var picker = SeededRandom(seed: mix(recipe.seed, 0x7A1))
        self.validation = Array(validation.shuffled(using: &picker).prefix(recipe.validationCrops))
    }

    public var config: TraceSimulatorRecipe { recipe }

    public var optimization: Optimization {
        Optimization(epochs: recipe.epochs, stepsPerEpoch: recipe.stepsPerEpoch, learningRate: recipe.learningRate, weightDecay: 0,
                     warmupSteps: min(50, recipe.stepsPerEpoch))
    }

    public var samplesPerStep: Int { recipe.patchesPerStep * simulator.autoencoders.count }

    public func trainableParameters() -> [Tensor] { simulator.trainableParameters() }

    public func beginEpoch(_ epoch: Int) { simulator.train() }

    public func loss(epoch: Int, step: Int) -> Tensor {
        let input = batch(epoch: epoch, step: step)
        let losses = simulator.autoencoders.map { Tensor.l1Loss($0(input), input) }
        return losses.dropFirst().reduce(losses[0], +)
    }

    /// The step's patches as [P, 3, S, S] in −1…1, drawn from (seed, epoch, step).
    public func batch(epoch: Int, step: Int) -> Tensor {
        let s = recipe.patchSize
        var random = SeededRandom(seed: mix(recipe.seed, UInt64(epoch), UInt64(step)))
        let patches: [RGBImage] = (0..<recipe.patchesPerStep).map { _ in
            let face = train[Int(random.next() % UInt64(train.count))]
            let scales = simulator.scales
            let scale = scales.lowerBound + random.nextFloat() * (scales.upperBound - scales.lowerBound)
            let side = max(s, Int((Float(min(face.width, face.height)) * scale).rounded()))
            let shrunk = face.resized(width: side * face.width / min(face.width, face.height),
                                      height: side * face.height / min(face.width, face.height), method: .area)
            let x = Int(random.next() % UInt64(shrunk.width - s + 1)), y = Int(random.next() % UInt64(shrunk.height - s + 1))
            let patch = ImageGeometry.crop(shrunk, x: x, y: y, width: s, height: s)
            return random.nextFloat() < 0.5 ? patch : ImageGeometry.flipHorizontal(patch)
        }
        return Tensor.concatenate(patches.map { GeneratorTraceSimulator.tensor($0, paddedTo: (s, s)) }, axis: 0)
    }

    public func validate() throws -> (score: Double, result: TraceSimulatorValidation) {
        simulator.eval()
        let psnr = simulator.autoencoders.indices.map { index in
            validation.map { Self.psnr(simulator.reconstruct($0, with: index), $0) }.reduce(0, +) / Double(validation.count)
        }
        let score = psnr.reduce(0, +) / Double(psnr.count)
        return (score, TraceSimulatorValidation(psnr: psnr, score: score))
    }

    public func saveWeights(to path: String) throws { try simulator.save(to: path) }

    public func loadWeights(from path: String) throws { _ = try simulator.load(safetensors: path) }

    /// PSNR in dB between two images of one size (8-bit peak).
    public static func psnr(_ a: RGBImage, _ b: RGBImage) -> Double {
        precondition(a.width == b.width && a.height == b.height, "psnr of different sizes")
        var sum = 0.0
        for (x, y) in zip(a.pixels, b.pixels) { let d = Double(x) - Double(y); sum += d * d }
        let mse = sum / Double(max(a.pixels.count, 1))
        return mse == 0 ? 99 : 10 * log10(255 * 255 / mse)
    }
}
