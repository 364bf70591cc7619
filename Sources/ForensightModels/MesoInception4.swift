import ForensightTensor
import ForensightNN

/// What a MesoNet detector needs of its network (`Meso4`, `MesoInception4`): one logit per 0…1 face crop, the 16
/// penultimate classifier features, the input side the classifier was sized for, and its two dropouts (reseeded
/// each training epoch).
public protocol MesoNetwork: Module {
    /// The input side the classifier was sized for.
    var inputSize: Int { get }
    /// The two classifier dropouts, in forward order.
    var dropouts: [Dropout] { get }
    /// The 16 classifier features before the last layer: [N, 16].
    func features(_ x: Tensor) -> Tensor
    /// One logit per image: [N, 1].
    func callAsFunction(_ x: Tensor) -> Tensor
}

extension Meso4: MesoNetwork {
    public var dropouts: [Dropout] { [dropout1, dropout2] }
}

/// One Inception-style block of MesoInception-4: four branches on the same input, concatenated along channels in
/// branch order — a 1 × 1 convolution (`a` channels); 1 × 1 then 3 × 3 (`b`); 1 × 1 then 3 × 3 dilated 2 (`c`);
/// 1 × 1 then 3 × 3 dilated 3 (`d`). Every convolution has a bias, padding "same" and a ReLU, as in the authors'
/// Keras `InceptionLayer`. Output: `a + b + c + d` channels at the input's size.
public final class MesoInceptionBlock: Module {
    public let branch1: Conv2d
    public let branch2Reduce: Conv2d, branch2: Conv2d
    public let branch3Reduce: Conv2d, branch3: Conv2d
    public let branch4Reduce: Conv2d, branch4: Conv2d

    public init(_ inChannels: Int, a: Int, b: Int, c: Int, d: Int) {
        branch1 = Conv2d(inChannels, a, kernel: (1, 1), padding: .same)
        branch2Reduce = Conv2d(inChannels, b, kernel: (1, 1), padding: .same)
        branch2 = Conv2d(b, b, kernel: (3, 3), padding: .same)
        branch3Reduce = Conv2d(inChannels, c, kernel: (1, 1), padding: .same)
        branch3 = Conv2d(c, c, kernel: (3, 3), padding: .same, dilation: (2, 2))
        branch4Reduce = Conv2d(inChannels, d, kernel: (1, 1), padding: .same)
        branch4 = Conv2d(d, d, kernel: (3, 3), padding: .same, dilation: (3, 3))
    }

    /// The convolutions in the order the authors' code creates them (Keras numbers its layers in that order, which
    /// the HDF5 importer relies on): branch 1, then each branch's 1 × 1 before its 3 × 3.
    public var convolutionsInKerasOrder: [Conv2d] {
        [branch1, branch2Reduce, branch2, branch3Reduce, branch3, branch4Reduce, branch4]
    }

    /// The output channels.
    public var outChannels: Int { [branch1, branch2, branch3, branch4].reduce(0) { $0 + $1.weight.shape[0] } }

    /// `x`: [N, C, H, W] → [N, a + b + c + d, H, W].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        .concatenate([
            branch1(x).relu(),
            branch2(branch2Reduce(x).relu()).relu(),
            branch3(branch3Reduce(x).relu()).relu(),
            branch4(branch4Reduce(x).relu()).relu(),
        ], axis: 1)
    }
}

/// MesoInception-4 (Afchar, Nozick, Yamagishi & Echizen, WIFS 2018): Meso-4 with its first two convolutions replaced
/// by Inception-style blocks of dilated 3 × 3 convolutions (`MesoInceptionBlock`), about 28.6 k parameters.
///
/// Layer order and BatchNorm placement follow the authors' Keras code: block (1, 4, 4, 2) → BatchNorm → max pool 2;
/// block (2, 4, 4, 2) → BatchNorm → max pool 2; then two Meso-4 stages, convolution 5 × 5 (16) → ReLU → BatchNorm →
/// max pool (2, then 4). The BatchNorm follows the concatenation (one over 11 channels, one over 12), not each
/// branch. The classifier is Meso-4's: dropout 0.5 → linear (16 · (side/32)² → 16) → leaky ReLU 0.1 → dropout 0.5 →
/// linear (16 → 1). Features are flattened channel-first; BatchNorm ε is Keras's 1e-3.
public final class MesoInception4: Module, MesoNetwork {
    public let block1: MesoInceptionBlock, bn1: BatchNorm2d
    public let block2: MesoInceptionBlock, bn2: BatchNorm2d
    public let conv3: Conv2d, bn3: BatchNorm2d
    public let conv4: Conv2d, bn4: BatchNorm2d
    public let dropout1: Dropout, fc1: Linear
    public let dropout2: Dropout, fc2: Linear
    /// The input side the classifier was sized for (its first linear layer takes 16 · (side / 32)² features).
    public let inputSize: Int

    public init(inputSize: Int = 256) {
        self.inputSize = inputSize
        block1 = MesoInceptionBlock(3, a: 1, b: 4, c: 4, d: 2)
        bn1 = BatchNorm2d(11, eps: 1e-3, momentum: 0.01)
        block2 = MesoInceptionBlock(11, a: 2, b: 4, c: 4, d: 2)
        bn2 = BatchNorm2d(12, eps: 1e-3, momentum: 0.01)
        (conv3, bn3) = (Conv2d(12, 16, kernel: (5, 5), padding: .same), BatchNorm2d(16, eps: 1e-3, momentum: 0.01))
        (conv4, bn4) = (Conv2d(16, 16, kernel: (5, 5), padding: .same), BatchNorm2d(16, eps: 1e-3, momentum: 0.01))
        let side = inputSize / 32
        (dropout1, fc1) = (Dropout(0.5), Linear(16 * side * side, 16))
        (dropout2, fc2) = (Dropout(0.5, seed: 0xD21), Linear(16, 1))
    }

    public var dropouts: [Dropout] { [dropout1, dropout2] }

    /// The 16-channel feature map after the fourth stage: [N, 16, side/32, side/32].
    public func featureMap(_ x: Tensor) -> Tensor {
        var h = bn1(block1(x)).maxPool2d(kernel: (2, 2))
        h = bn2(block2(h)).maxPool2d(kernel: (2, 2))
        h = bn3(conv3(h).relu()).maxPool2d(kernel: (2, 2))
        return bn4(conv4(h).relu()).maxPool2d(kernel: (4, 4))
    }

    /// The 16 classifier features before the last layer (penultimate features): [N, 16].
    public func features(_ x: Tensor) -> Tensor {
        fc1(dropout1(featureMap(x).flattened(from: 1))).prelu(Tensor([Meso4.leakySlope], shape: [1]))
    }

    /// One logit per image: [N, 1].
    public func callAsFunction(_ x: Tensor) -> Tensor { fc2(dropout2(features(x))) }
}
