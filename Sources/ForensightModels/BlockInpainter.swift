import Foundation
import ForensightTensor
import ForensightNN

/// The shape of a `BlockInpainter` and of its block masking (saved with its weights).
public struct BlockInpainterConfig: Codable, Sendable, Equatable {
    /// Side of the square working image: a face crop is resized to it before masking.
    public var workingSize = 128
    /// Side of one block of the patch grid (`workingSize` must be a multiple of it).
    public var blockSize = 16
    /// K: the grid's blocks are split into this many complementary masks, so K passes restore every block once.
    public var passes = 4
    /// Channels of the first convolution; deeper stages have 2× and 4× as many.
    public var width = 16
    /// Seed of the fixed partition of the grid into `passes` masks that restoration (test time) uses.
    public var maskSeed: UInt64 = 0

    public init(workingSize: Int = 128, blockSize: Int = 16, passes: Int = 4, width: Int = 16, maskSeed: UInt64 = 0) {
        (self.workingSize, self.blockSize, self.passes, self.width, self.maskSeed) = (workingSize, blockSize, passes, width, maskSeed)
    }

    /// Blocks per grid side.
    public var gridSide: Int { workingSize / blockSize }

    /// Nil when the configuration is usable, otherwise why not.
    public var problem: String? {
        guard blockSize >= 1, workingSize >= blockSize, workingSize % blockSize == 0 else {
            return "working size \(workingSize) must be a multiple of block size \(blockSize)"
        }
        guard workingSize % BlockInpainter.sideMultiple == 0 else { return "working size \(workingSize) must be a multiple of \(BlockInpainter.sideMultiple)" }
        guard passes >= 2, passes <= gridSide * gridSide else { return "passes \(passes) must be 2…\(gridSide * gridSide) (the grid's blocks)" }
        guard (1...256).contains(width) else { return "width \(width) must be 1…256" }
        return nil
    }

    enum CodingKeys: String, CodingKey {
        case workingSize = "working_size", blockSize = "block_size", passes, width, maskSeed = "mask_seed"
    }
}

/// Block masking over a patch grid, as in a masked autoencoder (He et al. 2022): the `gridSide` × `gridSide` blocks
/// are split into K complementary masks, so K restoration passes, each seeing the blocks the others hide, restore every
/// block exactly once.
public enum BlockMasking {
    /// The pass (0..<passes) of each block of a `gridSide` × `gridSide` grid, row-major: a seeded random permutation
    /// of the blocks dealt to the passes in turn, so every pass hides ⌊blocks / K⌋ or ⌈blocks / K⌉ of them.
    public static func partition(gridSide: Int, passes: Int, seed: UInt64) -> [Int] {
        var random = SeededRandom(seed: seed)
        var assignment = [Int](repeating: 0, count: gridSide * gridSide)
        for (position, block) in Array(0..<(gridSide * gridSide)).shuffled(using: &random).enumerated() { assignment[block] = position % passes }
        return assignment
    }

    /// The pixel mask of pass `pass`: [side · side], 1 inside the blocks the pass hides (and restores), 0 elsewhere.
    public static func pixelMask(_ assignment: [Int], pass: Int, gridSide: Int, blockSize: Int) -> [Float] {
        let side = gridSide * blockSize
        var mask = [Float](repeating: 0, count: side * side)
        for y in 0..<side {
            for x in 0..<side where assignment[(y / blockSize) * gridSide + x / blockSize] == pass { mask[y * side + x] = 1 }
        }
        return mask
    }
}

/// The generative half of RFFR (real-face foundation representation learning): a small U-Net that restores the masked
/// blocks of a face crop. Trained on real faces only (`train --detector rffr-inpainter`), it restores real skin, eyes
/// and hair well and whatever it never saw less well, so the residual between its restoration and the input
/// (`amplifiedResidual`) is a forgery cue for the RFFR detector.
///
/// Input [N, 4, S, S]: the image in −1…1 with the hidden blocks set to 0, and the mask (1 = hidden). Encoder: a 3×3
/// convolution to `width` channels, three 3×3 stride-2 convolutions (2·width, 4·width, 4·width), a 3×3 convolution of
/// dilation 2; decoder: three stages of bilinear doubling and a 3×3 convolution, each added to the encoder's map of
/// that size (skips), then a 3×3 convolution to RGB. ReLU after every convolution but the last.
public final class BlockInpainter: Module {
    public let config: BlockInpainterConfig
    public let encoder: [Conv2d]
    public let bottleneck: Conv2d
    public let decoder: [Conv2d]
    public let output: Conv2d

    /// The factor an input side must be divisible by (three halvings).
    public static let sideMultiple = 8

    public init(_ config: BlockInpainterConfig = BlockInpainterConfig()) {
        precondition(config.problem == nil, "block inpainter: \(config.problem ?? "")")
        self.config = config
        let w = config.width
        let channels = [w, 2 * w, 4 * w, 4 * w]
        encoder = [Conv2d(4, channels[0], kernel: 3, padding: 1)]
            + (1...3).map { Conv2d(channels[$0 - 1], channels[$0], kernel: 3, stride: 2, padding: 1) }
        bottleneck = Conv2d(channels[3], channels[3], kernel: (3, 3), padding: .explicit(.symmetric(2, 2)), dilation: (2, 2))
        decoder = (0..<3).map { i in Conv2d(channels[3 - i], channels[2 - i], kernel: 3, padding: 1) }
        output = Conv2d(channels[0], 3, kernel: 3, padding: 1)
    }

