import ForensightTensor

/// A trainable detector whose training needs to know, per input row, who is in the image and whether it is real or
/// fake: the CLIP adapter's identity-invariant learning, ArcMargin margin and Slerp augmentation.
///
/// The self-blend recipe calls `setTrainingBatch` just before each `trainingLogits` call, then takes the detector's
/// own terms with `takeAuxiliaryLoss()`. Such a detector weighs its terms itself (from its card), so the recipe adds
/// them as they are; `--branch-consistency-weight` does not apply to it.
public protocol IdentityAwareDetector: AuxiliaryLossDetector {
    /// The next training batch's rows: each one's identity number (identities seen in the training set numbered from
    /// 0; nil when unknown, left out of identity terms) and label (0 real, 1 fake). A self-blend keeps its source's
    /// identity. Used by the next `trainingLogits` call only.
    func setTrainingBatch(identities: [Int?], labels: [Float])
}

/// The CLIP adapter detector's switchable parts and identity-loss weight, as its model card carries them
/// (`adapter` in the card JSON), so that a saved model reloads with the same parts.
public struct AdapterSpec: Codable, Sendable, Equatable {
    /// Part names switched on (`CLIPAdapterParts` names: norms, freq, boundary, identity, arcmargin, slerp).
    public var parts: [String]
    /// λ, the weight of the identity discriminator's cross-entropy in the training loss.
    public var identityWeight: Float

    public init(parts: [String], identityWeight: Float) { (self.parts, self.identityWeight) = (parts, identityWeight) }

    enum CodingKeys: String, CodingKey { case parts, identityWeight = "identity_weight" }
}
