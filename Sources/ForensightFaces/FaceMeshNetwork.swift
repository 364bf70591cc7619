import Foundation
import ForensightTensor

/// One convolution of the FaceMesh graph with its TFLite padding rule, weights in engine layout (OIHW; depthwise
/// [C, 1, kh, kw]).
struct FaceMeshConvolution {
    let weight: Tensor, bias: Tensor
    let stride: Int
    /// TFLite "SAME" (output ⌈in/stride⌉, the odd pixel of padding after) or "VALID" (no padding).
    let same: Bool

    func padding(for x: Tensor) -> Padding2D {
        same ? .same(height: x.shape[2], width: x.shape[3], kernel: (weight.shape[2], weight.shape[3]), stride: (stride, stride))
             : .zero
    }

    /// conv(x) (+ `residual`), then PReLU with `slopes` when given (fused into the convolution's pass when there is
    /// no residual: the engine's epilogue applies its activation before the residual add, FaceMesh after it).
    func callAsFunction(_ x: Tensor, groups: Int = 1, residual: Tensor? = nil, slopes: Tensor? = nil) -> Tensor {
        if let residual {
            let sum = Tensor.conv2d(x, weight: weight, bias: bias, stride: (stride, stride), padding: padding(for: x), groups: groups,
                                    epilogue: ChannelEpilogue(residual: residual))
            return slopes.map { sum.prelu($0) } ?? sum
        }
        return Tensor.conv2d(x, weight: weight, bias: bias, stride: (stride, stride), padding: padding(for: x), groups: groups,
                             epilogue: slopes.map { ChannelEpilogue(preluSlopes: $0.scalars) })
    }
}

/// A residual block of the FaceMesh backbone (BlazeFace-style): y = PReLU(skip(x) + conv1×1(depthwise3×3(x))), where
/// the depthwise convolution has the block's stride and skip(x) is x, or for stride 2 a 2×2 max pool of x zero-padded
/// on the channel axis to the output width (TFLite `PAD` of the channel axis, zeros after the existing channels).
struct FaceMeshBlock {
    let depthwise: FaceMeshConvolution, pointwise: FaceMeshConvolution
    let slopes: Tensor
    let inChannels: Int, outChannels: Int, stride: Int

    func callAsFunction(_ x: Tensor) -> Tensor {
        var skip = x
        if stride == 2 {
            skip = x.maxPool2d(kernel: (2, 2), stride: (2, 2))
            if outChannels > inChannels { skip = skip.padded([(0, 0), (0, outChannels - inChannels)]) }
        }
        return pointwise(depthwise(x, groups: inChannels), residual: skip, slopes: slopes)
    }
}

/// One output head on the 6×6 trunk: residual blocks down to 3×3, a 1×1 squeeze to 32 channels with PReLU, more blocks,
/// and a 3×3 "VALID" convolution to a 1×1 output.
struct FaceMeshHead {
    let blocks: [FaceMeshBlock]
    let squeeze: FaceMeshConvolution, squeezeSlopes: Tensor
    let tail: [FaceMeshBlock]
    let output: FaceMeshConvolution

    func callAsFunction(_ x: Tensor) -> Tensor {
        var y = x
        for block in blocks { y = block(y) }
        y = squeeze(y, slopes: squeezeSlopes)
        for block in tail { y = block(y) }
        return output(y)
    }
}

/// MediaPipe FaceMesh (Kartynnik et al., 2019, "Real-time Facial Surface Geometry from Monocular Video on Mobile GPUs",
/// https://arxiv.org/abs/1907.06724), the network of `face_landmark.tflite`: a 192×192 RGB crop in [0, 1] → 468
/// landmarks (x, y, z; x and y in crop pixels, z in the same scale) and a face-presence logit.
///
/// The architecture is hard-coded: a stride-2 3×3 stem and 14 residual blocks (192 → 6 px, 16 → 128 channels), then two
/// heads on the 6×6 trunk, each a few blocks down to 3×3 and a 3×3 "VALID" convolution to 1×1: 1404 landmark values,
/// one face-flag logit. `scripts/setup/convert_facemesh.py` checks the .tflite graph against the same layer table
/// (`trunk`, `landmarkBlocks`, … below) before converting, and keeps the TFLite layer names (`conv2d_3.weight`,
/// `depthwise_conv2d_3.bias`, `p_re_lu_3.weight`, …).
public final class FaceMeshNetwork {
    /// (depthwise k, conv k, prelu k, in channels, out channels, stride) of `depthwise_conv2d_k`, `conv2d_k`, `p_re_lu_k`.
    typealias BlockSpec = (Int, Int, Int, Int, Int, Int)
    static let trunk: [BlockSpec] = [(0, 1, 1, 16, 16, 1), (1, 2, 2, 16, 16, 1), (2, 3, 3, 16, 32, 2),
                                     (3, 4, 4, 32, 32, 1), (4, 5, 5, 32, 32, 1), (5, 6, 6, 32, 64, 2),
                                     (6, 7, 7, 64, 64, 1), (7, 8, 8, 64, 64, 1), (8, 9, 9, 64, 128, 2),
                                     (9, 10, 10, 128, 128, 1), (10, 11, 11, 128, 128, 1), (11, 12, 12, 128, 128, 2),
                                     (12, 13, 13, 128, 128, 1), (13, 14, 14, 128, 128, 1)]
    static let landmarkBlocks: [BlockSpec] = [(14, 15, 15, 128, 128, 2), (15, 16, 16, 128, 128, 1), (16, 17, 17, 128, 128, 1)]
    static let landmarkTail: [BlockSpec] = [(17, 19, 19, 32, 32, 1)]     // after conv2d_18 + p_re_lu_18 (128 → 32)
    static let flagBlocks: [BlockSpec] = [(22, 27, 25, 128, 128, 2)]
    static let flagTail: [BlockSpec] = [(23, 29, 27, 32, 32, 1)]         // after conv2d_28 + p_re_lu_26 (128 → 32)

