import ForensightTensor
import ForensightNN

/// The mouth-motion detector's classifier: a small MLP over the window features of `MouthMotionFeatures`
/// (standardised by the training set's mean and spread, stored with the weights), about 5 k parameters.
///
/// features → (x − mean) / std → linear (F → hidden) → ReLU → dropout → linear (hidden → hidden/2) → ReLU → linear
/// (→ 1 logit). Small on purpose: it learns from a few hundred real windows and their simulated lip-sync twins.
public final class MouthMotionNet: Module {
    /// Per-feature mean and standard deviation of the training windows (buffers, not trained).
    public let featureMean: Tensor, featureStd: Tensor
    public let fc1: Linear, dropout: Dropout, fc2: Linear, fc3: Linear
    /// Number of input features.
    public let inputFeatures: Int

    public init(features: Int, hidden: Int = 64) {
        inputFeatures = features
        featureMean = .zeros([features])
        featureStd = .ones([features])
        (fc1, dropout) = (Linear(features, hidden), Dropout(0.1, seed: 0x11F5))
        (fc2, fc3) = (Linear(hidden, hidden / 2), Linear(hidden / 2, 1))
    }

    /// Sets the standardisation from training features ([N, F]); a constant feature keeps a spread of 1.
    public func setStandardisation(mean: [Float], std: [Float]) {
        precondition(mean.count == inputFeatures && std.count == inputFeatures, "standardisation needs \(inputFeatures) values")
        for i in 0..<inputFeatures {
            featureMean.data[i] = mean[i]
            featureStd.data[i] = std[i] > 1e-6 && std[i].isFinite ? std[i] : 1
        }
        markStateChanged()
    }

    /// The penultimate features: [N, hidden/2].
    public func features(_ x: Tensor) -> Tensor {
        let z = (x - featureMean.reshaped([1, inputFeatures])) / featureStd.reshaped([1, inputFeatures])
        return fc2(dropout(fc1(z).relu())).relu()
    }

    /// One logit per window: [N, 1] for raw features [N, F].
    public func callAsFunction(_ x: Tensor) -> Tensor { fc3(features(x)) }
}
