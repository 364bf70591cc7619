import Foundation
import ForensightTensor
import ForensightNN

/// A trainable detector whose network is a frozen part followed by a trainable head, so that the frozen part's
/// outputs for a training image can be computed once, stored, and read back for every epoch
/// (`forensight train --feature-cache`): ForgeLens (`ForgeLensDetector`) on its frozen EfficientNet-Lite0 maps.
///
/// The two halves must compose to the detector's own training forward pass: for any input x,
/// `trainingLogits(fromFrozen: frozenFeatures(x))` equals `trainingLogits(x)` (one code path, not a copy). A detector
/// whose "frozen" part still has something that trains (the CLIP adapter with its norm tuning on) does not conform.
public protocol FrozenBackboneDetector: TrainableDetector {
    /// The frozen part's outputs for a network input [N, 3, S, S] (`inputTensor`), off the autograd tape: one tensor
    /// per output (e.g. per selected layer), each with N as its first axis.
    func frozenFeatures(_ input: Tensor) -> [Tensor]
    /// One logit per row of `features` (outputs of `frozenFeatures`, possibly rounded through storage), on the tape,
    /// training mode honoured: [N, 1].
    func trainingLogits(fromFrozen features: [Tensor]) -> Tensor
    /// The frozen part's parameters and statistics: its state dict identifies the features it makes
    /// (`frozenWeightsSHA256`).
    var frozenModule: Module { get }
    /// What the frozen part is and which of its outputs are taken, for the feature cache's manifest and errors
    /// (e.g. "efficientnet-lite0 blocks 7,10,14").
    var frozenDescription: String { get }
}

extension FrozenBackboneDetector {
    /// SHA-256 of the frozen part's state dict (each tensor's name, shape and f32 values in key order): two
    /// detectors with the same digest make the same features for the same input.
    public var frozenWeightsSHA256: String {
        var bytes: [UInt8] = []
        for (name, tensor) in frozenModule.stateDict().sorted(by: { $0.0 < $1.0 }) {
            bytes += Array(name.utf8) + [0]
            for d in tensor.shape { withUnsafeBytes(of: UInt64(d).littleEndian) { bytes += $0 } }
            // Little-endian f32 (every platform Forensight builds for is little-endian).
            bytes.append(contentsOf: UnsafeRawBufferPointer(start: tensor.data, count: tensor.count * MemoryLayout<Float>.size))
        }
        return FileDigest.sha256Hex(bytes)
    }
}