    let stem: FaceMeshConvolution, stemSlopes: Tensor
    let trunkBlocks: [FaceMeshBlock]
    let landmarkHead: FaceMeshHead, flagHead: FaceMeshHead

    /// Loads the converted weights (`face_landmark.safetensors`); throws `SafetensorsError` for an unreadable file or
    /// a missing tensor, `FaceDetectorError` for a tensor of the wrong shape.
    public init(safetensors path: String) throws {
        let file = try SafetensorsFile(path: path)
        func tensor(_ name: String, _ shape: [Int]) throws -> Tensor {
            let t = try file.tensor(name)
            guard t.shape == shape else {
                throw FaceDetectorError(description: "\(path): tensor '\(name)' has shape \(t.shape), expected \(shape)")
            }
            return t
        }
        func layer(_ kind: String, _ k: Int) -> String { k == 0 ? kind : "\(kind)_\(k)" }
        func conv(_ k: Int, _ cin: Int, _ cout: Int, kernel: Int, stride: Int, same: Bool) throws -> FaceMeshConvolution {
            let name = layer("conv2d", k)
            return FaceMeshConvolution(weight: try tensor(name + ".weight", [cout, cin, kernel, kernel]),
                                       bias: try tensor(name + ".bias", [cout]), stride: stride, same: same)
        }
        func slopes(_ k: Int, _ c: Int) throws -> Tensor { try tensor(layer("p_re_lu", k) + ".weight", [c]) }
        func blocks(_ specs: [BlockSpec]) throws -> [FaceMeshBlock] {
            try specs.map { d, c, p, cin, cout, stride in
                let dw = layer("depthwise_conv2d", d)
                return FaceMeshBlock(depthwise: FaceMeshConvolution(weight: try tensor(dw + ".weight", [cin, 1, 3, 3]),
                                                                    bias: try tensor(dw + ".bias", [cin]), stride: stride, same: true),
                                     pointwise: try conv(c, cin, cout, kernel: 1, stride: 1, same: false),
                                     slopes: try slopes(p, cout), inChannels: cin, outChannels: cout, stride: stride)
            }
        }
        stem = try conv(0, 3, 16, kernel: 3, stride: 2, same: true)
        stemSlopes = try slopes(0, 16)
        trunkBlocks = try blocks(Self.trunk)
        landmarkHead = FaceMeshHead(blocks: try blocks(Self.landmarkBlocks), squeeze: try conv(18, 128, 32, kernel: 1, stride: 1, same: false),
                                    squeezeSlopes: try slopes(18, 32), tail: try blocks(Self.landmarkTail),
                                    output: try conv(20, 32, 3 * FaceMesh.landmarkCount, kernel: 3, stride: 3, same: false))
        flagHead = FaceMeshHead(blocks: try blocks(Self.flagBlocks), squeeze: try conv(28, 128, 32, kernel: 1, stride: 1, same: false),
                                squeezeSlopes: try slopes(26, 32), tail: try blocks(Self.flagTail),
                                output: try conv(30, 32, 1, kernel: 3, stride: 3, same: false))
    }

    /// `x`: [N, 3, 192, 192] RGB in [0, 1] → (landmarks [N, 1404] as x₀, y₀, z₀, x₁, … in input pixels,
    /// face-presence logits [N]).
    public func callAsFunction(_ x: Tensor) -> (landmarks: Tensor, faceLogit: Tensor) {
        precondition(x.rank == 4 && Array(x.shape[1...]) == [3, FaceMesh.inputSize, FaceMesh.inputSize],
                     "FaceMesh input must be [N, 3, 192, 192], got \(x.shape)")
        return withoutGrad {
            var h = stem(x, slopes: stemSlopes)
            for block in trunkBlocks { h = block(h) }
            let n = x.shape[0]
            return (landmarkHead(h).reshaped([n, 3 * FaceMesh.landmarkCount]), flagHead(h).reshaped([n]))
        }
    }
}
