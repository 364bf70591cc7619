import ForensightTensor
import ForensightNN

/// Meso-4 (Afchar, Nozick, Yamagishi & Echizen, "MesoNet: a Compact Facial Video Forgery Detection Network", WIFS
/// 2018): four convolution stages at the mesoscopic level of a 256 × 256 face, then a two-layer classifier. About
/// 28 k parameters, so it trains from scratch on a CPU.
///
/// Each stage is convolution (padding "same") → ReLU → BatchNorm → max pooling, the order of the authors' Keras code;
/// the pools are 2, 2, 2 and 4, so a 256 px input leaves a 16 × 8 × 8 map. The classifier is dropout 0.5 → linear
/// (1,024 → 16) → leaky ReLU (slope 0.1) → dropout 0.5 → linear (16 → 1). Features are flattened channel-first (our
/// NCHW order; the Keras weights' channel-last order is a permutation an importer applies). BatchNorm ε is Keras's
/// 1e-3.
public final class Meso4: Module {
    public let conv1: Conv2d, bn1: BatchNorm2d
    public let conv2: Conv2d, bn2: BatchNorm2d
    public let conv3: Conv2d, bn3: BatchNorm2d
    public let conv4: Conv2d, bn4: BatchNorm2d
    public let dropout1: Dropout, fc1: Linear
    public let dropout2: Dropout, fc2: Linear
    /// The input side the classifier was sized for (its first linear layer takes 16 · (side / 32)² features).
    public let inputSize: Int
    /// Leaky ReLU slope of the classifier.
    public static let leakySlope: Float = 0.1

    public init(inputSize: Int = 256) {
        self.inputSize = inputSize
        (conv1, bn1) = (Conv2d(3, 8, kernel: (3, 3), padding: .same), BatchNorm2d(8, eps: 1e-3, momentum: 0.01))
        (conv2, bn2) = (Conv2d(8, 8, kernel: (5, 5), padding: .same), BatchNorm2d(8, eps: 1e-3, momentum: 0.01))
        (conv3, bn3) = (Conv2d(8, 16, kernel: (5, 5), padding: .same), BatchNorm2d(16, eps: 1e-3, momentum: 0.01))
        (conv4, bn4) = (Conv2d(16, 16, kernel: (5, 5), padding: .same), BatchNorm2d(16, eps: 1e-3, momentum: 0.01))
        let side = inputSize / 32
        (dropout1, fc1) = (Dropout(0.5), Linear(16 * side * side, 16))
        (dropout2, fc2) = (Dropout(0.5, seed: 0xD21), Linear(16, 1))
    }

    /// The 16-channel feature map after the fourth stage: [N, 16, side/32, side/32].
    public func featureMap(_ x: Tensor) -> Tensor {
        var h = bn1(conv1(x).relu()).maxPool2d(kernel: (2, 2))
        h = bn2(conv2(h).relu()).maxPool2d(kernel: (2, 2))
        h = bn3(conv3(h).relu()).maxPool2d(kernel: (2, 2))
        return bn4(conv4(h).relu()).maxPool2d(kernel: (4, 4))
    }

    /// The 16 classifier features before the last layer (penultimate features): [N, 16].
    public func features(_ x: Tensor) -> Tensor {
        fc1(dropout1(featureMap(x).flattened(from: 1))).prelu(Tensor([Self.leakySlope], shape: [1]))
    }

    /// One logit per image: [N, 1].
    public func callAsFunction(_ x: Tensor) -> Tensor { fc2(dropout2(features(x))) }
}
