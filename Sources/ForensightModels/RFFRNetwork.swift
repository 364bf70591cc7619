import ForensightTensor
import ForensightNN

/// The residual branch of RFFR: four 3×3 stride-2 convolutions (16, 32, 64, 128 channels), each followed by BatchNorm
/// and ReLU, then global average pooling: [N, 3, S, S] amplified residual → [N, 128].
public final class ResidualBranch: Module {
    public let convs: [Conv2d]
    public let norms: [BatchNorm2d]

    /// Pooled features per residual.
    public static let featureCount = 128

    override public init() {
        let widths = [3, 16, 32, 64, Self.featureCount]
        convs = (1..<widths.count).map { Conv2d(widths[$0 - 1], widths[$0], kernel: 3, stride: 2, padding: 1, bias: false) }
        norms = widths.dropFirst().map { BatchNorm2d($0, eps: 1e-3, momentum: 0.01) }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for (conv, norm) in zip(convs, norms) { h = norm(conv(h)).relu() }
        return h.adaptiveAvgPool2d((1, 1)).flattened(from: 1)
    }
}

/// The RFFR classifier (Shi et al., real-face foundation representation learning): a crop branch (EfficientNet-Lite)
/// over the face crop and a residual branch (`ResidualBranch`) over the inpainter's amplified residual
/// (`BlockInpainter.amplifiedResidual`), their pooled features concatenated (fused) before one logit.
///
/// The frozen inpainter is part of the network, so its weights are saved and loaded with the classifier's
/// (`inpainter.*`); the crop branch keeps the EfficientNet-Lite keys under `crop.` (`crop._conv_stem.weight`, …).
/// The input is [N, 6, S, S]: the normalised crop (channels 0–2) and the residual resized to S (channels 3–5), as
/// `RFFRNetwork.input` makes it.
public final class RFFRNetwork: Module {
    public let inpainter: BlockInpainter
    public let crop: EfficientNetLite
    public let residual: ResidualBranch
    public let dropout: Dropout
    public let head: Linear

    /// - Parameters:
    ///   - backbone: the crop branch's configuration (its classifier `_fc` is built but unused: `head` decides).
    public init(inpainter: BlockInpainter, backbone: EfficientNetLiteConfig = .lite0) {
        var config = backbone
        config.classes = 1
        self.inpainter = inpainter
        crop = EfficientNetLite(config)
        residual = ResidualBranch()
        dropout = Dropout(config.dropout)
        head = Linear(config.headChannels + ResidualBranch.featureCount, 1)
        crop.fc.freeze()
        inpainter.eval()
        inpainter.freeze()
    }

    /// Fused features [N, headChannels + 128] of a prepared input [N, 6, S, S].
    public func features(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == 6, "rffr input \(x.shape): [N, 6, S, S]")
        let image = x.slice(axis: 1, 0..<3), cue = x.slice(axis: 1, 3..<6)
        return Tensor.concatenate([crop.features(image), residual(cue)], axis: 1)
    }

    /// One logit per input row, [N, 1].
    public func callAsFunction(_ x: Tensor) -> Tensor { head(dropout(features(x))) }

    /// Training mode for every part but the inpainter, which stays frozen in evaluation mode.
    public func trainClassifier() {
        train()
        inpainter.eval()
        inpainter.freeze()
    }

    /// The network input: `normalized` crops [N, 3, S, S] (as the card normalises them) beside the amplified residual
    /// of `working` [N, 3, W, W] (the same crops at the inpainter's working size, in −1…1), resized to S bilinearly.
    public func input(normalized: Tensor, working: Tensor) -> Tensor {
        let s = normalized.shape[2]
        var cue = inpainter.amplifiedResidual(working)
        if cue.shape[2] != s { cue = withoutGrad { cue.upsampleBilinear((s, s)) } }
        return Tensor.concatenate([normalized, cue], axis: 1)
    }
}