    /// One restoration pass: [N, 4, S, S] (masked image, mask) → [N, 3, S, S] RGB in −1…1 (unclamped). S must be a
    /// multiple of `sideMultiple`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == 4 && x.shape[2] % Self.sideMultiple == 0 && x.shape[3] % Self.sideMultiple == 0,
                     "block inpainter input \(x.shape): [N, 4, S, S] with S a multiple of \(Self.sideMultiple)")
        var skips: [Tensor] = []
        var h = x
        for conv in encoder { h = conv(h).relu(); skips.append(h) }
        h = bottleneck(h).relu()
        for (i, conv) in decoder.enumerated() {
            let skip = skips[2 - i]
            h = conv(h.upsampleBilinear((skip.shape[2], skip.shape[3]))).relu() + skip
        }
        return output(h)
    }

    /// The K pixel masks of the fixed partition (`config.maskSeed`), each [S · S].
    public var masks: [[Float]] {
        let assignment = BlockMasking.partition(gridSide: config.gridSide, passes: config.passes, seed: config.maskSeed)
        return (0..<config.passes).map { BlockMasking.pixelMask(assignment, pass: $0, gridSide: config.gridSide, blockSize: config.blockSize) }
    }

    /// The network inputs of `images` [N, 3, S, S] under `masks` (one per image, each [S · S], 1 = hidden):
    /// [N, 4, S, S], the hidden pixels zeroed and the mask as the fourth channel. Not on the autograd tape.
    public static func maskedInput(_ images: Tensor, masks: [[Float]]) -> Tensor {
        let (n, s) = (images.shape[0], images.shape[2])
        precondition(images.shape == [n, 3, s, s] && masks.count == n, "masked input: images \(images.shape), \(masks.count) masks")
        let plane = s * s
        let out = Tensor.zeros([n, 4, s, s])
        for i in 0..<n {
            for c in 0..<3 {
                let (src, dst) = (images.data + (i * 3 + c) * plane, out.data + (i * 4 + c) * plane)
                for p in 0..<plane { dst[p] = masks[i][p] > 0 ? 0 : src[p] }
            }
            let dst = out.data + (i * 4 + 3) * plane
            for p in 0..<plane { dst[p] = masks[i][p] }
        }
        return out
    }

    /// The restoration x̂ of `images` [N, 3, S, S] (S = `config.workingSize`, pixels in −1…1): the K passes of the fixed
    /// partition run as one batch, and each pixel of x̂ is taken from the pass that hid it. No gradient is recorded.
    public func restore(_ images: Tensor) -> Tensor {
        let (n, s) = (images.shape[0], config.workingSize)
        precondition(images.shape == [n, 3, s, s], "restore: images \(images.shape), expected [N, 3, \(s), \(s)]")
        let masks = self.masks, k = config.passes, plane = s * s
        // Row j · n + i is pass j of image i.
        let batch = Tensor.concatenate((0..<k).map { j in Self.maskedInput(images, masks: Array(repeating: masks[j], count: n)) }, axis: 0)
        let passes = withoutGrad { self(batch) }
        let restored = Tensor.zeros([n, 3, s, s])
        for j in 0..<k {
            for i in 0..<n {
                for c in 0..<3 {
                    let (src, dst) = (passes.data + ((j * n + i) * 3 + c) * plane, restored.data + (i * 3 + c) * plane)
                    for p in 0..<plane where masks[j][p] > 0 { dst[p] = src[p] }
                }
            }
        }
        return restored
    }

    /// The RFFR forgery cue of `images` [N, 3, S, S] in −1…1: `BlockInpainter.residual(restored: restore(images), input: images)`.
    public func amplifiedResidual(_ images: Tensor) -> Tensor { Self.residual(restored: restore(images), input: images) }

    /// The amplified residual 4 · (x̂ − x) between a restoration x̂ and its input x (same shape): zero wherever the
    /// restoration is perfect, and large where the face departs from what the inpainter learned of real faces.
    public static let residualGain: Float = 4

    /// 4 · (x̂ − x), elementwise (`residualGain`). Not on the autograd tape when its inputs are not.
    public static func residual(restored: Tensor, input: Tensor) -> Tensor {
        precondition(restored.shape == input.shape, "residual: \(restored.shape) against \(input.shape)")
        return (restored - input) * residualGain
    }

    /// Metadata key of the configuration in a safetensors file.
    public static let metadataKey = "forensight.rffr-inpainter"

    /// Loads an inpainter written by `save(to:)`; errors name the file and the remedy.
    public convenience init(path: String) throws {
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: path) } catch { throw InpainterFileError("\(path): \(error)") }
        guard let json = file.metadata[Self.metadataKey],
              let config = try? JSONDecoder().decode(BlockInpainterConfig.self, from: Data(json.utf8)), config.problem == nil else {
            throw InpainterFileError("\(path): not an RFFR inpainter (no valid \(Self.metadataKey) metadata); train one with `forensight train --detector rffr-inpainter`")
        }
        self.init(config)
        do { _ = try loadStateDict(try file.allTensors(), strict: true) } catch { throw InpainterFileError("\(path): \(error)") }
        eval()
    }

    /// The configuration as the JSON stored under `metadataKey`.
    public var configJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(config)) ?? Data(), as: UTF8.self)
    }

    /// Writes the weights (f32) and the configuration.
    public func save(to path: String) throws { try save(safetensors: path, metadata: [Self.metadataKey: configJSON]) }
}

/// A block inpainter file that cannot be used.
public struct InpainterFileError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
