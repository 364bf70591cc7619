import Foundation
import ForensightTensor
import ForensightNN
import ForensightMedia

/// A face-crop detector that `forensight train` can fit on real faces and their fakes (`SelfBlendTrainer`): one logit
/// per crop from a network with trainable parameters. The trainer needs nothing else of the architecture, so a new
/// trainable detector is its file (conforming to this protocol as well as `Detector`) plus its registry line, and
/// `train --architecture NAME` takes it.
public protocol TrainableDetector: Detector {
    /// The network whose parameters train and whose state dict is checkpointed.
    var module: Module { get }
    /// The network input for face crops, as the card prescribes (size, normalisation): [N, 3, S, S].
    func inputTensor(_ faces: [RGBImage]) -> Tensor
    /// One logit per input image, [N, 1], on the autograd tape (training mode honoured: batch statistics, dropout).
    func trainingLogits(_ input: Tensor) -> Tensor
    /// Puts the network in training mode for one epoch: the first `frozenBlocks` stages (as the architecture counts
    /// them; 0 trains everything) keep their weights and statistics, and dropout draws from `dropoutSeed`, so a
    /// resumed run draws the same masks.
    func beginTrainingEpoch(frozenBlocks: Int, dropoutSeed: UInt64)
    /// Loads pretrained starting weights for everything but the head, which keeps its fresh initialisation. Throws
    /// when `weights` belong to another network (a missing, unexpected or mis-shaped tensor outside the head).
    func loadPretrained(_ weights: [String: Tensor]) throws
    /// Makes the network take `side` × `side` inputs (the recipe's input size), or throws when it cannot. The default,
    /// for fully convolutional networks, only sets the card's `inputSize`.
    func setInputSize(_ side: Int) throws
    /// The file in the weights folder (`ModelLocations.weightsDirectory`) that setup converts as this architecture's
    /// default starting point, or nil when it trains from its own initialisation.
    var pretrainedWeightsName: String? { get }
}

extension TrainableDetector {
    public func setInputSize(_ side: Int) throws { card.inputSize = side }
}

extension DetectorRegistry {
    /// Every registered architecture whose fresh detector is a `TrainableDetector`, sorted.
    public static var trainableArchitectures: [String] {
        architectures.filter { architecture in
            // A CLIP variant cannot be built without its encoder's sizes (`train --clip` gives them).
            if clipArchitectures.contains(architecture) { return true }
            var card = DetectorCard(id: "probe", architecture: architecture)
            card.input = nil
            return (try? entry(for: architecture)?.make(card)) is (any TrainableDetector)
        }
    }

    /// A fresh trainable detector for `card`, or a one-line error naming the architectures that can be trained.
    public static func makeTrainable(card: DetectorCard) throws -> any TrainableDetector {
        guard entry(for: card.architecture) != nil else { throw unknown(card.architecture, path: nil) }
        guard let detector = try make(card: card) as? any TrainableDetector else {
            throw DetectorError("\(card.architecture) cannot be trained by `forensight train` (trainable: \(trainableArchitectures.joined(separator: ", ")))")
        }
        return detector
    }
}
