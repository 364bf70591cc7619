import ForensightTensor
import ForensightNN

/// Flattens [N, C, H, W] in (W, H, C) order, as the MTCNN dense layers were trained
/// (facenet-pytorch: `x.permute(0, 3, 2, 1).reshape(N, -1)`).
func flattenWHC(_ x: Tensor) -> Tensor { x.permuted([0, 3, 2, 1]).flattened(from: 1) }

/// Per-channel PReLU layer (`preluN.weight`: one slope per channel or feature).
public final class PReLU: Module {
    public let weight: Tensor
    public init(_ channels: Int) { weight = Tensor.full([channels], 0.25, requiresGrad: true) }
    public func callAsFunction(_ x: Tensor) -> Tensor { x.prelu(weight) }

    /// prelu(conv(x)), in one pass over the output when nothing records gradients.
    public func after(_ conv: Conv2d, _ x: Tensor) -> Tensor {
        let recording = GradMode.isEnabled && (x.requiresGrad || conv.weight.requiresGrad || weight.requiresGrad)
        guard !recording else { return self(conv(x)) }
        return Tensor.conv2d(x, weight: conv.weight, bias: conv.bias, stride: conv.stride, padding: conv.resolvedPadding(for: x),
                             dilation: conv.dilation, groups: conv.groups, epilogue: ChannelEpilogue(preluSlopes: weight.scalars))
    }
}

/// MTCNN proposal network (Zhang et al., 2016, https://arxiv.org/abs/1604.02878): fully convolutional; every output
/// cell scores the 12×12 window at (2x, 2y) of its input.
public final class PNet: Module {
    public let conv1 = Conv2d(3, 10, kernel: 3), prelu1 = PReLU(10)
    public let conv2 = Conv2d(10, 16, kernel: 3), prelu2 = PReLU(16)
    public let conv3 = Conv2d(16, 32, kernel: 3), prelu3 = PReLU(32)
    public let conv4_1 = Conv2d(32, 2, kernel: 1), conv4_2 = Conv2d(32, 4, kernel: 1)


    /// `x`: [N, 3, H, W] normalised → (box regression [N, 4, h, w], face probability [N, h, w]).
    public func callAsFunction(_ x: Tensor) -> (regression: Tensor, probability: Tensor) {
        var h = prelu1.after(conv1, x).maxPool2d(kernel: (2, 2), stride: (2, 2), ceilMode: true)
        h = prelu3.after(conv3, prelu2.after(conv2, h))
        let logits = conv4_1(h)
        let p = logits.softmax(axis: 1)
        let (n, hh, ww) = (p.shape[0], p.shape[2], p.shape[3])
        return (conv4_2(h), p.slice(axis: 1, 1..<2).reshaped([n, hh, ww]))
    }
}

/// MTCNN refinement network on 24×24 crops.
public final class RNet: Module {
    public let conv1 = Conv2d(3, 28, kernel: 3), prelu1 = PReLU(28)
    public let conv2 = Conv2d(28, 48, kernel: 3), prelu2 = PReLU(48)
    public let conv3 = Conv2d(48, 64, kernel: 2), prelu3 = PReLU(64)
    public let dense4 = Linear(576, 128), prelu4 = PReLU(128)
    public let dense5_1 = Linear(128, 2), dense5_2 = Linear(128, 4)


    /// `x`: [N, 3, 24, 24] → (regression [N, 4], face probability [N]).
    public func callAsFunction(_ x: Tensor) -> (regression: Tensor, probability: Tensor) {
        var h = prelu1.after(conv1, x).maxPool2d(kernel: (3, 3), stride: (2, 2), ceilMode: true)
        h = prelu2.after(conv2, h).maxPool2d(kernel: (3, 3), stride: (2, 2), ceilMode: true)
        h = prelu4(dense4(flattenWHC(prelu3.after(conv3, h))))
        let p = dense5_1(h).softmax(axis: 1)
        return (dense5_2(h), p.slice(axis: 1, 1..<2).reshaped([x.shape[0]]))
    }
}

/// MTCNN output network on 48×48 crops: box regression, five landmarks, face probability.
public final class ONet: Module {
    public let conv1 = Conv2d(3, 32, kernel: 3), prelu1 = PReLU(32)
    public let conv2 = Conv2d(32, 64, kernel: 3), prelu2 = PReLU(64)
    public let conv3 = Conv2d(64, 64, kernel: 3), prelu3 = PReLU(64)
    public let conv4 = Conv2d(64, 128, kernel: 2), prelu4 = PReLU(128)
    public let dense5 = Linear(1152, 256), prelu5 = PReLU(256)
    public let dense6_1 = Linear(256, 2), dense6_2 = Linear(256, 4), dense6_3 = Linear(256, 10)


    /// `x`: [N, 3, 48, 48] → (regression [N, 4], landmarks [N, 10] as x1…x5, y1…y5 box fractions, probability [N]).
    public func callAsFunction(_ x: Tensor) -> (regression: Tensor, landmarks: Tensor, probability: Tensor) {
        var h = prelu1.after(conv1, x).maxPool2d(kernel: (3, 3), stride: (2, 2), ceilMode: true)
        h = prelu2.after(conv2, h).maxPool2d(kernel: (3, 3), stride: (2, 2), ceilMode: true)
        h = prelu3.after(conv3, h).maxPool2d(kernel: (2, 2), stride: (2, 2), ceilMode: true)
        h = prelu5(dense5(flattenWHC(prelu4.after(conv4, h))))
        let p = dense6_1(h).softmax(axis: 1)
        return (dense6_2(h), dense6_3(h), p.slice(axis: 1, 1..<2).reshaped([x.shape[0]]))
    }
}
